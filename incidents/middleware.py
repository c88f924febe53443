import zoneinfo

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
