from django import template

from incidents.selectors import format_duration

register = template.Library()


@register.filter
def duration(value):
    """``2 h 05 min``: a timedelta the way people read incident durations."""
    return format_duration(value)
