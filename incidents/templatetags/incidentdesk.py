from django import template

from incidents.markdown import render_markdown
from incidents.selectors import format_duration

register = template.Library()


@register.filter
def duration(value):
    """``2 h 05 min``: a timedelta the way people read incident durations."""
    return format_duration(value)


@register.filter
def safe_markdown(value):
    """Runbook Markdown rendered with no raw HTML and only http/https links."""
    return render_markdown(value)
