"""Who may do what: the three groups and the checks views, admin and the API share."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

MANAGERS = "Managers"
ENGINEERS = "Engineers"
FINANCE = "Finance"
ALL_GROUPS = (MANAGERS, ENGINEERS, FINANCE)


def _group_names(user) -> frozenset[str]:
    # Cached on the user object so one request asks the database once.
    cached = getattr(user, "_incidentdesk_groups", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._incidentdesk_groups = cached
    return cached


def in_group(user: AbstractBaseUser | AnonymousUser, name: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return name in _group_names(user)


def is_manager(user) -> bool:
    return bool(user.is_authenticated and (user.is_superuser or in_group(user, MANAGERS)))


def is_engineer(user) -> bool:
    return in_group(user, ENGINEERS) or is_manager(user)


def is_finance(user) -> bool:
    return in_group(user, FINANCE) or is_manager(user)


# --- Groups and their permissions, kept in step by post_migrate handlers ----------------------


def grant_permissions(group_name: str, perms: dict[str, list[str] | None]) -> None:
    """Add permissions to a group, creating it if needed. Never removes anything a manager
    granted by hand. ``perms`` maps an app label to codenames, or None for all of its models.
    """
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.get_or_create(name=group_name)
    wanted = Permission.objects.none()
    for app_label, codenames in perms.items():
        query = Permission.objects.filter(content_type__app_label=app_label)
        if codenames is not None:
            query = query.filter(codename__in=codenames)
        wanted = wanted | query
    group.permissions.add(*wanted)


def sync_groups_for_incidents(sender=None, using="default", **kwargs) -> None:
    from django.contrib.auth.models import Group

    for name in ALL_GROUPS:
        Group.objects.using(using).get_or_create(name=name)
    grant_permissions(
        MANAGERS,
        {
            "incidents": None,
            "django_celery_beat": None,
            "auth": ["add_user", "change_user", "view_user", "view_group"],
        },
    )
    grant_permissions(
        ENGINEERS,
        {
            "incidents": [
                "view_incident",
                "add_incident",
                "change_incident",
                "view_timelineevent",
                "add_statusupdate",
                "view_statusupdate",
                "add_roleassignment",
                "view_roleassignment",
                "view_severity",
                "view_service",
                "view_team",
            ]
        },
    )


# --- Page guards ------------------------------------------------------------------------------


def engineer_required(view):
    """Engineers' pages: signed-in Engineers or Managers; Finance and others get 403."""
    from functools import wraps

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not is_engineer(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded
