"""The engineers' post-mortem pages and "my action items". Thin: parse, check who may act on
the object, call a service, render. Every write is a POST checked against the object."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import transaction
from django.forms import BaseFormSet
from django.forms.utils import pretty_name
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from incidents import once
from incidents.access import engineer_required, responders
from incidents.forms import add_service_errors
from incidents.selectors import user_time_zone
from postmortems import selectors, services
from postmortems.access import can_edit_postmortem, can_start_postmortem, can_update_action_item
from postmortems.export import ExportRefused, markdown_filename, postmortem_markdown
from postmortems.forms import (
    BLAMELESS_REMINDER,
    ActionItemFormSet,
    MyActionItemForm,
    ReviewMeetingTimeForm,
    SectionsForm,
    TimelineEntryEditForm,
    TimelineEntryForm,
    WhyEditForm,
    WhyForm,
)
from postmortems.models import SECTION_FIELDS, ActionItem, FiveWhy, Postmortem, PostmortemStatus
from postmortems.models import PostmortemTimelineEntry as Entry

User = get_user_model()


@require_safe
@engineer_required
def postmortem_list(request):
    """Post-mortems being written first (soonest deadline), then the recently published."""
    now = timezone.now()
    rows = selectors.postmortem_list(now=now)
    context = {
        "open": rows.exclude(status=PostmortemStatus.PUBLISHED).order_by("publish_due_at", "id"),
        "published": rows.filter(status=PostmortemStatus.PUBLISHED).order_by("-published_at")[:20],
    }
    return render(request, "postmortems/list.html", context)


def _items_initial(postmortem) -> list[dict]:
    return [
        {
            "id": item.pk,
            "title": item.title,
            "owner": item.owner.get_username() if item.owner else "",
            "due_date": item.due_date,
            "kind": item.kind,
            "priority": item.priority,
            "tracker_url": item.tracker_url,
        }
        for item in postmortem.action_items.all()
    ]


def _editor_context(request, postmortem, bound: dict | None = None) -> dict:
    bound = bound or {}
    editable = postmortem.status in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW)
    may_edit = can_edit_postmortem(request.user, postmortem)
    zone = user_time_zone(request.user)
    stored = SectionsForm(initial={name: getattr(postmortem, name) for name in SECTION_FIELDS})
    sections = bound.get("sections") or stored
    unsaved = []
    if bound.get("sections") is not None and not (may_edit and editable):
        # Refused because the text can no longer change (published meanwhile): the page shows
        # what is stored, and what was typed apart, to copy, never as if it were published.
        typed = bound["sections"]
        unsaved = [
            (typed[name].label, typed[name].value())
            for name in SECTION_FIELDS
            if name in typed.data
            and (typed[name].value() or "").strip() != getattr(postmortem, name).strip()
        ]
        sections = stored
    return {
        "unsaved_sections": unsaved,
        "postmortem": postmortem,
        "incident": postmortem.incident,
        "may_edit": may_edit and editable,
        "may_act": may_edit,
        "may_start": postmortem.status == PostmortemStatus.SCHEDULED
        and can_start_postmortem(request.user, postmortem),
        "sections_form": sections,
        # Each section with what it held when the page was drawn: the button saves only the
        # sections whose text differs from that.
        "section_rows": [(sections[name], getattr(postmortem, name)) for name in SECTION_FIELDS],
        "meeting_form": bound.get("meeting"),
        "why_form": bound.get("why") or WhyForm(),
        "entry_form": bound.get("entry") or TimelineEntryForm(),
        "items_formset": bound.get("items")
        or ActionItemFormSet(initial=_items_initial(postmortem), prefix="items"),
        # The forms that add rows act once however often the page is sent (a double click).
        "once": once.token_for(request),
        "timeline": selectors.postmortem_timeline(postmortem=postmortem, zone=zone),
        "entries": list(postmortem.timeline_entries.all()),
        "entries_open": bool(bound.get("entry") or bound.get("entry_edit")),
        "entry_rows": [
            (entry, _entry_edit_form(entry, bound.get("entry_edit")))
            for entry in postmortem.timeline_entries.all()
        ],
        "whys": list(postmortem.five_whys.all()),
        # Each why with its own edit form (the one refused, bound, stays open as typed).
        "why_rows": [
            (why, _why_edit_form(why, bound.get("why_edit"))) for why in postmortem.five_whys.all()
        ],
        "items": list(postmortem.action_items.all()),
        "people": responders().order_by("username"),
        "blameless": BLAMELESS_REMINDER,
        "blockers": services.postmortem_publish_blockers(postmortem)
        if postmortem.status == PostmortemStatus.IN_REVIEW
        else [],
        "now": timezone.now(),
        "error_summary": _error_summary(bound.values()),
    }


def _error_summary(forms) -> list[tuple[str | None, str | None, str]]:
    """Every error of the refused forms as (field's element id, its label, message): one
    summary at the top of the page, linking to each field, a formset's rows included."""
    lines = []

    def add(form, label_suffix: str = "") -> None:
        for name, errors in form.errors.items():
            anchor = None if name == NON_FIELD_ERRORS else form[name].auto_id
            label = None if anchor is None else f"{form[name].label}{label_suffix}"
            lines.extend((anchor, label, error) for error in errors)

    for form in forms:
        if form is None:
            continue
        if isinstance(form, BaseFormSet):
            lines.extend((None, None, error) for error in form.non_form_errors())
            for number, row in enumerate(form.forms, start=1):
                add(row, f" (item {number})")
        else:
            add(form)
    return lines


@require_safe
@engineer_required
def postmortem_detail(request, pk: int):
    postmortem = selectors.postmortem_detail(pk=get_object_or_404(Postmortem, pk=pk).pk)
    return render(request, "postmortems/detail.html", _editor_context(request, postmortem))


def _load_for_write(request, pk: int) -> Postmortem:
    postmortem = get_object_or_404(Postmortem.objects.prefetch_related("reviewers"), pk=pk)
    if not can_edit_postmortem(request.user, postmortem):
        raise PermissionDenied
    return postmortem


def _back(pk: int, anchor: str = "") -> HttpResponse:
    return redirect(reverse("postmortems:detail", args=[pk]) + (f"#{anchor}" if anchor else ""))


def _again(request, pk: int, **bound) -> HttpResponse:
    postmortem = selectors.postmortem_detail(pk=pk)
    context = _editor_context(request, postmortem, bound=bound)
    return render(request, "postmortems/detail.html", context)


@require_POST
@engineer_required
def postmortem_start(request, pk: int):
    postmortem = get_object_or_404(Postmortem, pk=pk)
    if not can_start_postmortem(request.user, postmortem):
        raise PermissionDenied
    try:
        services.postmortem_start_draft(postmortem=postmortem, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "You own this post-mortem now. Write it blameless.")
    return _back(pk)


@require_POST
@engineer_required
def postmortem_sections(request, pk: int):
    """Save the sections this person wrote, and nothing else, so co-authors' edits stand:
    with htmx (autosave) the section typed in (htmx posts the rest of the form too); with the
    button, the sections whose text differs from what the page was loaded with."""
    postmortem = _load_for_write(request, pk)
    form = SectionsForm(request.POST)
    if form.is_valid():
        posted = {name: form.cleaned_data[name] for name in SECTION_FIELDS if name in request.POST}
        if request.htmx and request.htmx.trigger_name in SECTION_FIELDS:
            posted = {name: v for name, v in posted.items() if name == request.htmx.trigger_name}
        else:
            posted = {
                name: value
                for name, value in posted.items()
                if request.POST.get(f"loaded-{name}", "\0").strip() != value.strip()
            }
        # What each writer's page started from: a section someone else changed since is
        # refused, not overwritten.
        expected = {
            name: request.POST[f"loaded-{name}"]
            for name in posted
            if f"loaded-{name}" in request.POST
        }
        try:
            saved_postmortem = services.postmortem_update_sections(
                postmortem=postmortem, by=request.user, expected=expected, **posted
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            if request.htmx:
                saved = timezone.localtime().strftime("%H:%M:%S %Z")
                # The page now starts from what was saved: the writer's next autosave is
                # compared with their own text, not with the page as first loaded.
                loaded = "".join(
                    format_html(
                        '<input type="hidden" id="loaded-{0}" name="loaded-{0}" value="{1}" '
                        'hx-swap-oob="true">',
                        name,
                        getattr(saved_postmortem, name),
                    )
                    for name in posted
                )
                return HttpResponse(
                    format_html('<span class="saved">Saved at {}</span>', saved) + mark_safe(loaded)  # noqa: S308 - built with format_html above
                )
            messages.success(request, "Sections saved.")
            return _back(pk, "sections")
    if request.htmx:
        errors = " ".join(m for errors in form.errors.values() for m in errors)
        return HttpResponse(format_html('<span class="overdue">Not saved: {}</span>', errors))
    return _again(request, pk, sections=form)


def _added_already(request, pk: int, what: str, anchor: str):
    def repeated():
        messages.info(request, f"This {what} was already added.")
        return _back(pk, anchor)

    return repeated


@require_POST
@engineer_required
def why_add(request, pk: int):
    postmortem = _load_for_write(request, pk)
    return once.act_once(
        request,
        f"why:{pk}",
        lambda: _add_why(request, postmortem),
        repeated=_added_already(request, pk, "why", "whys"),
    )


def _add_why(request, postmortem):
    pk = postmortem.pk
    form = WhyForm(request.POST)
    if form.is_valid():
        try:
            services.five_why_add(postmortem=postmortem, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _back(pk, "whys")
    return _again(request, pk, why=form)


def _why_edit_form(why: FiveWhy, refused: WhyEditForm | None) -> WhyEditForm:
    form = refused
    if refused is None or refused.prefix != f"why-{why.pk}":
        form = WhyEditForm(
            prefix=f"why-{why.pk}", initial={"question": why.question, "answer": why.answer}
        )
    _label_for(form, f"why {why.position}")
    return form


def _label_for(form, whose: str) -> None:
    """Labels that say which row a repeated form edits ("Answer of why 2")."""
    for name, field in form.fields.items():
        field.label = f"{field.label or pretty_name(name)} of {whose}"


@require_POST
@engineer_required
def why_edit(request, pk: int, why_id: int):
    """Change a why's question or answer (a why added before its answer was known)."""
    postmortem = _load_for_write(request, pk)
    why = get_object_or_404(FiveWhy, pk=why_id, postmortem=postmortem)
    form = WhyEditForm(request.POST, prefix=f"why-{why.pk}")
    if form.is_valid():
        try:
            services.five_why_update(why=why, by=request.user, **form.changed())
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _back(pk, "whys")
    return _again(request, pk, why_edit=form)


@require_POST
@engineer_required
def why_change(request, pk: int, why_id: int, action: str):
    """Move a why up or down, or remove it."""
    postmortem = _load_for_write(request, pk)
    why = get_object_or_404(FiveWhy, pk=why_id, postmortem=postmortem)
    try:
        if action == "remove":
            services.five_why_remove(why=why, by=request.user)
        elif action in ("up", "down"):
            order = list(postmortem.five_whys.order_by("position").values_list("pk", flat=True))
            index = order.index(why.pk)
            swap = index - 1 if action == "up" else index + 1
            if 0 <= swap < len(order):
                order[index], order[swap] = order[swap], order[index]
                services.five_whys_reorder(postmortem=postmortem, by=request.user, order=order)
        else:
            raise Http404
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(pk, "whys")


@require_POST
@engineer_required
def entry_add(request, pk: int):
    postmortem = _load_for_write(request, pk)
    return once.act_once(
        request,
        f"entry:{pk}",
        lambda: _add_entry(request, postmortem),
        repeated=_added_already(request, pk, "entry", "timeline"),
    )


def _add_entry(request, postmortem):
    pk = postmortem.pk
    form = TimelineEntryForm(request.POST)
    if form.is_valid():
        try:
            services.timeline_entry_add(postmortem=postmortem, by=request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _back(pk, "timeline")
    return _again(request, pk, entry=form)


def _entry_edit_form(entry, refused: TimelineEntryEditForm | None) -> TimelineEntryEditForm:
    form = refused
    if refused is None or refused.prefix != f"entry-{entry.pk}":
        form = TimelineEntryEditForm(
            prefix=f"entry-{entry.pk}",
            initial={"occurred_at": entry.occurred_at, "text": entry.text},
        )
    _label_for(form, "this entry")
    return form


@require_POST
@engineer_required
def entry_edit(request, pk: int, entry_id: int):
    """Correct a line of the post-mortem's copy of the timeline (never the incident's)."""
    postmortem = _load_for_write(request, pk)
    entry = get_object_or_404(Entry, pk=entry_id, postmortem=postmortem)
    form = TimelineEntryEditForm(request.POST, prefix=f"entry-{entry.pk}")
    if form.is_valid():
        values = form.changed()
        # The picker shows the stored moment to the minute in the reader's zone: the same text
        # posted back is the same moment (its seconds kept, and the second of two 01:30s when
        # the clocks went back), whatever the text would read as afresh.
        shown = timezone.localtime(entry.occurred_at).strftime("%Y-%m-%dT%H:%M")
        posted = request.POST.get(form.add_prefix("occurred_at"), "").strip()
        if "occurred_at" in values and (
            posted == shown
            or values["occurred_at"] == entry.occurred_at.replace(second=0, microsecond=0)
        ):
            del values["occurred_at"]
        try:
            services.timeline_entry_update(entry=entry, by=request.user, **values)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _back(pk, "timeline")
    return _again(request, pk, entry_edit=form)


@require_POST
@engineer_required
def entry_remove(request, pk: int, entry_id: int):
    postmortem = _load_for_write(request, pk)
    entry = get_object_or_404(Entry, pk=entry_id, postmortem=postmortem)
    try:
        services.timeline_entry_remove(entry=entry, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return _back(pk, "timeline")


ITEM_FIELDS = ("title", "owner", "due_date", "kind", "priority", "tracker_url")


@require_POST
@engineer_required
def items_save(request, pk: int):
    """Save the action items formset: new rows are added, changed rows updated, all or nothing.
    The same page sent twice (a double click) adds its new items once."""
    postmortem = _load_for_write(request, pk)

    def repeated():
        messages.info(
            request,
            "This page was already saved, with the items it added: reload it to change more.",
        )
        return _back(pk, "items")

    def adds(name: str) -> bool:
        # Only the rows it adds make a page new: sent again after the back button with an
        # existing row changed, its new rows were added the first time and must not be again.
        row = name.split("-")
        return len(row) == 3 and row[0] == "items" and not request.POST.get(f"items-{row[1]}-id")

    return once.act_once(
        request,
        f"items:{pk}",
        lambda: _save_items(request, postmortem),
        repeated=repeated,
        keep=adds,
    )


def _save_items(request, postmortem):
    pk = postmortem.pk
    formset = ActionItemFormSet(request.POST, prefix="items")
    if formset.is_valid():
        existing = {item.pk: item for item in postmortem.action_items.all()}
        try:
            with transaction.atomic():
                for form in formset:
                    if not form.has_changed():
                        continue
                    data = {name: form.cleaned_data.get(name) for name in ITEM_FIELDS}
                    data["tracker_url"] = data["tracker_url"] or ""
                    item_id = form.cleaned_data.get("id")
                    try:
                        if item_id:
                            if item_id not in existing:
                                raise PermissionDenied
                            # Only what was changed on this page: the rest may have been
                            # changed elsewhere since it loaded.
                            changed = {k: v for k, v in data.items() if k in form.changed_data}
                            if not changed:
                                continue
                            # Once published, the post-mortem's text is settled and each item
                            # is its owner's (or a manager's) to change, as everywhere else.
                            if postmortem.is_published and not can_update_action_item(
                                request.user, existing[item_id]
                            ):
                                raise PermissionDenied
                            services.action_item_update(
                                item=existing[item_id], by=request.user, **changed
                            )
                        else:
                            services.action_item_add(postmortem=postmortem, by=request.user, **data)
                    except ValidationError as error:
                        add_service_errors(form, error)
                        raise
        except ValidationError:
            pass
        else:
            messages.success(request, "Action items saved.")
            return _back(pk, "items")
    return _again(request, pk, items=formset)


MOVES = {
    "submit": (services.postmortem_submit_for_review, "Submitted for review."),
    "return": (services.postmortem_return_to_draft, "Back to draft."),
    "publish": (services.postmortem_publish, "Published."),
}


@require_POST
@engineer_required
def postmortem_move(request, pk: int, move: str):
    if move not in MOVES:
        raise Http404
    postmortem = _load_for_write(request, pk)
    service, done = MOVES[move]
    try:
        service(postmortem=postmortem, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return _back(pk)


@require_safe
@engineer_required
def postmortem_export(request, pk: int):
    postmortem = get_object_or_404(Postmortem.objects.select_related("incident"), pk=pk)
    try:
        text = postmortem_markdown(postmortem=postmortem, zone=user_time_zone(request.user))
    except ExportRefused as error:
        messages.error(request, " ".join(error.messages))
        return _back(pk)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{markdown_filename(postmortem)}"'
    return response


# --- My action items --------------------------------------------------------------------------


def _my_items_page(request, *, items, now):
    """ "My action items": the open ones given, the recently closed, and when a due day ends
    (midnight in the project's zone) on the reader's own clock, so "overdue" on what is still
    their due day is explained."""
    closed = selectors.my_recently_closed_items(owner=request.user, now=now)
    zone = selectors.project_zone()
    yesterday = now.astimezone(zone).date() - timedelta(days=1)
    return render(
        request,
        "postmortems/my_action_items.html",
        {
            "items": items,
            "closed": closed,
            "now": now,
            "project_zone": zone.key,
            "day_ends": timezone.localtime(selectors.due_day_end(yesterday)),
        },
    )


@require_safe
@engineer_required
def my_action_items(request):
    """The signed-in person's open items across post-mortems: overdue first, then by due date."""
    now = timezone.now()
    items = selectors.my_action_items(owner=request.user, now=now)
    return _my_items_page(request, items=items, now=now)


def _load_item(request, item_id: int) -> ActionItem:
    item = get_object_or_404(ActionItem, pk=item_id)
    if not can_update_action_item(request.user, item):
        raise PermissionDenied
    return item


@require_POST
@engineer_required
def my_action_item_update(request, item_id: int):
    """The owner changes the status and tracker link of one of their items."""
    item = _load_item(request, item_id)
    form = MyActionItemForm(request.POST)
    if form.is_valid():
        try:
            with transaction.atomic():
                if form.changed_from_page("tracker_url", item.tracker_url):
                    services.action_item_update(
                        item=item,
                        by=request.user,
                        tracker_url=form.cleaned_data["tracker_url"] or "",
                    )
                status = form.cleaned_data["status"]
                if form.changed_from_page("status", item.status) and status != item.status:
                    services.action_item_set_status(item=item, status=status, by=request.user)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"“{item.title}” updated.")
            return redirect("actionitems:mine")
    now = timezone.now()
    items = list(selectors.my_action_items(owner=request.user, now=now))
    for row in items:
        if row.pk == item.pk:  # shown again as typed, with the errors beside the fields
            row.edit, row.edit_prefix = form, f"item{item.pk}-"
    return _my_items_page(request, items=items, now=now)


@require_POST
@engineer_required
def my_action_item_complete(request, item_id: int):
    item = _load_item(request, item_id)
    try:
        services.action_item_complete(item=item, by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"“{item.title}” is done.")
    return redirect("actionitems:mine")


@require_POST
@engineer_required
def postmortem_review_meeting(request, pk: int):
    """Record when the review meeting was held (a local time in the person's own zone)."""
    postmortem = _load_for_write(request, pk)
    form = ReviewMeetingTimeForm(request.POST)
    if form.is_valid():
        try:
            services.postmortem_record_review_meeting(
                postmortem=postmortem, by=request.user, held_at=form.cleaned_data["held_at"]
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Review meeting recorded.")
            return _back(pk)
    return _again(request, pk, meeting=form)  # as typed, with the error beside it
