"""Template filters for incident figures: ``{% load incident_format %}``."""

from datetime import timedelta
from decimal import Decimal

from django import template

from incidents.selectors import format_duration, format_ratio

register = template.Library()


@register.filter
def duration(value: timedelta | None) -> str:
    """``2 h 05 min``; "—" for no value (see ``incidents.selectors.format_duration``)."""
    return format_duration(value)


@register.filter
def percent(value: Decimal | float | None) -> str:
    """A ratio between 0 and 1 as ``87.5 %``; "—" for no value."""
    return format_ratio(value)


@register.filter
def days(value: timedelta | None) -> str:
    """A duration in whole and tenth days, ``12.5 d``; "—" for no value."""
    if value is None:
        return "—"
    return f"{value.total_seconds() / 86400:.1f} d"
