from django import template
from django.forms import CheckboxSelectMultiple, RadioSelect
from django.forms.utils import pretty_name

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


@register.filter
def error_label(form, name: str) -> str:
    """What an error summary calls a field: its label, as the form shows it."""
    if name in form.fields:
        return form[name].label
    return pretty_name(name)


@register.simple_tag
def error_anchor(form, name: str, prefix: str = "") -> str:
    """The id an error summary links to: the field's box (a group of radios or checkboxes:
    its first), under ``prefix`` when the page draws the form under another one."""
    if prefix:
        return f"id_{prefix}{name}"
    if name not in form.fields:
        return f"id_{name}"
    bound = form[name]
    anchor = bound.auto_id or f"id_{name}"
    if isinstance(bound.field.widget, RadioSelect | CheckboxSelectMultiple):
        anchor += "_0"
    return anchor
