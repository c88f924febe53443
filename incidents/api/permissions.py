"""Who may call what: the groups' model permissions, the same ones the admin and the pages use
(kept in step by ``incidents.access``, ``postmortems.access`` and ``oncall.permissions``)."""

from rest_framework.permissions import BasePermission

# Asking which methods and fields an endpoint takes reveals only what the schema says.
DESCRIBE = ("metadata", "options")


class ActionPermissions(BasePermission):
    """Each view lists the permissions each of its actions needs in ``required_permissions``
    (keyed by viewset action, or by HTTP method in lower case for plain API views). An action
    the view does not list is refused: nothing is open by accident."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        method = request.method.lower()
        routed = getattr(view, "action_map", None)
        if routed is None and method == "head":
            method = "get"  # a plain view answers HEAD with its GET
        if (
            method not in view.http_method_names
            or (routed is not None and method not in routed)
            or (routed is None and not hasattr(view, method))
        ):
            return True  # answered 405 Method Not Allowed next, which is the truth
        key = getattr(view, "action", None) or method
        if key in DESCRIBE:
            return True
        required = getattr(view, "required_permissions", {}).get(key)
        if required is None:
            return False
        return user.has_perms(required)
