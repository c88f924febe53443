"""The managers' admin for post-mortems, action items and the deadline policy.

Every write goes through ``postmortems.services``: the change forms parse input and the save
hooks call the services field by field, the status moves are buttons that post to one service
each, and the changelist actions loop over the service and report each refusal. The history
(django-simple-history) is on each object's History page; reverting to an old version is off,
because it would write around the services.
"""

from dataclasses import replace

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin
from simple_history.models import DeletedObject

from incidents.admin_changes import ChangesWhatWasChangedAdmin, ChangesWhatWasChangedInline
from incidents.admin_paging import GrowingTableAdmin, TeamNameFilter, UsernameFilter
from incidents.admin_widgets import KnownPeopleAutocomplete
from incidents.selectors import user_time_zone
from postmortems import selectors, services
from postmortems.export import ExportRefused, markdown_filename, postmortem_markdown
from postmortems.forms import (
    BLAMELESS_REMINDER,
    FiveWhyInlineForm,
    ReassignForm,
    RequirePostmortemForm,
    ReviewMeetingForm,
    TimelineEntryInlineForm,
)
from postmortems.models import (
    SECTION_FIELDS,
    STAGE_DUE_FIELD,
    STAGE_MET_FIELD,
    ActionItem,
    FiveWhy,
    Postmortem,
    PostmortemPolicy,
    PostmortemTimelineEntry,
    Stage,
)

NOTHING_SAVED = "Nothing was saved: {reason}"
ENTRY_FIELDS = ("occurred_at", "text", "phase")


def _moment(value) -> str:
    return selectors.format_moment(value, timezone.get_current_timezone())


def _badge(text: str, colour: str):
    return format_html(
        '<span style="color:#fff;background:{};padding:1px 6px;border-radius:3px">{}</span>',
        colour,
        text,
    )


def _autocomplete(field, model, name: str, admin_site) -> None:
    """Give a plain form's choice field the admin's autocomplete widget for ``model.name``."""
    field.widget = AutocompleteSelect(model._meta.get_field(name), admin_site)
    field.widget.choices = field.choices


OVERDUE_RED = "#b91c1c"
MET_GREEN = "#15803d"


def _never_set(value) -> bool:
    return isinstance(value, DeletedObject) and value.pk is None


class ServiceAdmin(ChangesWhatWasChangedAdmin, SimpleHistoryAdmin):
    """Shared by the models whose writes go through the services.

    - Only what the manager changed on the page is saved (``incidents.admin_changes``): what
      others changed since it was opened stands.
    - A refusal raised by a service while the change form saves (a rule the form cannot see,
      or a race with another writer) rolls the whole save back and comes back as a message.
    - The history is shown, but reverting to an old version is switched off. An empty
      foreign key reads as empty there, not as a deleted object.
    """

    def set_history_delta_changes(self, request, historical_records, *args, **kwargs):
        previous = None
        for current in historical_records:
            if previous is not None:
                # django-simple-history shows a foreign key that was empty as "Deleted user
                # (pk=None)": an owner set for the first time is not one who was deleted.
                delta = previous.diff_against(current, foreign_keys_are_objs=True)
                changes = [
                    replace(
                        change,
                        old=None if _never_set(change.old) else change.old,
                        new=None if _never_set(change.new) else change.new,
                    )
                    for change in delta.changes
                ]
                helper = self.get_historical_record_context_helper(request, previous)
                previous.history_delta_changes = helper.context_for_delta_changes(
                    replace(delta, changes=changes)
                )
            previous = current

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as error:
            # changeform_view saved inside transaction.atomic, so nothing was written.
            self.message_user(
                request, NOTHING_SAVED.format(reason=" ".join(error.messages)), messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())

    def revert_disabled(self, request, obj=None) -> bool:
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        if not str(version_id).isdigit():  # a typed address: no such version
            raise Http404
        return super().history_form_view(request, object_id, version_id, extra_context)

    def has_delete_permission(self, request, obj=None) -> bool:
        # Post-mortems, action items and the policy are records: they are never deleted
        # (an action item that will not be done is marked "won't do").
        return False


# --- Post-mortems --------------------------------------------------------------------------


class PostmortemOverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [
            ("any", "Any deadline overdue"),
            (Stage.DRAFT, "Draft overdue"),
            (Stage.REVIEW, "Review meeting overdue"),
            (Stage.PUBLISH, "Publish overdue"),
            ("none", "Nothing overdue"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        value = self.value()
        if value == "any":
            return queryset.filter(selectors.any_stage_overdue_q(now))
        if value == "none":
            return queryset.exclude(selectors.any_stage_overdue_q(now))
        if value in Stage.values:
            return queryset.filter(selectors.stage_overdue_q(value, now))
        return queryset


class WritingInline(ChangesWhatWasChangedInline, admin.TabularInline):
    """Rows of the text itself (timeline copy, 5 Whys): editable while the post-mortem is in
    draft or in review, read-only before the draft starts and once it is published."""

    extra = 1

    def _editable(self, obj) -> bool:
        return obj is not None and obj.status in services.EDITABLE_STATUSES

    def get_formset(self, request, obj=None, **kwargs):
        if not self._editable(obj):
            kwargs["form"] = forms.ModelForm
        return super().get_formset(request, obj, **kwargs)

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class TimelineEntryInline(WritingInline):
    model = PostmortemTimelineEntry
    form = TimelineEntryInlineForm
    fields = ["occurred_at", "phase", "text"]
    verbose_name_plural = (
        "timeline (the post-mortem's own copy, in your own time zone; the incident's "
        "timeline is never changed)"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("occurred_at", "id")

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "text":
            field.widget.attrs.update({"rows": 1, "cols": 70})
        return field


class FiveWhyInline(WritingInline):
    model = FiveWhy
    form = FiveWhyInlineForm
    verbose_name_plural = "5 Whys (ordered; change the numbers to reorder)"

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("position")

    def get_fields(self, request, obj=None):
        # "order" exists on the edit form only; read-only rows show the stored position.
        if self._editable(obj):
            return ["order", "question", "answer"]
        return ["position", "question", "answer"]


URL_FIELDS_HTTPS = {models.URLField: {"assume_scheme": "https"}}


class ActionItemInline(ChangesWhatWasChangedInline, admin.TabularInline):
    model = ActionItem
    formfield_overrides = URL_FIELDS_HTTPS
    fields = [
        "title",
        "owner",
        "due_date",
        "kind",
        "priority",
        "status",
        "tracker_url",
        "completed_at",
    ]
    readonly_fields = ["completed_at"]
    extra = 1
    can_delete = False
    show_change_link = True

    def get_formset(self, request, obj=None, **kwargs):
        # The owners of every row, read once (the autocomplete box would read each row's).
        owners = ActionItem.objects.filter(postmortem=obj).values("owner_id") if obj else []
        known = {str(user.pk): user for user in get_user_model().objects.filter(pk__in=owners)}
        field = ActionItem._meta.get_field("owner")
        widgets = kwargs.pop("widgets", None) or {}
        widgets["owner"] = KnownPeopleAutocomplete(field, self.admin_site, known)
        return super().get_formset(request, obj, widgets=widgets, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .order_by("due_date", "priority", "id")
        )


class IncidentTeamFilter(TeamNameFilter):
    title = "incident's team"
    lookup = "incident__team__name"


@admin.register(Postmortem)
class PostmortemAdmin(GrowingTableAdmin, ServiceAdmin):
    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        # Each history row names its post-mortem by its incident's reference: read with it,
        # not once per row (every autosaved edit is a row).
        return (
            super()
            .get_history_queryset(request, history_manager, pk_name, object_id)
            .select_related("incident")
        )

    def set_history_delta_changes(self, request, historical_records, *args, **kwargs):
        super().set_history_delta_changes(request, historical_records, *args, **kwargs)
        for record in historical_records:
            # ``history_object`` is built afresh on each read, without its incident: build it
            # once with the incident read above, so naming it costs no query.
            shown = record.history_object
            shown.incident = record.incident
            record.history_object = shown

    list_display = [
        "reference",
        "title",
        "severity_badge",
        "status",
        "owner",
        "draft_due",
        "review_due",
        "publish_due",
    ]
    list_display_links = ["reference", "title"]
    list_filter = [
        "status",
        PostmortemOverdueFilter,
        IncidentTeamFilter,
        ("incident__severity", admin.RelatedFieldListFilter),
    ]
    search_fields = ["incident__reference", "incident__title"]
    list_select_related = ["incident__severity", "incident__team", "owner"]
    list_per_page = 50
    autocomplete_fields = ["owner", "reviewers"]
    inlines = [TimelineEntryInline, FiveWhyInline, ActionItemInline]
    history_list_display = ["status", "owner"]
    change_form_template = "admin/postmortems/postmortem/change_form.html"
    change_list_template = "admin/postmortems/postmortem/change_list.html"
    readonly_fields = [
        "incident_link",
        "status",
        "deadlines_from",
        "draft_due",
        "review_due",
        "publish_due",
        "draft_started_at",
        "submitted_at",
        "review_meeting_at",
        "published_at",
        "missing_to_publish",
    ]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["incident_link", "status", "owner", "reviewers"]}),
            (
                "Deadlines (counted from the resolution)",
                {
                    "fields": [
                        "deadlines_from",
                        ("draft_due", "submitted_at"),
                        ("review_due", "review_meeting_at"),
                        ("publish_due", "published_at"),
                        "draft_started_at",
                    ]
                },
            ),
            ("Sections", {"fields": list(SECTION_FIELDS), "description": BLAMELESS_REMINDER}),
            ("Before publishing", {"fields": ["missing_to_publish"]}),
        ]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(self.readonly_fields)
        if obj is None or obj.status not in services.EDITABLE_STATUSES:
            readonly += list(SECTION_FIELDS)
        if obj is not None and obj.is_published:
            readonly += ["owner", "reviewers"]
        return readonly

    def get_queryset(self, request):
        return selectors.postmortem_list()

    def has_add_permission(self, request):
        # Post-mortems are scheduled by resolutions; managers require one with "Require".
        return False

    # --- columns ---

    @admin.display(description="Reference", ordering="incident__reference")
    def reference(self, obj):
        return obj.incident.reference

    @admin.display(description="Title", ordering="incident__title")
    def title(self, obj):
        return obj.incident.title

    @admin.display(description="Incident")
    def incident_link(self, obj):
        url = reverse("admin:incidents_incident_change", args=[obj.incident_id])
        return format_html('<a href="{}">{}</a>', url, obj.incident)

    @admin.display(description="Severity", ordering="incident__severity__rank")
    def severity_badge(self, obj):
        severity = obj.incident.severity
        return _badge(severity.name, severity.color)

    def _due(self, obj, stage: str):
        due = getattr(obj, STAGE_DUE_FIELD[stage])
        overdue = getattr(obj, f"{stage}_overdue", False)
        if overdue:
            return format_html("{} {}", _moment(due), _badge("overdue", OVERDUE_RED))
        if getattr(obj, STAGE_MET_FIELD[stage]) is not None:
            return format_html("{} {}", _moment(due), _badge("met", MET_GREEN))
        return _moment(due)

    @admin.display(description="Draft due", ordering="draft_due_at")
    def draft_due(self, obj):
        return self._due(obj, Stage.DRAFT)

    @admin.display(description="Review due", ordering="review_due_at")
    def review_due(self, obj):
        return self._due(obj, Stage.REVIEW)

    @admin.display(description="Publish due", ordering="publish_due_at")
    def publish_due(self, obj):
        return self._due(obj, Stage.PUBLISH)

    @admin.display(description="Missing")
    def missing_to_publish(self, obj):
        if obj.is_published:
            return "Published."
        missing = services.postmortem_publish_blockers(obj)
        if not missing:
            return "Nothing: it can be published once in review."
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((m,) for m in missing))
        )

    # --- saving goes through the services ---

    def save_model(self, request, obj, form, change):
        sections = {
            name: form.cleaned_data[name] for name in form.changed_data if name in SECTION_FIELDS
        }
        if sections:
            services.postmortem_update_sections(postmortem=obj, by=request.user, **sections)
        if "owner" in form.changed_data:
            services.postmortem_assign(
                postmortem=obj, owner=form.cleaned_data["owner"], by=request.user
            )

    def save_related(self, request, form, formsets, change):
        # Not form.save_m2m() nor formset.save(): each change is a service call.
        if "reviewers" in form.changed_data:
            services.postmortem_set_reviewers(
                postmortem=form.instance, reviewers=form.cleaned_data["reviewers"], by=request.user
            )
        writing = form.instance.status in services.EDITABLE_STATUSES
        for formset in formsets:
            # What construct_change_message reads (formset.save() would have set these).
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            if formset.model is PostmortemTimelineEntry and writing:
                self._save_entries(request, form.instance, formset)
            elif formset.model is FiveWhy and writing:
                self._save_whys(request, form.instance, formset)
            elif formset.model is ActionItem:
                save_action_item_forms(request, form.instance, formset)

    def _save_entries(self, request, postmortem, formset):
        user = request.user
        for entry_form in formset.forms:
            entry = entry_form.instance
            if entry_form in formset.deleted_forms:
                if entry.pk:
                    services.timeline_entry_remove(entry=entry, by=user)
                    formset.deleted_objects.append(entry)
            elif entry_form.has_changed():
                values = {name: entry_form.cleaned_data[name] for name in ENTRY_FIELDS}
                if entry.pk is None:
                    entry = services.timeline_entry_add(postmortem=postmortem, by=user, **values)
                    formset.new_objects.append(entry)
                else:
                    # Only what was changed on the page: a co-author's correction made since
                    # stands, and a line moved without choosing a phase takes its new one.
                    changed = {n: v for n, v in values.items() if n in entry_form.changed_data}
                    services.timeline_entry_update(entry=entry, by=user, **changed)
                    formset.changed_objects.append((entry, entry_form.changed_data))

    def _save_whys(self, request, postmortem, formset):
        user = request.user
        wanted: list[tuple[int, int, int]] = []  # (order asked, current position, id)
        reordered = False  # the order is left as it is unless changed on the page
        for why_form in formset.forms:
            why = why_form.instance
            if why_form in formset.deleted_forms:
                if why.pk:
                    services.five_why_remove(why=why, by=user)
                    formset.deleted_objects.append(why)
                continue
            if why.pk is None:
                if not why_form.has_changed():
                    continue
                why = services.five_why_add(
                    postmortem=postmortem,
                    by=user,
                    question=why_form.cleaned_data["question"],
                    answer=why_form.cleaned_data["answer"],
                )
                formset.new_objects.append(why)
            elif {"question", "answer"} & set(why_form.changed_data):
                # Only what was changed on the page: an answer written since stands.
                services.five_why_update(
                    why=why,
                    by=user,
                    **{
                        name: why_form.cleaned_data[name]
                        for name in ("question", "answer")
                        if name in why_form.changed_data
                    },
                )
                formset.changed_objects.append((why, why_form.changed_data))
            reordered = reordered or "order" in why_form.changed_data
            order = why_form.cleaned_data.get("order")
            wanted.append((order if order is not None else 10**6, why.position, why.pk))
        current = list(
            FiveWhy.objects.filter(postmortem=postmortem)
            .order_by("position")
            .values_list("pk", flat=True)
        )
        asked = [pk for _, _, pk in sorted(wanted)]
        if reordered and asked != current and set(asked) == set(current):
            services.five_whys_reorder(postmortem=postmortem, by=user, order=asked)

    # --- status moves, the review meeting, Markdown, requiring one ---

    MOVES = {
        "start_draft": ("Start the draft", services.postmortem_start_draft),
        "submit": ("Submit for review", services.postmortem_submit_for_review),
        "return_to_draft": ("Return to draft", services.postmortem_return_to_draft),
        "publish": ("Publish", services.postmortem_publish),
    }

    def get_urls(self):
        wrap = self.admin_site.admin_view
        custom = [
            path("require/", wrap(self.require_view), name="postmortems_postmortem_require"),
            path(
                "<int:object_id>/act/<str:action>/",
                wrap(self.act_view),
                name="postmortems_postmortem_act",
            ),
            path(
                "<int:object_id>/markdown/",
                wrap(self.markdown_view),
                name="postmortems_postmortem_markdown",
            ),
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        postmortem = self.get_object(request, object_id)
        if postmortem is not None:
            zone = user_time_zone(request.user)
            extra_context.update(
                {
                    "reader_zone": zone.key,
                    "reader_timeline": selectors.postmortem_timeline(
                        postmortem=postmortem, zone=zone
                    ),
                    "meeting_form": ReviewMeetingForm(),
                    "moves": self._moves_for(postmortem),
                }
            )
        return super().change_view(request, object_id, form_url, extra_context)

    def _moves_for(self, postmortem) -> list[tuple[str, str]]:
        by_status = {
            "scheduled": ["start_draft"],
            "draft": ["submit"],
            "in_review": ["return_to_draft", "publish"],
            "published": [],
        }
        return [(action, self.MOVES[action][0]) for action in by_status[postmortem.status]]

    def act_view(self, request, object_id: int, action: str):
        postmortem = get_object_or_404(Postmortem, pk=object_id)
        if action not in {*self.MOVES, "meeting"} or not self.has_change_permission(
            request, postmortem
        ):
            raise PermissionDenied
        change_url = reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        try:
            if action == "meeting":
                form = ReviewMeetingForm(request.POST)
                if not form.is_valid():
                    raise ValidationError([e for errors in form.errors.values() for e in errors])
                services.postmortem_record_review_meeting(
                    postmortem=postmortem, by=request.user, held_at=form.cleaned_data["held_at"]
                )
                title = "Record the review meeting"
            else:
                title, service = self.MOVES[action]
                service(postmortem=postmortem, by=request.user)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
        else:
            self.message_user(request, f"{title}: done.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)

    def markdown_view(self, request, object_id: int):
        postmortem = get_object_or_404(Postmortem, pk=object_id)
        if not self.has_view_permission(request, postmortem):
            raise PermissionDenied
        try:
            markdown = postmortem_markdown(postmortem=postmortem, zone=user_time_zone(request.user))
        except ExportRefused as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)
            return HttpResponseRedirect(
                reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
            )
        response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{markdown_filename(postmortem)}"'
        return response

    def require_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = RequirePostmortemForm(request.POST if request.method == "POST" else None)
        _autocomplete(form.fields["incident"], Postmortem, "incident", self.admin_site)
        if request.method == "POST" and form.is_valid():
            incident = form.cleaned_data["incident"]
            try:
                postmortem = services.postmortem_require(incident=incident, by=request.user)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                if postmortem is None:
                    self.message_user(
                        request,
                        f"{incident.reference} now requires a post-mortem; it is scheduled "
                        "when the incident is resolved.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(reverse("admin:postmortems_postmortem_changelist"))
                self.message_user(
                    request, f"Post-mortem scheduled for {incident.reference}.", messages.SUCCESS
                )
                return HttpResponseRedirect(
                    reverse("admin:postmortems_postmortem_change", args=[postmortem.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Require a post-mortem",
            "opts": self.model._meta,
            "form": form,
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/postmortems/postmortem/require.html", context)


# --- Action items --------------------------------------------------------------------------


def save_action_item_forms(request, postmortem, formset) -> None:
    """The post-mortem page's action item rows, each through the services."""
    for item_form in formset.forms:
        if not item_form.has_changed():
            continue
        is_new = item_form.instance.pk is None
        item = save_action_item(request, item_form, postmortem=postmortem)
        if is_new:
            formset.new_objects.append(item)
        else:
            formset.changed_objects.append((item, item_form.changed_data))


def save_action_item(request, form, *, postmortem) -> ActionItem:
    """Add or change one item from a form: its fields through ``action_item_add`` /
    ``action_item_update``, its status through ``action_item_set_status``."""
    data, user = form.cleaned_data, request.user
    values = {name: data[name] for name in services.ITEM_FIELDS if name in data}
    status = data.get("status")
    if form.instance.pk is None:
        item = services.action_item_add(postmortem=postmortem, by=user, **values)
        if status and status != item.status:
            item = services.action_item_set_status(item=item, status=status, by=user)
        return item
    item = form.instance
    changed = {name: values[name] for name in form.changed_data if name in values}
    if changed:
        item = services.action_item_update(item=item, by=user, **changed)
    if "status" in form.changed_data:
        item = services.action_item_set_status(item=item, status=status, by=user)
    return item


class OwnerFilter(UsernameFilter):
    title = "owner"
    parameter_name = "owner"
    field = "owner"


class OwnerTeamFilter(TeamNameFilter):
    title = "owner's team"
    lookup = "owner__profile__team__name"


class ActionItemOverdueFilter(admin.SimpleListFilter):
    title = "overdue"
    parameter_name = "overdue"

    def lookups(self, request, model_admin):
        return [("yes", "Overdue"), ("no", "Not overdue")]

    def queryset(self, request, queryset):
        overdue = selectors.item_overdue_q(timezone.now())
        if self.value() == "yes":
            return queryset.filter(overdue)
        if self.value() == "no":
            return queryset.exclude(overdue)
        return queryset


@admin.register(ActionItem)
class ActionItemAdmin(GrowingTableAdmin, ServiceAdmin):
    formfield_overrides = URL_FIELDS_HTTPS
    list_display = [
        "title",
        "reference",
        "owner",
        "team",
        "due_date",
        "status",
        "priority",
        "kind",
        "overdue",
    ]
    list_filter = [
        "status",
        ActionItemOverdueFilter,
        OwnerFilter,
        OwnerTeamFilter,
        "kind",
        "priority",
    ]
    search_fields = [
        "title",
        "postmortem__incident__reference",
        "owner__username",
        "owner__first_name",
        "owner__last_name",
    ]
    list_select_related = ["owner__profile__team", "postmortem__incident"]
    list_per_page = 100
    autocomplete_fields = ["owner", "postmortem"]
    actions = ["mark_done", "reassign"]
    history_list_display = ["status", "owner", "due_date"]
    fields = [
        "postmortem",
        "title",
        "description",
        "owner",
        "due_date",
        "kind",
        "priority",
        "status",
        "tracker_url",
        "created_at",
        "completed_at",
        "completed_by",
    ]

    def get_queryset(self, request):
        return selectors.action_item_list()

    def get_readonly_fields(self, request, obj=None):
        readonly = ["created_at", "completed_at", "completed_by"]
        if obj is not None:
            readonly.append("postmortem")
        return readonly

    @admin.display(description="Incident", ordering="postmortem__incident__reference")
    def reference(self, obj):
        return obj.postmortem.incident.reference

    @admin.display(description="Team", ordering="owner__profile__team__name")
    def team(self, obj):
        profile = getattr(obj.owner, "profile", None) if obj.owner else None
        return profile.team.name if profile and profile.team else "—"

    @admin.display(description="Overdue", ordering="due_date")
    def overdue(self, obj):
        if getattr(obj, "is_overdue", False):
            return _badge("overdue", OVERDUE_RED)
        return "—"

    def save_model(self, request, obj, form, change):
        postmortem = obj.postmortem if change else form.cleaned_data["postmortem"]
        item = save_action_item(request, form, postmortem=postmortem)
        obj.pk = item.pk
        obj.refresh_from_db()

    # --- changelist actions ---

    @admin.action(description="Mark selected action items done")
    def mark_done(self, request, queryset):
        done, failed = 0, []
        for item in queryset:
            try:
                services.action_item_complete(item=item, by=request.user)
                done += 1
            except ValidationError as error:
                failed.append(f"{item.title}: {' '.join(error.messages)}")
        if done:
            self.message_user(request, f"{done} action item(s) marked done.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Reassign selected action items…")
    def reassign(self, request, queryset):
        form = ReassignForm(request.POST if "apply" in request.POST else None)
        _autocomplete(form.fields["owner"], ActionItem, "owner", self.admin_site)
        if "apply" in request.POST and form.is_valid():
            try:
                changed = services.action_items_reassign(
                    items=queryset, owner=form.cleaned_data["owner"], by=request.user
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{changed} action item(s) reassigned to {form.cleaned_data['owner']}.",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Reassign action items",
            "opts": self.model._meta,
            "items": queryset,
            "form": form,
            "media": self.media + form.media,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/postmortems/actionitem/reassign.html", context)


# --- Policy --------------------------------------------------------------------------------


@admin.register(PostmortemPolicy)
class PostmortemPolicyAdmin(ServiceAdmin):
    list_display = ["__str__", "draft_within", "review_within", "publish_within"]
    fields = [
        "draft_within",
        "review_within",
        "publish_within",
        "remind_before",
        "item_due_soon_days",
        "item_grace_days",
    ]
    history_list_display = ["draft_within", "review_within", "publish_within"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not PostmortemPolicy.objects.exists()

    def save_model(self, request, obj, form, change):
        policy = services.postmortem_policy_update(
            by=request.user,
            draft_within=form.cleaned_data["draft_within"],
            review_within=form.cleaned_data["review_within"],
            publish_within=form.cleaned_data["publish_within"],
            remind_before=form.cleaned_data["remind_before"],
            item_due_soon_days=form.cleaned_data["item_due_soon_days"],
            item_grace_days=form.cleaned_data["item_grace_days"],
        )
        obj.pk = policy.pk
