"""A published post-mortem as Markdown, for wikis and tickets.

Only published post-mortems are exported: a draft pasted into a wiki reads as the final word,
so unpublished ones are refused (``ExportRefused``) rather than watermarked. Moments are shown in
the zone the caller passes (the reader's), and the zone is named. The output is deterministic
(no "exported at" line), so the same post-mortem always gives the same bytes.
"""

import zoneinfo

from django.core.exceptions import ValidationError

from incidents.selectors import format_duration
from incidents.services import _who
from postmortems import selectors
from postmortems.models import ActionItem, Postmortem
from postmortems.selectors import format_moment

EXPORT_NEEDS_PUBLISHED = (
    "Only published post-mortems can be exported; the one for {reference} is {status}."
)


class ExportRefused(ValidationError):
    pass


def _text(value: str) -> str:
    """Section text as written (authors may use Markdown), with line endings normalised."""
    return value.replace("\r\n", "\n").replace("\r", "\n").strip()


def _cell(value: str) -> str:
    """One table cell: pipes escaped, on one line."""
    return " ".join(value.replace("|", "\\|").split())


def _facts(postmortem: Postmortem, zone: zoneinfo.ZoneInfo) -> list[str]:
    incident = postmortem.incident
    # Published: the resolution as it was then (a reopening must not rewrite the document).
    resolved_at = postmortem.resolved_at_publishing or incident.resolved_at
    duration = resolved_at - incident.started_at if resolved_at else None
    users = f"{incident.users_affected:,}" if incident.users_affected is not None else "Unknown"
    if incident.revenue_impact is not None:
        revenue = f"{incident.revenue_impact:,.2f} {incident.revenue_currency}"
    else:
        revenue = "Unknown"
    # The runbook's timeline names who acknowledged and what action mitigated.
    who = incident.acknowledged_by
    acknowledged_by = f" by {who.get_full_name() or who.username}" if who else ""
    action = " ".join(incident.mitigation_action.split())
    mitigation = f": {action}" if action and incident.mitigated_at else ""
    data_loss = "No"
    if incident.data_loss:
        details = " ".join(incident.data_loss_details.split())
        data_loss = f"Yes: {details}" if details else "Yes"
    return [
        f"- **Reference:** {incident.reference}",
        f"- **Title:** {incident.title}",
        f"- **Severity:** {incident.severity.name} {incident.severity.label}",
        f"- **Started:** {format_moment(incident.started_at, zone)}",
        f"- **Detected:** {format_moment(incident.detected_at, zone)} "
        f"({incident.get_detection_method_display().lower()})",
        f"- **Acknowledged:** {format_moment(incident.acknowledged_at, zone)}{acknowledged_by}",
        f"- **Mitigated:** {format_moment(incident.mitigated_at, zone)}{mitigation}",
        f"- **Resolved:** {format_moment(resolved_at, zone)}",
        f"- **Duration:** {format_duration(duration)}",
        f"- **Users affected:** {users}",
        f"- **Revenue impact:** {revenue}",
        f"- **Data loss:** {data_loss}",
    ]


def _section(title: str, text: str) -> list[str]:
    return [f"## {title}", "", _text(text) or "—", ""]


def _timeline_line(moment: str, text: str) -> list[str]:
    """A list item; a note's further lines stay lines of the item (indented under it)."""
    first, *rest = [" ".join(part.split()) for part in _text(text).split("\n")] or [""]
    return [f"- {moment} — {first}", *(f"  {part}" for part in rest if part)]


def _whys(postmortem: Postmortem) -> list[str]:
    lines = ["### 5 Whys", ""]
    for why in postmortem.five_whys.all():
        lines.append(f"{why.position}. **{' '.join(why.question.split())}**")
        for answer_line in _text(why.answer).split("\n"):
            lines.append(f"   {answer_line}" if answer_line else "")
    lines.append("")
    return lines


def _item_row(number: int, item: ActionItem) -> str:
    cells = [
        str(number),
        item.title,
        item.get_kind_display(),
        item.get_priority_display(),
        _who(item.owner) if item.owner else "—",
        item.due_date.isoformat() if item.due_date else "—",
        item.get_status_display(),
        f"<{item.tracker_url}>" if item.tracker_url else "—",
    ]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def postmortem_markdown(*, postmortem: Postmortem, zone: zoneinfo.ZoneInfo) -> str:
    """The published post-mortem as Markdown: the incident's facts, the sections, the timeline
    grouped by phase in ``zone``, the 5 Whys and the action items table. Raises
    ``ExportRefused`` unless it is published. A fixed number of queries."""
    postmortem = selectors.postmortem_detail(pk=postmortem.pk)
    incident = postmortem.incident
    if not postmortem.is_published:
        raise ExportRefused(
            EXPORT_NEEDS_PUBLISHED.format(
                reference=incident.reference, status=postmortem.get_status_display().lower()
            )
        )
    reviewers = ", ".join(sorted(_who(user) for user in postmortem.reviewers.all())) or "—"
    lines = [
        f"# Post-mortem: {incident.reference} {incident.title}",
        "",
        f"Published {format_moment(postmortem.published_at, zone)}. "
        f"Owner: {_who(postmortem.owner) if postmortem.owner else '—'}. "
        f"Reviewers: {reviewers}. "
        f"Review meeting: {format_moment(postmortem.review_meeting_at, zone)}.",
        "",
        f"Times are in {zone.key}.",
        "",
        "## Incident",
        "",
        *_facts(postmortem, zone),
        "",
        *_section("Summary", postmortem.summary),
        *_section("Impact", postmortem.impact),
        "## Timeline",
        "",
    ]
    for group in selectors.postmortem_timeline(postmortem=postmortem, zone=zone):
        lines += [f"### {group.label}", ""]
        for line in group.lines:
            lines += _timeline_line(line.moment, line.text)
        lines.append("")
    lines += _section("Root cause", postmortem.root_cause)
    lines += _whys(postmortem)
    lines += _section("What went well", postmortem.what_went_well)
    lines += _section("What could be improved", postmortem.what_could_be_improved)
    if _text(postmortem.lessons_learned):
        lines += _section("Lessons learned", postmortem.lessons_learned)
    lines += ["## Action items", ""]
    items = list(postmortem.action_items.all())
    if items:
        lines += [
            "| # | Action | Kind | Priority | Owner | Due | Status | Ticket |",
            "|---|---|---|---|---|---|---|---|",
            *(_item_row(n, item) for n, item in enumerate(items, start=1)),
        ]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def markdown_filename(postmortem: Postmortem) -> str:
    return f"{postmortem.incident.reference}-postmortem.md"
