"""The managers' metrics dashboard and the quarterly review export, in the admin.

Project-level because it combines the three apps: incident figures from
``incidents.metrics``, action items and post-mortems from ``postmortems.selectors``, on-call
burden from ``oncall.selectors``. The views are added to the admin site by
``IncidentDeskAdminSite.get_urls`` and wrapped in ``admin_view``, so only managers reach them.
They parse the pickers, call the selectors once through ``build_review`` and render; the
definitions live with the selectors and in docs/metrics.md.
"""

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.http import HttpResponse, QueryDict
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import SafeString
from django.views.decorators.http import require_safe

from config import charts
from incidents.metrics import (
    IncidentMetrics,
    Period,
    WeekFigures,
    incident_metrics,
    incidents_by_week,
    project_zone,
    severity_levels,
)
from incidents.models import Service, Team
from incidents.selectors import by_name, format_duration, format_ratio
from oncall.exports import neutralise
from oncall.selectors import OncallBurden, oncall_burden
from postmortems.selectors import (
    ActionItemMetrics,
    PublicationMetrics,
    action_item_metrics,
    postmortem_publication_metrics,
)

QUARTERS_OFFERED = 8
DASHBOARD_ROWS = 10  # repeat incidents, engineers and teams listed on the page
MAX_PERIOD_DAYS = 731  # two years of weekly charts is the most that stays readable
# Periods with room around them (the repeats look 90 days back; weeks and days are counted on
# both sides): dates far outside would overflow the calendar.
EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)
OUT_OF_RANGE = "Choose dates between 1970-01-01 and 2999-12-31."
PERIOD_TOO_LONG = "Choose a period of at most two years."
END_NOT_AFTER_START = "The end date must be after the start date."
BOTH_DATES = "Give both a start and an end date, or choose a quarter."
GOOD, BAD, NEUTRAL, NO_DATA = "good", "bad", "neutral", "none"


def quarter_choices(today: date) -> list[tuple[str, str]]:
    """The current quarter and the ones before it, newest first, as ``2026-Q1``."""
    choices = []
    period = Period.quarter_of(today)
    for _ in range(QUARTERS_OFFERED):
        label = period.quarter_label
        choices.append((label, f"{label} ({period.start:%b} - {period.last_day:%b %Y})"))
        period = Period.quarter_of(period.start - timedelta(days=1))
    return choices


def parse_quarter(value: str) -> Period:
    year, number = value.split("-Q")
    return Period.quarter(int(year), int(number))


class IdOrNameChoiceField(forms.ModelChoiceField):
    """A team or service picked by id (the select's values) or by name, as the compensation
    report, its command and the API take a team: ``?team=Payments`` in any letter case."""

    def to_python(self, value):
        if value in self.empty_values or str(value).isdigit():
            return super().to_python(value)
        if "\x00" in str(value):  # PostgreSQL cannot compare it; no name holds one
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice", params={"value": ""}
            )
        try:
            found = by_name(self.queryset, "name", str(value).strip())
        except ValidationError as error:
            raise ValidationError(error.messages[0], code="invalid_choice") from None
        if found is None:
            raise ValidationError(
                self.error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )
        return found


class MetricsForm(forms.Form):
    """The dashboard's pickers: a quarter, or custom dates (end excluded); a team and/or a
    service. Nothing chosen: the current quarter."""

    quarter = forms.ChoiceField(required=False, label="Quarter")
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False,
        label="Until (excluded)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The period runs up to, not including, this day.",
    )
    team = IdOrNameChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="All teams"
    )
    service = IdOrNameChoiceField(
        queryset=Service.objects.order_by("name"), required=False, empty_label="All services"
    )
    # The quarter the page showed selected: a different one sent means the manager picked it.
    shown_quarter = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today
        self.fields["quarter"].choices = [("", "Custom dates"), *quarter_choices(today)]

    def clean(self):
        cleaned = super().clean()
        quarter, start, end = cleaned.get("quarter"), cleaned.get("start"), cleaned.get("end")
        if self.errors:
            return cleaned
        # A quarter picked (other than the one the page showed) wins; else dates typed in both
        # boxes win: the picker always shows a quarter selected, and a manager who typed dates
        # and pressed "Show" means those dates.
        shown = self.data.get("shown_quarter")
        picked = bool(quarter) and shown is not None and quarter != shown
        self.chose_quarter = True
        if quarter and (picked or not (start and end)):
            cleaned["period"] = parse_quarter(quarter)
        elif start and end:
            if not (start >= EARLIEST and end <= LATEST):
                self.add_error("start" if start < EARLIEST else "end", OUT_OF_RANGE)
            elif end <= start:
                self.add_error("end", END_NOT_AFTER_START)
            elif (end - start).days > MAX_PERIOD_DAYS:
                self.add_error("end", PERIOD_TOO_LONG)
            else:
                cleaned["period"] = Period(start, end)
                self.chose_quarter = False
        elif start or end:
            raise forms.ValidationError(BOTH_DATES)
        else:
            cleaned["period"] = Period.quarter_of(self.today)
        return cleaned


