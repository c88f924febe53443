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
    from urllib.parse import urlsplit

    from django.contrib.auth.views import redirect_to_login
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse
    from django.utils.html import format_html

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            if request.headers.get("HX-Request") == "true":
                # An htmx request once the session has ended: following a redirect, htmx would
                # put the login page in the fragment's place.
                page = urlsplit(request.headers.get("HX-Current-URL", ""))
                back = page.path + (f"?{page.query}" if page.query else "") or "/"
                login = redirect_to_login(back)["Location"]
                if request.method == "POST":
                    # An autosave: leaving the page would lose what was typed, so it stays.
                    return HttpResponse(
                        format_html(
                            '<span class="overdue">Not saved: you are signed out. Copy your '
                            'text, then <a href="{}" target="_blank">sign in again</a>.</span>',
                            login,
                        )
                    )
                # The live timeline's poll: the whole page goes to the login.
                return HttpResponse(status=204, headers={"HX-Redirect": login})
            return redirect_to_login(request.get_full_path())
        if not is_engineer(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return guarded


def permission_names_sql(user_id: str) -> str:
    """SQL (PostgreSQL): the ``app_label.codename`` of every permission the user whose id is
    the column ``user_id`` holds, their own and their groups', as an array. ``user_id`` is a
    column name from code, never input."""
    return f"""ARRAY(
      SELECT ct.app_label || '.' || p.codename FROM auth_permission p
      JOIN django_content_type ct ON ct.id = p.content_type_id
      WHERE p.id IN (
        SELECT up.permission_id FROM auth_user_user_permissions up WHERE up.user_id = {user_id}
        UNION
        SELECT gp.permission_id FROM auth_group_permissions gp
        JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = {user_id}))"""  # noqa: S608


def remember_permissions(user, names) -> None:
    """Give ``user`` the permissions already read for them (``permission_names_sql``), as
    ``get_all_permissions`` would have cached them: checking one then costs no query.
    Superusers hold every permission and inactive people none, as before."""
    if names is not None and user.is_active and not user.is_superuser:
        user._perm_cache = set(names)


def posted_id(request, name: str) -> int:
    """The id a form posted under ``name``; a 400 when it is missing or not a number (a
    hand-made request: the pages always post one)."""
    from django.core.exceptions import BadRequest

    value = request.POST.get(name, "")
    if not (value.isascii() and value.isdigit()):
        raise BadRequest(f"{name} must be an id.")
    return int(value)


def responders():
    """Active people who work incidents (Engineers, Managers, superusers): the only ones who
    can hold an incident role or own an action item, since only they can open those pages."""
    from django.contrib.auth import get_user_model
    from django.db.models import Exists, OuterRef, Q

    User = get_user_model()
    in_groups = User.groups.through.objects.filter(
        user_id=OuterRef("pk"), group__name__in=[ENGINEERS, MANAGERS]
    )
    return User.objects.filter(Q(is_superuser=True) | Exists(in_groups), is_active=True)
