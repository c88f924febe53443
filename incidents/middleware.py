import zoneinfo

from django.http import QueryDict
from django.utils import timezone

from incidents.selectors import user_time_zone


class UserTimeZoneMiddleware:
    """Render times in the signed-in person's own time zone (from their profile)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(user_time_zone(user))
            except zoneinfo.ZoneInfoNotFoundError:
                timezone.deactivate()
        else:
            timezone.deactivate()
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class AdminQueryWithoutNulMiddleware:
    """The admin's own filters, search and autocomplete pass what they are given to the
    database, and PostgreSQL refuses a NUL character in text (a 500). No name, status or search
    term holds one, so in the admin's query strings it is dropped: the filter then means what
    it says without it (the project's own filters do the same)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/admin/") and any(
            "\x00" in key or any("\x00" in value for value in values)
            for key, values in request.GET.lists()
        ):
            cleaned = QueryDict(mutable=True)
            for key, values in request.GET.lists():
                cleaned.setlist(key.replace("\x00", ""), [v.replace("\x00", "") for v in values])
            cleaned._mutable = False
            request.GET = cleaned
        return self.get_response(request)