@dataclass(frozen=True)
class Tile:
    label: str
    value: str
    detail: str
    status: str  # GOOD, BAD, NEUTRAL or NO_DATA


@dataclass(frozen=True)
class Review:
    """Everything the dashboard, the HTML review and the CSV show, computed once."""

    period: Period
    team: Team | None
    service: Service | None
    generated_at: datetime
    incidents: IncidentMetrics
    weeks: list[WeekFigures]
    action_items: ActionItemMetrics
    publication: PublicationMetrics
    burden: OncallBurden

    @property
    def scope(self) -> str:
        parts = [self.team.name if self.team else "all teams"]
        if self.service:
            parts.append(f"service {self.service.name}")
        return ", ".join(parts)

    @property
    def file_stem(self) -> str:
        stem = f"incidentdesk-review-{self.period.quarter_label or self.period.start}"
        if not self.period.quarter_label:
            stem += f"-to-{self.period.last_day}"
        for chosen in (self.team, self.service):
            if chosen is not None:
                stem += f"-{chosen.name}"
        return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)


def build_review(
    *,
    period: Period,
    team: Team | None,
    service: Service | None,
    now: datetime,
    rows: int | None = None,
) -> Review:
    """All figures for the period and scope, in a fixed number of queries. ``rows`` lists only
    that many repeat incidents (the latest), engineers and teams (the most loaded); every
    figure and count is still of all of them."""
    levels = severity_levels()
    return Review(
        period=period,
        team=team,
        service=service,
        generated_at=now,
        incidents=incident_metrics(
            period=period, team=team, service=service, now=now, levels=levels, repeat_limit=rows
        ),
        weeks=incidents_by_week(period=period, team=team, service=service, now=now, levels=levels),
        action_items=action_item_metrics(period=period, now=now, team=team, service=service),
        publication=postmortem_publication_metrics(
            period=period, now=now, team=team, service=service
        ),
        # On-call burden belongs to people: the team picker keeps that team's engineers;
        # a service has no on-call of its own, so it does not narrow the burden.
        burden=oncall_burden(period=period, team=team, limit=rows, now=now),
    )


# --- Presentation ---------------------------------------------------------------------------


def tiles(review: Review) -> list[Tile]:
    """KPI tiles: the runbook's goals in green or red, the other figures neutral."""
    figures = review.incidents
    result = []
    for goal in figures.goals:
        status = {None: NO_DATA, True: GOOD, False: BAD}[goal.met]
        result.append(
            Tile(
                label=goal.name,
                value=format_duration(goal.actual),
                detail=(
                    f"mean; {goal.share.met} of {goal.share.counted} incidents under the goal"
                    if goal.share.counted
                    else "nothing to measure"
                ),
                status=status,
            )
        )
    same_cause, same_service = figures.repeat_set.same_cause, figures.repeat_set.same_service
    result.append(
        Tile(
            label="Repeat incidents (goal 0)",
            value=str(figures.repeat_count),
            detail=f"within 90 days: {same_cause} same root cause, {same_service} same service",
            status=(
                NO_DATA
                if figures.total.incidents == 0
                else GOOD
                if figures.repeat_count == 0
                else BAD
            ),
        )
    )
    total = figures.total
    result += [
        Tile(
            label="Incidents",
            value=str(total.incidents),
            detail=f"{total.open} still open",
            status=NEUTRAL,
        ),
        Tile(
            label="Customer-impacting",
            value=str(total.customer_impacting),
            detail=f"of {total.incidents} incidents",
            status=NEUTRAL,
        ),
        Tile(
            label="Response target met",
            value=format_ratio(total.response_target.ratio),
            detail=f"{total.response_target.met} of {total.response_target.counted} acknowledged "
            "in time",
            status=NEUTRAL if total.response_target.counted else NO_DATA,
        ),
    ]
    items = review.action_items
    result.append(
        Tile(
            label="Action items done",
            value=format_ratio(items.completion_rate),
            detail=f"{items.done} of {items.created - items.wont_do} from this period; "
            f"{items.open_count} open ({items.open_overdue} overdue)",
            status=NEUTRAL if items.completion_rate is not None else NO_DATA,
        )
    )
    publication = review.publication
    result.append(
        Tile(
            label="Post-mortems published on time",
            value=format_ratio(publication.on_time_rate),
            detail=f"{publication.on_time} of {publication.due} due; {publication.pending} not due",
            status=NEUTRAL if publication.due else NO_DATA,
        )
    )
    return result


