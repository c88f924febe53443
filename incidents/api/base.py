"""What every API view shares."""

import json
from datetime import UTC

from django.http import HttpResponse
from django.utils import timezone
from rest_framework import viewsets
from rest_framework.exceptions import NotFound
from rest_framework.views import APIView

NO_SUCH_THING = "Not found."


class UTCMixin:
    """The API speaks UTC: timestamps are written as ISO 8601 in UTC whatever the signed-in
    person's own zone (the pages use that), and a timestamp given without an offset (in a
    body or a filter) is read as UTC.

    Rate limits are counted before permissions are checked (DRF checks them after): a caller
    without credentials, or with a token that may not do this, is refused with 401/403 and
    still counted, so that it reaches 429 at its limit like everyone else."""

    _throttles_counted = False

    def initial(self, request, *args, **kwargs):
        timezone.activate(UTC)
        self._throttles_counted = False
        super().initial(request, *args, **kwargs)
        # No database stores a NUL character, so nothing is found by one in the path (and
        # PostgreSQL would refuse the query outright).
        if any("\x00" in str(value) for value in kwargs.values()):
            raise NotFound(NO_SUCH_THING)

    def check_permissions(self, request):
        self.check_throttles(request)
        super().check_permissions(request)

    def check_throttles(self, request):
        if self._throttles_counted:
            return  # once per request: already counted before the permission check
        self._throttles_counted = True
        super().check_throttles(request)


class ApiView(UTCMixin, APIView):
    pass


class ApiViewSet(UTCMixin, viewsets.GenericViewSet):
    pass


def json_page(paginator, bodies: list[str]) -> HttpResponse:
    """A cursor page (``{"next", "previous", "results"}``, as the paginator's own response
    writes it) of rows that are already JSON text."""
    links = (json.dumps(paginator.get_next_link()), json.dumps(paginator.get_previous_link()))
    text = '{"next":' + links[0] + ',"previous":' + links[1] + ',"results":['
    text += ",".join(bodies) + "]}"
    return HttpResponse(text, content_type="application/json")
