"""``when``: a moment in the reader's zone with the zone named, on every page (a template
builtin, see ``TEMPLATES`` in the settings).

Django's ``T`` format prints nothing for a wall-clock time that happens twice (the hour the
clocks go back), so two different moments would read the same. ``when`` names the zone from
the moment itself (EDT, then EST)."""

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import dateformat, timezone

register = template.Library()


@register.filter
def when(value: datetime | None, fmt: str = "Y-m-d H:i") -> str:
    """``value`` as the ``date`` filter formats it with ``fmt``, then its zone's abbreviation."""
    if not value:
        return ""
    if not isinstance(value, datetime):
        return date_filter(value, fmt)  # a date: nothing to name
    try:
        local = timezone.localtime(value) if timezone.is_aware(value) else value
    except OverflowError:  # at the edge of the calendar: shown as stored, in UTC
        local = value
    zone = local.strftime("%Z")
    text = dateformat.format(local, fmt)
    return f"{text} {zone}" if zone else text
