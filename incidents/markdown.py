"""Safe Markdown for runbook steps: no raw HTML, links only to http and https."""

import markdown as markdown_lib
import nh3
from django.utils.safestring import SafeString, mark_safe

ALLOWED_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "code",
    "pre",
    "ul",
    "ol",
    "li",
    "a",
    "blockquote",
    "h3",
    "h4",
    "hr",
}
SAFE_SCHEMES = ("http://", "https://")


def _only_http_links(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        return value if value.lower().startswith(SAFE_SCHEMES) else None
    return value


def render_markdown(text: str) -> SafeString:
    """Markdown to HTML that is safe to put on a page.

    Raw HTML in the source is not interpreted (it shows as text), and the result is cleaned
    again with an allow-list: only simple formatting tags survive, and a link keeps its target
    only when it is an absolute http or https URL (``javascript:``, ``data:`` and relative
    links lose it). Links open with ``rel="noopener noreferrer nofollow"``.
    """
    converter = markdown_lib.Markdown(extensions=["fenced_code", "sane_lists"])
    converter.preprocessors.deregister("html_block")
    converter.inlinePatterns.deregister("html")
    html = converter.convert(text or "")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        attribute_filter=_only_http_links,
    )
    return mark_safe(cleaned)  # noqa: S308 - cleaned by nh3 with an allow-list just above
