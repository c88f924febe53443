import zoneinfo

from django.http import HttpResponseBadRequest
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


class AdminQueryNulMiddleware:
    """The admin's own filters, search and autocomplete pass what they are given to the
    database, and PostgreSQL refuses a NUL character in text (a 500). No name, status or search
    term holds one, so an admin address whose query has one is a 400 naming the parameter."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/admin/"):
            for key, values in request.GET.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    name = key.replace("\x00", "")
                    return HttpResponseBadRequest(
                        f"The query parameter “{name}” holds a NUL character, which no value "
                        "can contain.",
                        content_type="text/plain; charset=utf-8",
                    )
        return self.get_response(request)
