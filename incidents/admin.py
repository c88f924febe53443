"""The managers' admin for incidents. Every change to an incident goes through the services, so
the timeline is always written; the timeline itself is read-only here."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import BooleanField, Case, Count, OuterRef, Subquery, Value, When
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django_celery_beat.admin import PeriodicTaskAdmin as BeatPeriodicTaskAdmin
from django_celery_beat.models import PeriodicTask

from incidents import notifications, runbooks, selectors, services, validators
from incidents.admin_changes import ChangesWhatWasChangedAdmin
from incidents.admin_paging import GrowingTableAdmin, ServiceNameFilter, TeamNameFilter
from incidents.forms import (
    NoteForm,
    ResolveForm,
    RoleAssignForm,
    SeverityChangeForm,
    StatusChangeForm,
    StatusUpdateForm,
    add_service_errors,
)
from incidents.models import (
    ApiToken,
    CommunicationTemplate,
    EscalationLevel,
    Incident,
    IncidentRunbook,
    IncidentStatus,
    Notification,
    NotificationStatus,
    Profile,
    RoleAssignment,
    Runbook,
    RunbookStep,
    RunbookVersion,
    Service,
    Severity,
    StatusUpdate,
    Team,
    TimelineEvent,
)

User = get_user_model()


# --- People ------------------------------------------------------------------------------------


class ProfileInline(admin.StackedInline):
    model = Profile
    can_delete = False
    autocomplete_fields = ["team"]
    fields = ["time_zone", "team", "mute_digest"]


admin.site.unregister(User)


@admin.register(User)
class IncidentDeskUserAdmin(UserAdmin):
    inlines = [ProfileInline]
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "team_name"]
    list_select_related = ["profile__team"]
    list_filter = ["is_staff", "is_active", "groups", "profile__team"]

    @admin.display(description="Team", ordering="profile__team__name")
    def team_name(self, obj):
        profile = getattr(obj, "profile", None)
        return profile.team.name if profile and profile.team else "—"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("profile__team")

    def save_model(self, request, obj, form, change):
        switched_off = change and "is_active" in form.changed_data and not obj.is_active
        super().save_model(request, obj, form, change)
        if switched_off:
            for said in services.person_switched_off(user=obj, by=request.user):
                messages.info(request, said)

    # Managers run people (groups, teams, time zones) but cannot raise anyone, themselves
    # included, above the groups' own permissions: superuser status and one-off permissions
    # stay with superusers, and so do superusers' own accounts and passwords.
    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += ["is_superuser", "user_permissions"]
        return fields

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)


class TeamMemberInline(admin.TabularInline):
    """The team's people and their zones. A row is a person's profile (their time zone pays
    their overnight pages), so it is never deleted or created here: someone joins or leaves a
    team on their own user page."""

    model = Profile
    fk_name = "team"
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    # The person is shown, never changed: picking someone else would move this profile (its
    # zone and team) to them and leave the first person without one, re-pricing both.
    fields = ["user", "time_zone"]
    readonly_fields = ["user"]
    verbose_name = "member"
    verbose_name_plural = "members"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "engineering_manager", "member_count", "service_count"]
    search_fields = ["name"]
    autocomplete_fields = ["engineering_manager"]
    list_select_related = ["engineering_manager"]
    inlines = [TeamMemberInline]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _members=Count("members", distinct=True),
                _services=Count("services", distinct=True),
            )
        )

    @admin.display(description="Members", ordering="_members")
    def member_count(self, obj):
        return obj._members

    @admin.display(description="Services", ordering="_services")
    def service_count(self, obj):
        return obj._services


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "is_public"]
    list_filter = ["team", "is_public"]
    search_fields = ["name", "team__name"]
    autocomplete_fields = ["team"]
    list_select_related = ["team"]

    def get_actions(self, request):
        # No bulk delete: deleting a service would take it off every incident that recorded
        # it (history rewritten, per-service figures changed) and off its runbooks.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def has_delete_permission(self, request, obj=None):
        """Only a service nothing refers to yet (a typo fixed at once) can be deleted."""
        if obj is not None and (obj.incidents.exists() or obj.runbooks.exists()):
            return False
        return super().has_delete_permission(request, obj)


# --- Severity policy ---------------------------------------------------------------------------


@admin.register(EscalationLevel)
class EscalationLevelAdmin(admin.ModelAdmin):
    list_display = ["name", "kind"]
    search_fields = ["name"]
    autocomplete_fields = ["users"]
    filter_horizontal = ["groups"]


@admin.register(Severity)
class SeverityAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "label",
        "rank",
        "is_most_severe",
        "acknowledge_within",
        "update_every",
        "escalate_after",
        "escalation_level",
        "postmortem_rule",
        "is_active",
    ]
    list_select_related = ["escalation_level"]
    ordering = ["rank"]
    search_fields = ["name", "label"]

    def has_delete_permission(self, request, obj=None):
        # Incidents keep pointing at their severity: retire a level with "is active" instead.
        return False


@admin.register(CommunicationTemplate)
class CommunicationTemplateAdmin(admin.ModelAdmin):
    list_display = ["kind", "status", "eta"]


# --- Incidents -------------------------------------------------------------------------------


TIMELINE_SHOWN = 100


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RoleAssignmentInline(ReadOnlyInline):
    model = RoleAssignment
    fields = ["role", "user", "assigned_at", "assigned_by", "relieved_at", "relieved_by"]
    readonly_fields = fields
    verbose_name = "role assignment"
    verbose_name_plural = "roles (history; assign below)"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("user", "assigned_by", "relieved_by")
            .order_by("assigned_at", "id")
        )


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    fields = ["posted_at", "audience", "status", "impact", "action", "eta", "author"]
    readonly_fields = fields

    def get_queryset(self, request):
        # The row title reads the incident (StatusUpdate.__str__).
        return (
            super()
            .get_queryset(request)
            .select_related("author", "incident")
            .order_by("-posted_at")
        )


class TimelineEventInline(ReadOnlyInline):
    """The latest events, oldest first. A flapping alert adds an event per repeat, so the page
    managers act from shows a bounded number; the whole timeline is one link away."""

    model = TimelineEvent
    fk_name = "incident"
    fields = ["occurred_at", "kind", "message", "author", "recorded_at"]
    readonly_fields = fields
    verbose_name_plural = f"timeline (the latest {TIMELINE_SHOWN} events; append-only)"

    def get_formset(self, request, obj=None, **kwargs):
        request._timeline_incident = obj
        return super().get_formset(request, obj, **kwargs)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("author")
        incident = getattr(request, "_timeline_incident", None)
        if incident is not None:
            latest = (
                TimelineEvent.objects.filter(incident=incident)
                .order_by("-occurred_at", "-id")
                .values("pk")[:TIMELINE_SHOWN]
            )
            queryset = queryset.filter(pk__in=latest)
        return queryset.order_by("occurred_at", "id")


class IncidentDeclareForm(forms.ModelForm):
    """The admin's add form; saving it declares the incident through the service."""

    class Meta:
        model = Incident
        fields = [
            "title",
            "severity",
            "services",
            "team",
            "detection_method",
            "summary",
            "customer_impact",
            "impact_description",
            "security_related",
            "started_at",
            "detected_at",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["severity"].queryset = Severity.objects.filter(is_active=True)
        self.fields["started_at"].required = False
        self.fields["detected_at"].required = False
        self.fields["started_at"].help_text = "Leave empty: the moment it was detected."
        self.fields["detected_at"].help_text = "Leave empty: now."

    def clean(self):
        cleaned = super().clean()
        now = timezone.now()
        detected = cleaned.get("detected_at") or now
        started = cleaned.get("started_at") or detected
        if detected > now:
            self.add_error("detected_at", services.MOMENT_IN_FUTURE.format(what="Detection"))
        elif validators.too_early(started):
            self.add_error("started_at", validators.TOO_EARLY.format(what="The start"))
        elif validators.too_early(detected):
            self.add_error("detected_at", validators.TOO_EARLY.format(what="Detection"))
        elif started > detected:
            self.add_error("started_at", services.DETECTED_BEFORE_STARTED)
        # The model's constraints are checked against the moments the service will stamp.
        self.instance.detected_at = detected
        self.instance.started_at = started
        return cleaned


class IncidentSeverityFilter(admin.RelatedFieldListFilter):
    def field_choices(self, field, request, model_admin):
        return [(s.pk, str(s)) for s in Severity.objects.order_by("rank")]


def _status_action(to_status: str):
    label = IncidentStatus(to_status).label

    @admin.action(description=f"Move selected incidents to {label.lower()}")
    def action(modeladmin, request, queryset):
        modeladmin.apply_status(request, queryset, to_status)

    action.__name__ = f"move_to_{to_status}"
    return action


@admin.register(Incident)
class IncidentAdmin(ChangesWhatWasChangedAdmin, GrowingTableAdmin, admin.ModelAdmin):
    list_display = [
        "reference",
        "title",
        "severity_badge",
        "status",
        "commander",
        "started_at",
        "duration_display",
    ]
    list_display_links = ["reference", "title"]
    list_filter = [
        ("severity", IncidentSeverityFilter),
        "status",
        TeamNameFilter,
        ServiceNameFilter,
        "detection_method",
        ("started_at", admin.DateFieldListFilter),
    ]
    search_fields = ["reference", "title", "dedup_key"]
    list_select_related = ["severity", "team"]
    list_per_page = 50
    autocomplete_fields = ["services", "team"]
    inlines = [RoleAssignmentInline, StatusUpdateInline, TimelineEventInline]
    change_form_template = "admin/incidents/incident/change_form.html"
    actions = [
        _status_action(IncidentStatus.IDENTIFIED),
        _status_action(IncidentStatus.MITIGATED),
        _status_action(IncidentStatus.MONITORING),
        "resolve_with_checklist",
        _status_action(IncidentStatus.CLOSED),
    ]
    readonly_fields = [
        "reference",
        "severity",
        "status",
        "started_at",
        "detected_at",
        "acknowledged_at",
        "acknowledged_by",
        "mitigated_at",
        "resolved_at",
        "closed_at",
        "declared_by",
        "declared_at",
        "dedup_key",
        "durations",
        "whole_timeline",
    ]
    fieldsets = [
        (
            None,
            {"fields": ["reference", "title", "severity", "status", "summary", "services", "team"]},
        ),
        (
            "Impact",
            {
                "fields": [
                    "detection_method",
                    "customer_impact",
                    "impact_description",
                    "users_affected",
                    ("revenue_impact", "revenue_currency"),
                    ("data_loss", "data_loss_details"),
                    "security_related",
                ]
            },
        ),
        (
            "Cause and follow-up",
            {
                "fields": [
                    "root_cause_category",
                    "root_cause",
                    "mitigation_action",
                    "channel_name",
                    "postmortem_required",
                    "dedup_key",
                ]
            },
        ),
        (
            "Moments (stamped by status changes)",
            {
                "fields": [
                    ("started_at", "detected_at"),
                    ("acknowledged_at", "acknowledged_by"),
                    "mitigated_at",
                    ("resolved_at", "closed_at"),
                    ("declared_by", "declared_at"),
                    "durations",
                    "whole_timeline",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return selectors.incident_list()

    @admin.display(description="Timeline")
    def whole_timeline(self, obj):
        if obj is None or obj.pk is None:
            return "-"
        url = reverse("admin:incidents_timelineevent_changelist")
        return format_html(
            '<a href="{}?incident__id__exact={}">Every event of {}</a> (the page shows the '
            "latest {})",
            url,
            obj.pk,
            obj.reference,
            TIMELINE_SHOWN,
        )

    def has_delete_permission(self, request, obj=None):
        # Incidents are records: they are closed, never deleted.
        return False

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = IncidentDeclareForm
            kwargs["fields"] = IncidentDeclareForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return [(None, {"fields": IncidentDeclareForm.Meta.fields})]
        return self.fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    # --- columns ---

    @admin.display(description="Severity", ordering="severity__rank")
    def severity_badge(self, obj):
        return format_html(
            '<span style="color:#fff;background:{};padding:1px 6px;border-radius:3px">{}</span>',
            obj.severity.color,
            obj.severity.name,
        )

    @admin.display(description="Commander")
    def commander(self, obj):
        return getattr(obj, "commander_name", None) or "—"

    @admin.display(description="Duration")
    def duration_display(self, obj):
        return selectors.format_duration(obj.duration())

    @admin.display(description="Durations")
    def durations(self, obj):
        d = selectors.incident_durations(incident=obj)
        rows = [
            ("Time to detect", d.time_to_detect),
            ("Time to acknowledge", d.time_to_acknowledge),
            ("Time to mitigate", d.time_to_mitigate),
            ("Time to resolve", d.time_to_resolve),
            ("Duration" + (" so far" if d.is_open else ""), d.duration),
        ]
        return format_html(
            "<br>".join(["{}: {}"] * len(rows)),
            *[item for label, value in rows for item in (label, selectors.format_duration(value))],
        )

    # --- saving goes through the services ---

    def save_model(self, request, obj, form, change):
        if not change:
            incident = services.incident_declare(
                title=form.cleaned_data["title"],
                severity=form.cleaned_data["severity"],
                declared_by=request.user,
                services=form.cleaned_data.get("services") or [],
                team=form.cleaned_data.get("team"),
                detection_method=form.cleaned_data["detection_method"],
                summary=form.cleaned_data.get("summary", ""),
                customer_impact=form.cleaned_data.get("customer_impact", False),
                impact_description=form.cleaned_data.get("impact_description", ""),
                security_related=form.cleaned_data.get("security_related", False),
                started_at=form.cleaned_data.get("started_at"),
                detected_at=form.cleaned_data.get("detected_at"),
            )
            obj.pk = incident.pk
            obj.refresh_from_db()
            return
        changes = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in services.EDITABLE_DETAILS
        }
        new_services = (
            form.cleaned_data.get("services") if "services" in form.changed_data else None
        )
        services.incident_update_details(
            incident=obj, by=request.user, services=new_services, **changes
        )

    def save_related(self, request, form, formsets, change):
        # Services were set by the service functions above (form.save_m2m would bypass the
        # timeline). The inlines are read-only, so saving their formsets writes nothing.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    # --- changelist actions ---

    def apply_status(self, request, queryset, to_status: str) -> None:
        done, failed = 0, []
        for incident in queryset:
            try:
                services.incident_change_status(
                    incident=incident, to_status=to_status, by=request.user
                )
                done += 1
            except ValidationError as error:
                failed.append(f"{incident.reference}: {' '.join(error.messages)}")
        label = IncidentStatus(to_status).label.lower()
        if done:
            self.message_user(request, f"{done} incident(s) moved to {label}.", messages.SUCCESS)
        for line in failed:
            self.message_user(request, line, messages.ERROR)

    @admin.action(description="Resolve selected incidents (with the checklist)")
    def resolve_with_checklist(self, request, queryset):
        form = ResolveForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            done, failed = 0, []
            for incident in queryset:
                try:
                    services.incident_resolve(
                        incident=incident,
                        by=request.user,
                        checklist=form.checklist(),
                        note=form.cleaned_data["note"],
                    )
                    done += 1
                except ValidationError as error:
                    failed.append(f"{incident.reference}: {' '.join(error.messages)}")
            if done:
                self.message_user(request, f"{done} incident(s) resolved.", messages.SUCCESS)
            for line in failed:
                self.message_user(request, line, messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Resolve incidents",
            "opts": self.model._meta,
            "incidents": queryset,
            "form": form,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/incidents/incident/resolve.html", context)

    # --- acting on one incident from its page ---

    ACTIONS = {
        "update": ("Post a status update", StatusUpdateForm),
        "note": ("Add a note", NoteForm),
        "status": ("Change status", StatusChangeForm),
        "severity": ("Change severity", SeverityChangeForm),
        "role": ("Assign or hand over a role", RoleAssignForm),
        "acknowledge": ("Acknowledge", forms.Form),
    }

    def get_urls(self):
        custom = [
            path(
                "<int:object_id>/act/<str:action>/",
                self.admin_site.admin_view(self.act_view),
                name="incidents_incident_act",
            )
        ]
        return custom + super().get_urls()

    def _action_forms(self, request, incident, bound: dict | None = None):
        bound = bound or {}
        role_form = bound.get("role") or RoleAssignForm()
        user_field = role_form.fields["user"]
        user_field.widget = AutocompleteSelect(
            RoleAssignment._meta.get_field("user"), self.admin_site
        )
        user_field.widget.choices = user_field.choices
        return {
            "update_form": bound.get("update")
            or StatusUpdateForm(initial=StatusUpdateForm.initial_for(incident)),
            "note_form": bound.get("note") or NoteForm(),
            "status_form": bound.get("status") or StatusChangeForm(incident=incident),
            "severity_form": bound.get("severity")
            or SeverityChangeForm(initial={"severity": incident.severity_id}),
            "role_form": role_form,
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        incident = self.get_object(request, object_id)
        if incident is not None:
            extra_context.update(self._action_forms(request, incident))
        return super().change_view(request, object_id, form_url, extra_context)

    def act_view(self, request, object_id: int, action: str):
        incident = get_object_or_404(Incident, pk=object_id)
        if action not in self.ACTIONS:
            raise PermissionDenied
        if not self.has_change_permission(request, incident):
            raise PermissionDenied
        change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        title, form_class = self.ACTIONS[action]
        kwargs = {"incident": incident} if form_class is StatusChangeForm else {}
        form = form_class(request.POST, **kwargs)
        if form.is_valid():
            try:
                self._perform(action, request, incident, form)
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, f"{title}: done.", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {incident.reference}",
            "opts": self.model._meta,
            "original": incident,
            "form": form,
            "change_url": change_url,
            "action_url": request.path,
        }
        return TemplateResponse(request, "admin/incidents/incident/act.html", context, status=400)

    def _perform(self, action: str, request, incident, form) -> None:
        data = form.cleaned_data
        user = request.user
        if action == "update":
            services.status_update_post(incident=incident, author=user, **data)
        elif action == "note":
            services.note_add(incident=incident, author=user, text=data["text"])
        elif action == "status":
            services.incident_change_status(
                incident=incident,
                to_status=data["to_status"],
                by=user,
                checklist=form.checklist(),
                note=data["note"],
                mitigation_action=data["mitigation_action"],
            )
        elif action == "severity":
            services.incident_change_severity(
                incident=incident, severity=data["severity"], by=user, reason=data["reason"]
            )
        elif action == "role":
            services.role_assign(incident=incident, role=data["role"], user=data["user"], by=user)
        elif action == "acknowledge":
            services.incident_acknowledge(incident=incident, by=user)


@admin.register(TimelineEvent)
class TimelineEventAdmin(GrowingTableAdmin, admin.ModelAdmin):
    """All timelines, for looking things up. Read-only: history is never edited."""

    list_display = ["occurred_at", "incident", "kind", "message", "author"]
    list_filter = ["kind", ("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["incident__reference", "message"]
    list_select_related = ["incident", "author"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(GrowingTableAdmin, admin.ModelAdmin):
    """Every notification, sent or not: managers see failures with their error and resend."""

    list_display = [
        "created_at",
        "kind",
        "destination_display",
        "subject",
        "status",
        "attempts",
        "sent_at",
    ]
    list_filter = ["status", "kind", "channel", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["key", "subject", "recipient__username", "incident__reference"]
    list_select_related = ["recipient", "incident"]
    readonly_fields = [
        "key",
        "kind",
        "channel",
        "recipient",
        "webhook_url",
        "incident",
        "subject",
        "body",
        "link",
        "payload",
        "status",
        "attempts",
        "last_error",
        "created_at",
        "next_attempt_at",
        "claimed_at",
        "sent_at",
    ]
    fields = readonly_fields
    actions = ["resend"]

    @admin.display(description="To")
    def destination_display(self, obj):
        return obj.destination

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Send the selected notifications again")
    def resend(self, request, queryset):
        count = skipped = obsolete = 0
        for notification in queryset:
            if notifications.notification_resend(notification=notification):
                count += 1
            elif notification.status == NotificationStatus.OBSOLETE:
                obsolete += 1
            else:
                skipped += 1
        self.message_user(request, f"{count} notification(s) queued to be sent again.")
        if obsolete:
            self.message_user(
                request,
                f"{obsolete} no longer apply and were not sent (their last error says why).",
                messages.WARNING,
            )
        if skipped:
            self.message_user(
                request,
                f"{skipped} left as they are: one being sent or still pending is on its way "
                "(sent again, it would reach its recipient twice).",
                messages.WARNING,
            )


# --- Runbooks -----------------------------------------------------------------------------------


class RunbookStepInline(admin.TabularInline):
    model = RunbookStep
    extra = 1
    fields = ["position", "title", "body", "command"]
    ordering = ["position"]


class RunbookRunInline(ReadOnlyInline):
    model = IncidentRunbook
    fields = ["incident", "version", "started_at", "started_by"]
    readonly_fields = fields
    verbose_name = "use in an incident"
    verbose_name_plural = "used in incidents"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("incident", "version", "started_by")
            .order_by("-started_at")
        )


class StaleRunbookFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "stale"

    def lookups(self, request, model_admin):
        return [("yes", "Not reviewed for 90 days"), ("no", "Reviewed within 90 days")]

    def queryset(self, request, queryset):
        stale = runbooks.stale_q(timezone.now())
        if self.value() == "yes":
            return queryset.filter(stale)
        if self.value() == "no":
            return queryset.exclude(stale)
        return queryset


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    """Managers write runbooks here (steps inline, ordered by position); each saved change
    becomes a new version, so incidents keep the version they followed."""

    list_display = [
        "title",
        "owner_team",
        "current_version",
        "times_used",
        "last_reviewed_at",
        "stale",
        "is_active",
    ]
    list_filter = [StaleRunbookFilter, "owner_team", "is_active"]
    search_fields = ["title", "tags", "summary"]
    list_select_related = ["owner_team"]
    autocomplete_fields = ["owner_team", "services"]
    readonly_fields = ["last_reviewed_at", "last_reviewed_by", "created_at"]
    inlines = [RunbookStepInline, RunbookRunInline]
    actions = ["mark_reviewed"]

    def get_queryset(self, request):
        latest = (
            RunbookVersion.objects.filter(runbook=OuterRef("pk"))
            .order_by("-number")
            .values("number")[:1]
        )
        return (
            runbooks.runbook_usage()
            .select_related("owner_team")
            .annotate(
                _version=Subquery(latest),
                _stale=Case(
                    When(runbooks.stale_q(timezone.now()), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(),
                ),
            )
        )

    @admin.display(description="Version", ordering="_version")
    def current_version(self, obj):
        return obj._version or "—"

    @admin.display(description="Used", ordering="times_used")
    def times_used(self, obj):
        return obj.times_used

    @admin.display(description="Stale", boolean=True, ordering="_stale")
    def stale(self, obj):
        return obj._stale

    def save_formset(self, request, form, formset, change):
        if formset.model is RunbookStep and change:
            with runbooks.renumbering_steps(form.instance):
                super().save_formset(request, form, formset, change)
        else:
            super().save_formset(request, form, formset, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        runbooks.runbook_snapshot(runbook=form.instance, by=request.user)

    @admin.action(description="Mark the selected runbooks reviewed")
    def mark_reviewed(self, request, queryset):
        for runbook in queryset:
            runbooks.runbook_mark_reviewed(runbook=runbook, by=request.user)
        self.message_user(request, f"{queryset.count()} runbook(s) marked reviewed.")


# --- API tokens ----------------------------------------------------------------------------------


ISSUING_FOR_SUPERUSER = "Only a superuser can issue a token acting as a superuser."


class ApiTokenIssueForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name"]

    # Set by the admin: who issues the token.
    issuer = None

    def clean_user(self):
        user = self.cleaned_data["user"]
        if not user.is_active:
            raise forms.ValidationError(services.INACTIVE_USER.format(user=user))
        if user.is_superuser and not (self.issuer and self.issuer.is_superuser):
            # The user admin keeps superusers' accounts with superusers; a token acting as one
            # would be a way around that.
            raise forms.ValidationError(ISSUING_FOR_SUPERUSER)
        return user


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Managers issue tokens (the secret is shown once, on the page after saving) and revoke
    them. Tokens are never edited or deleted: a revoked token stays listed with who revoked it
    and when."""

    list_display = [
        "name",
        "user",
        "prefix",
        "state",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user", "created_by"]
    autocomplete_fields = ["user"]
    show_full_result_count = False
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]

    @admin.display(description="State")
    def state(self, obj):
        return "active" if obj.is_active else "revoked"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = type("IssueForm", (ApiTokenIssueForm,), {"issuer": request.user})
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ApiTokenIssueForm.Meta.fields

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing on an issued token is editable
        token, plain = services.api_token_issue(
            user=form.cleaned_data["user"], name=form.cleaned_data["name"], by=request.user
        )
        obj.pk = token.pk
        obj.refresh_from_db()
        # Kept on this object only for the next page; the database has only the hash.
        obj.plain_token = plain

    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": "API token issued",
            "opts": self.model._meta,
            "token": obj,
            "plain": obj.plain_token,
        }
        response = TemplateResponse(request, "admin/incidents/apitoken/issued.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        revoked = 0
        for token in queryset:
            try:
                services.api_token_revoke(token=token, by=request.user)
            except ValidationError as error:
                self.message_user(request, f"{token}: {' '.join(error.messages)}", messages.ERROR)
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"{revoked} token(s) revoked.", messages.SUCCESS)


# --- The product's own periodic tasks (django-celery-beat) ------------------------------------

# Deleting one, or a schedule it runs on (the delete cascades), would stop reminders,
# escalations or every email for good: the migrations that registered them do not run again.
OWN_TASK_PREFIXES = ("incidents.", "oncall.", "postmortems.")

admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(BeatPeriodicTaskAdmin):
    """Managers pause (untick "Enabled") and retime the product's periodic tasks, and add and
    delete their own; the product's are never deleted, nor the schedules they run on."""

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.task.startswith(OWN_TASK_PREFIXES):
            return False
        return super().has_delete_permission(request, obj)