def _week_labels(weeks: list[WeekFigures]) -> list[str]:
    return [f"{w.week:%d %b}" for w in weeks]


def _hours(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds() / 3600


def review_charts(review: Review) -> dict[str, SafeString]:
    """The four charts as inline SVG."""
    levels = review.incidents.levels
    severities = [f.severity for f in review.incidents.by_severity]
    labels = _week_labels(review.weeks)
    per_week = charts.stacked_bars(
        title="Incidents per week by severity",
        labels=labels,
        series=[
            charts.Series(
                name=s.name,
                colour=charts.colour(s.color, i),
                values=[w.incidents.get(s.pk, 0) for w in review.weeks],
            )
            for i, s in enumerate(severities)
        ],
        unit="incidents",
    )
    with_goals = [s for s in (levels.most_severe, levels.next_level) if s is not None]
    mttr = charts.lines(
        title="Mean time to resolve per week",
        labels=labels,
        series=[
            charts.Series(
                name=f"MTTR {s.name}",
                colour=charts.colour(s.color, i),
                values=[_hours(w.mean_time_to_resolve.get(s.pk)) for w in review.weeks],
            )
            for i, s in enumerate(with_goals)
        ],
        references=[
            charts.Line(
                name=f"goal {s.name} {format_duration(levels.resolve_goal(s.pk))}",
                colour=charts.colour(s.color, i),
                value=_hours(levels.resolve_goal(s.pk)),
            )
            for i, s in enumerate(with_goals)
        ],
        unit="hours",
    )
    attainment = charts.share_bars(
        title="Response target met, by severity",
        bars=[
            charts.Bar(
                label=f.name,
                share=float(f.response_target.ratio) if f.response_target.counted else None,
                text=(
                    f"{format_ratio(f.response_target.ratio)} ({f.response_target.met} of "
                    f"{f.response_target.counted})"
                    if f.response_target.counted
                    else "no incidents"
                ),
                colour=charts.colour(f.severity.color if f.severity else None, i),
            )
            for i, f in enumerate([*review.incidents.by_severity, review.incidents.total])
        ],
    )
    points = review.action_items.burn_down
    burn_down = charts.lines(
        title="Open action items (burn-down)",
        labels=[
            "now"
            if m == review.action_items.as_of and m < review.period.ends_at
            else f"{timezone.localtime(m, review.period.zone):%d %b}"
            for m, _, _ in points
        ],
        series=[
            charts.Series(name="open", colour="#1d4ed8", values=[o for _, o, _ in points]),
            charts.Series(name="overdue", colour="#b91c1c", values=[d for _, _, d in points]),
        ],
        unit="items",
        whole=True,
    )
    return {
        "incidents_per_week": per_week,
        "mttr_trend": mttr,
        "response_attainment": attainment,
        "burn_down": burn_down,
    }


def review_context(review: Review) -> dict:
    return {
        "review": review,
        "tiles": tiles(review),
        "charts": review_charts(review),
        "project_zone": review.period.zone.key,
    }


# --- CSV ------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "subject", "measure", "value", "unit")


def _seconds(value: timedelta | None) -> str:
    # Whole seconds, cut as the page shows them (4 min 59 s for 299.5 s): the file and the
    # page agree, and a goal "met" at 299.5 s never reads 300 beside a target of 300.
    return "" if value is None else str(int(value.total_seconds()))


def _ratio(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def review_rows(review: Review) -> list[tuple]:
    """The figures behind the review, one per row: (section, subject, measure, value, unit)."""
    figures = review.incidents
    rows: list[tuple] = [
        ("period", "start", "date", review.period.start.isoformat(), "date"),
        ("period", "end", "date (excluded)", review.period.end.isoformat(), "date"),
        ("period", "time zone", "name", review.period.zone.key, ""),
        ("period", "team", "name", review.team.name if review.team else "all", ""),
        ("period", "service", "name", review.service.name if review.service else "all", ""),
    ]
    for f in [*figures.by_severity, figures.total]:
        rows += [
            ("incidents", f.name, "count", f.incidents, "incidents"),
            ("incidents", f.name, "open", f.open, "incidents"),
            ("incidents", f.name, "customer-impacting", f.customer_impacting, "incidents"),
        ]
        for label, stats in (
            ("time to detect", f.time_to_detect),
            ("time to acknowledge", f.time_to_acknowledge),
            ("time to resolve", f.time_to_resolve),
        ):
            rows += [
                (label, f.name, "count", stats.count, "incidents"),
                (label, f.name, "mean", _seconds(stats.mean), "seconds"),
                (label, f.name, "median", _seconds(stats.median), "seconds"),
                (label, f.name, "p90", _seconds(stats.p90), "seconds"),
            ]
        rows += [
            ("response target", f.name, "met", f.response_target.met, "incidents"),
            ("response target", f.name, "counted", f.response_target.counted, "incidents"),
            ("response target", f.name, "share met", _ratio(f.response_target.ratio), "ratio"),
        ]
    for goal in figures.goals:
        rows += [
            ("goals", goal.name, "target", _seconds(goal.target), "seconds"),
            ("goals", goal.name, "mean", _seconds(goal.actual), "seconds"),
            ("goals", goal.name, "met", "" if goal.met is None else str(goal.met).lower(), ""),
            ("goals", goal.name, "incidents under goal", goal.share.met, "incidents"),
            ("goals", goal.name, "incidents measured", goal.share.counted, "incidents"),
        ]
    for repeat in figures.repeats:
        if repeat.same_cause_as:
            rows.append(
                (
                    "repeat incidents",
                    repeat.incident.reference,
                    f"same root cause ({repeat.incident.get_root_cause_category_display()}) as",
                    repeat.same_cause_as,
                    "reference",
                )
            )
        if repeat.same_service_as:
            rows.append(
                (
                    "repeat incidents",
                    repeat.incident.reference,
                    f"same service ({repeat.shared_service}) as",
                    repeat.same_service_as,
                    "reference",
                )
            )
    for week in review.weeks:
        for f in figures.by_severity:
            rows.append(
                (
                    "incidents per week",
                    week.week.isoformat(),
                    f.name,
                    week.incidents.get(f.severity.pk, 0),
                    "incidents",
                )
            )
            mean = week.mean_time_to_resolve.get(f.severity.pk)
            if mean is not None:
                rows.append(
                    ("mttr per week", week.week.isoformat(), f.name, _seconds(mean), "seconds")
                )
    items = review.action_items
    rows += [
        ("action items", "created in period", "count", items.created, "items"),
        ("action items", "created in period", "done", items.done, "items"),
        ("action items", "created in period", "won't do", items.wont_do, "items"),
        (
            "action items",
            "created in period",
            "completion rate",
            _ratio(items.completion_rate),
            "ratio",
        ),
        ("action items", "open at end", "count", items.open_count, "items"),
        ("action items", "open at end", "overdue", items.open_overdue, "items"),
        ("action items", "open at end", "mean age", _seconds(items.open_age_mean), "seconds"),
        ("action items", "open at end", "median age", _seconds(items.open_age_median), "seconds"),
        ("action items", "open at end", "oldest", _seconds(items.open_age_max), "seconds"),
    ]
    for moment, open_items, overdue in items.burn_down:
        # In the period's zone, like the Mondays: the closing "now" point comes in UTC.
        when = moment.astimezone(review.period.zone).isoformat()
        rows += [
            ("burn-down", when, "open", open_items, "items"),
            ("burn-down", when, "overdue", overdue, "items"),
        ]
    publication = review.publication
    for measure in ("total", "on_time", "late", "overdue", "pending"):
        rows.append(
            (
                "post-mortems",
                "of the period's incidents",
                measure.replace("_", " "),
                getattr(publication, measure),
                "post-mortems",
            )
        )
    rows.append(
        (
            "post-mortems",
            "of the period's incidents",
            "on-time rate",
            _ratio(publication.on_time_rate),
            "ratio",
        )
    )
    for section, burden_rows in (
        ("on-call burden (engineer)", review.burden.engineers),
        ("on-call burden (team)", review.burden.teams),
    ):
        for row in burden_rows:
            rows += [
                (section, row.name, "on-call hours", row.on_call_hours, "hours"),
                (section, row.name, "pages", row.pages, "pages"),
                (section, row.name, "overnight pages", row.overnight_pages, "pages"),
                (section, row.name, "weekend pages", row.weekend_pages, "pages"),
                (section, row.name, "incidents handled", row.incidents_handled, "incidents"),
            ]
    return rows


def review_csv(review: Review) -> str:
    """The rows as CSV. Text cells a spreadsheet would run as a formula (=, +, -, @) get a
    leading apostrophe (``oncall.exports.neutralise``); numbers are written as numbers."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in review_rows(review):
        writer.writerow([neutralise(cell) if isinstance(cell, str) else cell for cell in row])
    return out.getvalue()


# --- Views (thin: parse, build, render) -------------------------------------------------------


def _review_from(request, *, rows: int | None = None) -> tuple[MetricsForm, Review | None]:
    now = timezone.now()
    # Periods are days in the project's zone, whatever zone the manager reads the page in.
    today = timezone.localdate(now, project_zone())
    data = request.GET or {"quarter": Period.quarter_of(today).quarter_label}
    form = MetricsForm(data, today=today)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    form = _as_shown(form, today=today)
    return form, build_review(
        period=data["period"],
        team=data.get("team"),
        service=data.get("service"),
        now=now,
        rows=rows,
    )


def _as_shown(form: MetricsForm, *, today: date) -> MetricsForm:
    """The pickers as the page shows them next: the quarter reported (date boxes empty), or
    "Custom dates" with the dates reported, so what is selected is what the page reports and
    the next "Show" or download link means the same period."""
    period = form.cleaned_data["period"]
    shown = QueryDict(mutable=True)
    for name in form.data:
        values = form.data.getlist(name) if hasattr(form.data, "getlist") else [form.data[name]]
        shown.setlist(name, values)
    if form.chose_quarter:
        label = period.quarter_label or ""
        choice = {"quarter": label, "start": "", "end": "", "shown_quarter": label}
    else:
        choice = {
            "quarter": "",
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "shown_quarter": "",
        }
    for name, value in choice.items():
        shown[name] = value
    again = MetricsForm(shown, today=today)
    again.is_valid()
    return again


def _invalid(form: MetricsForm) -> HttpResponse:
    errors = [str(e) for errors in form.errors.values() for e in errors]
    return HttpResponse("\n".join(errors), status=400, content_type="text/plain; charset=utf-8")


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    # A team named in another script: an ASCII name plus the UTF-8 one (RFC 6266).
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


@require_safe
def metrics_view(request, *, site):
    # The page lists the latest repeats and the most loaded people and teams; the quarterly
    # review (HTML and CSV) lists every one of them.
    form, review = _review_from(request, rows=DASHBOARD_ROWS)
    context = {
        **site.each_context(request),
        "title": "Incident metrics",
        "form": form,
        # The downloads mean the period the page reports (the pickers as shown).
        "query": form.data.urlencode() if review else request.GET.urlencode(),
        **(review_context(review) if review else {}),
    }
    return TemplateResponse(
        request, "admin/metrics/dashboard.html", context, status=200 if review else 400
    )


@require_safe
def review_html_view(request, *, site):
    form, review = _review_from(request)
    if review is None:
        return _invalid(form)
    html = render_to_string("admin/metrics/review.html", review_context(review), request=None)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    return _attachment(response, f"{review.file_stem}.html")


@require_safe
def review_csv_view(request, *, site):
    form, review = _review_from(request)
    if review is None:
        return _invalid(form)
    response = HttpResponse(review_csv(review), content_type="text/csv; charset=utf-8")
    return _attachment(response, f"{review.file_stem}.csv")
