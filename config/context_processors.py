"""What every page's header shows: the open incidents count and "my open action items"."""

from django.utils import timezone
from django.utils.functional import SimpleLazyObject

from incidents.access import is_engineer
from incidents.models import Incident
from incidents.models.incident import OPEN_STATUSES
from postmortems.models import ActionItem
from postmortems.models.action_item import OPEN_ITEM_STATUSES


def header(request) -> dict:
    """The viewer's time zone name; for engineers and managers two counts, read only when the
    page shows them (the live timeline fragment, polled every 3 seconds, does not)."""
    user = getattr(request, "user", None)
    context = {"TIME_ZONE_NAME": timezone.get_current_timezone_name()}
    if user is None or not user.is_authenticated or not is_engineer(user):
        return context
    return {
        **context,
        "is_engineer": True,
        "header_open_incidents": SimpleLazyObject(
            lambda: Incident.objects.filter(status__in=OPEN_STATUSES).count()
        ),
        "header_my_action_items": SimpleLazyObject(
            lambda: ActionItem.objects.filter(owner=user, status__in=OPEN_ITEM_STATUSES).count()
        ),
    }
