"""The managers' admin for on-call: rotations, shifts, pages, policies, pay periods and comp
time. Business writes (generating and overriding shifts, superseding a policy, closing a
period, approving comp time) go through ``oncall.services``."""

from datetime import datetime, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import (
    BooleanField,
    Case,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    Value,
    When,
)
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from incidents.admin_paging import GrowingTableAdmin
from incidents.admin_widgets import KnownPeopleAutocomplete
from incidents.forms import WallClockSplitDateTimeField, add_service_errors
from oncall import services
from oncall.models import (
    CompensationLine,
    CompensationPolicy,
    CompTimeTaken,
    Handoff,
    Page,
    PayPeriod,
    PayPeriodStatus,
    Rotation,
    RotationMember,
    Shift,
    ShiftSource,
)
from oncall.selectors import can_be_on_call

User = get_user_model()


def _report_errors(modeladmin, request, done: int, failed: list[str], verb: str) -> None:
    if done:
        modeladmin.message_user(request, f"{done} {verb}.", messages.SUCCESS)
    for line in failed:
        modeladmin.message_user(request, line, messages.ERROR)
    if not done and not failed:
        modeladmin.message_user(request, f"Nothing to do: 0 {verb}.", messages.WARNING)


# --- Rotations -------------------------------------------------------------------------------


class OnlyRespondersOnCall:
    """Put on call only who ``can_be_on_call``."""

    on_call_fields: tuple[str, ...] = ()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.on_call_fields:
            kwargs["queryset"] = can_be_on_call()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class RotationMemberInline(OnlyRespondersOnCall, admin.TabularInline):
    model = RotationMember
    extra = 1
    autocomplete_fields = ["user"]
    ordering = ["position"]
    on_call_fields = ("user",)

    def get_formset(self, request, obj=None, **kwargs):
        # The members, read once (the autocomplete box would read each row's person).
        users = RotationMember.objects.filter(rotation=obj).values("user_id") if obj else []
        known = {str(user.pk): user for user in User.objects.filter(pk__in=users)}
        field = RotationMember._meta.get_field("user")
        widgets = kwargs.pop("widgets", None) or {}
        widgets["user"] = KnownPeopleAutocomplete(field, self.admin_site, known)
        return super().get_formset(request, obj, widgets=widgets, **kwargs)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user")


# While a reorder is saved, the members whose position changes are first moved to spare
# numbers at the top of the field's range (two members may swap numbers, and each row is
# written while the other still holds its number).
POSITION_TOP = 32767


class GenerateShiftsForm(forms.Form):
    weeks = forms.IntegerField(min_value=1, max_value=52, initial=8, help_text="From this week.")


@admin.register(Rotation)
class RotationAdmin(admin.ModelAdmin):
    list_display = ["name", "team", "time_zone", "handoff", "has_secondary", "is_active"]
    list_filter = ["team", "is_active"]
    search_fields = ["name", "team__name"]
    list_select_related = ["team"]
    autocomplete_fields = ["team"]
    inlines = [RotationMemberInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "is_active" in form.changed_data and not obj.is_active:
            removed, cut = services.rotation_retire(rotation=obj)
            if removed or cut:
                self.message_user(
                    request,
                    f"{obj} is no longer in use: {removed} shift(s) not started yet were "
                    f"removed and {cut} running now ended now.",
                    messages.WARNING,
                )
        elif change and "has_secondary" in form.changed_data and not obj.has_secondary:
            removed, cut = services.rotation_secondary_dropped(rotation=obj)
            if removed or cut:
                self.message_user(
                    request,
                    f"{obj} has no secondary any more: {removed} secondary shift(s) not "
                    f"started yet were removed and {cut} running now ended now.",
                    messages.WARNING,
                )

    def save_formset(self, request, form, formset, change):
        left = []
        if formset.model is RotationMember and form.instance.pk is not None:
            members = RotationMember.objects.filter(rotation=form.instance)
            stored = {m.pk: m for m in members.select_related("user")}
            # A row given another person, or about to go: out of the way first, as two people
            # swapped between rows would each meet the other on the way (one person per
            # rotation). The formset writes a changed row again under its id.
            replaced = [
                f.instance.pk
                for f in formset.initial_forms
                if f.instance.pk in stored
                and ("user" in f.changed_data or f in formset.deleted_forms)
            ]
            left = [stored[pk].user for pk in replaced]
            members.filter(pk__in=replaced).delete()
            # Rows taking a new number: to spare numbers first (their number may be taken).
            moving = [
                f.instance.pk
                for f in formset.initial_forms
                if f.instance.pk in stored
                and f.instance.pk not in replaced
                and "position" in f.changed_data
            ]
            if moving:
                used = set(members.values_list("position", flat=True)) | {
                    f.cleaned_data.get("position") for f in formset.forms if f.cleaned_data
                }
                spare = (n for n in range(POSITION_TOP, -1, -1) if n not in used)
                for pk in moving:
                    members.filter(pk=pk).update(position=next(spare))
        # The formset then writes the final rows; it has checked the numbers are unique.
        super().save_formset(request, form, formset, change)
        if formset.model is RotationMember:
            staying = set(form.instance.members.values_list("user_id", flat=True))
            for user in left:
                if user.pk in staying:
                    continue
                dropped = services.rotation_member_left(rotation=form.instance, user=user)
                if dropped:
                    self.message_user(
                        request,
                        f"{user.get_username()} left {form.instance}: their {dropped} shift(s) "
                        "not started yet were removed. Generate shifts to fill those weeks.",
                        messages.WARNING,
                    )

    actions = ["generate_shifts"]

    @admin.display(description="Handoff")
    def handoff(self, obj):
        return f"{obj.get_handoff_weekday_display()} {obj.handoff_time:%H:%M}"

    @admin.action(description="Generate shifts ahead for the selected rotations")
    def generate_shifts(self, request, queryset):
        form = GenerateShiftsForm(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            created, failed = 0, []
            for rotation in queryset:
                try:
                    created += len(
                        services.rotation_generate_shifts(
                            rotation=rotation, weeks=form.cleaned_data["weeks"], by=request.user
                        )
                    )
                except ValidationError as error:
                    failed.append(f"{rotation}: {' '.join(error.messages)}")
            _report_errors(self, request, created, failed, "shift(s) created")
            if not created and not failed:
                self.message_user(request, "Every week already had its shifts.", messages.INFO)
            return None
        return TemplateResponse(
            request,
            "admin/oncall/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": "Generate shifts",
                "opts": self.model._meta,
                "objects": queryset,
                "form": form,
                "action": "generate_shifts",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
            },
        )


# --- Shifts ----------------------------------------------------------------------------------


WEEKS_OFFERED = range(-4, 9)


class WeekFilter(admin.SimpleListFilter):
    """Shifts running during a calendar week (Monday 00:00 to Monday 00:00, viewer's zone)."""

    title = "week"
    parameter_name = "week"

    def _monday(self, offset: int):
        today = timezone.localdate()
        return today - timedelta(days=today.weekday()) + timedelta(weeks=offset)

    def lookups(self, request, model_admin):
        labels = {-1: "Last week", 0: "This week", 1: "Next week"}
        return [
            (str(offset), f"{labels.get(offset, 'Week of')} {self._monday(offset):%Y-%m-%d}")
            for offset in WEEKS_OFFERED
        ]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        try:
            offset = int(self.value())
        except ValueError:
            return queryset
        if not WEEKS_OFFERED.start <= offset < WEEKS_OFFERED.stop:
            return queryset  # only the weeks the filter offers (a far one overflows the date)
        zone = timezone.get_current_timezone()
        start = datetime.combine(self._monday(offset), datetime.min.time(), tzinfo=zone)
        return queryset.filter(starts_at__lt=start + timedelta(weeks=1), ends_at__gt=start)


class OverrideFilter(admin.SimpleListFilter):
    title = "override"
    parameter_name = "override"

    def lookups(self, request, model_admin):
        return [("yes", "Overrides"), ("no", "Regular shifts")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(source=ShiftSource.OVERRIDE)
        if self.value() == "no":
            return queryset.exclude(source=ShiftSource.OVERRIDE)
        return queryset


class OverrideForm(forms.Form):
    engineer = forms.ModelChoiceField(
        queryset=can_be_on_call().order_by("username"),
        label="Covering engineer",
    )
    # A time typed in the hour the clocks go back is read (the first of the two), not refused:
    # that night is when cover is asked for.
    starts_at = WallClockSplitDateTimeField(label="From", widget=admin.widgets.AdminSplitDateTime)
    ends_at = WallClockSplitDateTimeField(label="Until", widget=admin.widgets.AdminSplitDateTime)
    reason = forms.CharField(required=False, max_length=200)
    swap = forms.BooleanField(
        required=False,
        label="Swap",
        help_text="When the covering engineer holds the other role then, the engineer covered "
        "takes it for those hours: primary and secondary trade places.",
    )


class ShiftForm(forms.ModelForm):
    """A shift added or moved by hand never overlaps another of its rotation and role."""

    class Meta:
        model = Shift
        fields = [
            "rotation",
            "engineer",
            "role",
            "starts_at",
            "ends_at",
            "source",
            "covered_engineer",
            "reason",
        ]

    def clean(self):
        cleaned = super().clean()
        rotation, role = cleaned.get("rotation"), cleaned.get("role")
        starts_at, ends_at = cleaned.get("starts_at"), cleaned.get("ends_at")
        if rotation and role and starts_at and ends_at and ends_at > starts_at:
            problem = services.shift_overlap_problem(
                rotation=rotation,
                role=role,
                starts_at=starts_at,
                ends_at=ends_at,
                exclude_pk=self.instance.pk,
            )
            if problem:
                raise forms.ValidationError(problem)
            if not rotation.is_active and ends_at > timezone.now():
                # History may be corrected; hours to come would be paid for a rotation that
                # pages nobody.
                raise forms.ValidationError({"rotation": services.ROTATION_RETIRED})
            engineer = cleaned.get("engineer")
            if engineer is not None:
                problem = services.shift_both_roles_problem(
                    rotation=rotation,
                    role=role,
                    engineer=engineer,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    exclude_pk=self.instance.pk,
                )
                if problem:
                    raise forms.ValidationError({"engineer": problem})
        return cleaned


@admin.register(Shift)
class ShiftAdmin(OnlyRespondersOnCall, GrowingTableAdmin, admin.ModelAdmin):
    form = ShiftForm
    list_display = [
        "engineer",
        "role",
        "rotation",
        "starts_at",
        "ends_at",
        "source",
        "covered_engineer",
    ]
    list_filter = [
        ("rotation__team", admin.RelatedOnlyFieldListFilter),
        ("engineer", admin.RelatedOnlyFieldListFilter),
        WeekFilter,
        OverrideFilter,
        "role",
        "source",
    ]
    search_fields = ["engineer__username", "engineer__first_name", "engineer__last_name"]
    list_select_related = ["engineer", "rotation__team", "covered_engineer"]
    autocomplete_fields = ["engineer", "rotation", "covered_engineer"]
    on_call_fields = ("engineer",)
    readonly_fields = ["overrides", "created_by", "created_at"]
    actions = ["override_part"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        field = form.base_fields.get("engineer")
        if obj is not None and field is not None:
            # A shift someone worked before they left can still be corrected: its engineer
            # stays a choice. Anyone else put on call must be able to be.
            field.queryset = User.objects.filter(
                Q(pk__in=field.queryset.values("pk")) | Q(pk=obj.engineer_id)
            )
        return form

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Override part of the selected shift (swap, sickness)")
    def override_part(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one shift to override.", messages.ERROR)
            return None
        shift = queryset.get()
        form = OverrideForm(
            request.POST if "apply" in request.POST else None,
            initial={"starts_at": shift.starts_at, "ends_at": shift.ends_at},
        )
        if "apply" in request.POST and form.is_valid():
            try:
                services.shift_override(
                    shift=shift,
                    starts_at=form.cleaned_data["starts_at"],
                    ends_at=form.cleaned_data["ends_at"],
                    engineer=form.cleaned_data["engineer"],
                    reason=form.cleaned_data["reason"],
                    by=request.user,
                    swap=form.cleaned_data["swap"],
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(request, "Override created.", messages.SUCCESS)
                return None
        return TemplateResponse(
            request,
            "admin/oncall/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Override part of {shift}",
                "opts": self.model._meta,
                "objects": [shift],
                "form": form,
                "action": "override_part",
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media + form.media,
            },
        )


@admin.register(Handoff)
class HandoffAdmin(GrowingTableAdmin, admin.ModelAdmin):
    list_display = [
        "handoff_at",
        "rotation",
        "outgoing",
        "incoming",
        "written_at",
        "acknowledged_at",
    ]
    list_filter = [("rotation__team", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["rotation__team", "outgoing", "incoming"]
    search_fields = ["outgoing__username", "incoming__username", "summary"]
    readonly_fields = [
        "rotation",
        "handoff_at",
        "outgoing",
        "incoming",
        "summary",
        "written_at",
        "acknowledged_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # The summary is the outgoing engineer's words, confirmed by the incoming one:
        # managers read it; nobody rewrites it here.
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # nor erases it


# --- Pages -----------------------------------------------------------------------------------


class AcknowledgedInTimeFilter(admin.SimpleListFilter):
    title = "acknowledgement"
    parameter_name = "ack"

    def lookups(self, request, model_admin):
        return [
            ("in_time", "Within target"),
            ("late", "Late"),
            ("never", "Not acknowledged"),
        ]

    def queryset(self, request, queryset):
        if self.value() == "in_time":
            return queryset.filter(acknowledged_at__lte=F("ack_due_at"))
        if self.value() == "late":
            return queryset.filter(acknowledged_at__gt=F("ack_due_at"))
        if self.value() == "never":
            return queryset.filter(acknowledged_at__isnull=True)
        return queryset


@admin.register(Page)
class PageAdmin(GrowingTableAdmin, admin.ModelAdmin):
    list_display = [
        "paged_at",
        "engineer",
        "incident",
        "source",
        "acknowledged_at",
        "time_to_acknowledge",
        "met_target",
    ]
    list_filter = [AcknowledgedInTimeFilter, "source", ("paged_at", admin.DateFieldListFilter)]
    search_fields = ["engineer__username", "incident__reference", "message"]
    list_select_related = ["engineer", "incident"]
    autocomplete_fields = ["engineer", "incident"]
    readonly_fields = ["escalated_from"]

    # Pages are recorded by the services (declaring, escalating, the paging tool's API), which
    # write each on its incident's timeline and notify; the admin shows them. A recorded page
    # is never deleted: the SEV-1 bonus and comp time rest on it.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            # A recorded page is a fact the pay and the response targets rest on: who was
            # paged, when, and when they answered stay as recorded.
            return [
                "engineer",
                "incident",
                "paged_at",
                "ack_due_at",
                "acknowledged_at",
                "source",
                # Escalation rests on these: a changed level or team silences or redirects it.
                "team",
                "escalation_level",
                *self.readonly_fields,
            ]
        return self.readonly_fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _met=Case(
                    When(acknowledged_at__isnull=True, then=Value(None)),
                    When(acknowledged_at__lte=F("ack_due_at"), then=Value(True)),
                    default=Value(False),
                    output_field=BooleanField(null=True),
                ),
                _tta=ExpressionWrapper(
                    F("acknowledged_at") - F("paged_at"), output_field=DurationField()
                ),
            )
        )

    @admin.display(description="Time to acknowledge", ordering="_tta")
    def time_to_acknowledge(self, obj):
        value = obj.time_to_acknowledge
        if value is None:
            return "—"
        minutes, seconds = divmod(int(value.total_seconds()), 60)
        return f"{minutes} min {seconds:02d} s"

    @admin.display(description="Within target", boolean=True, ordering="_met")
    def met_target(self, obj):
        return obj.acknowledged_in_time


# --- Money -----------------------------------------------------------------------------------


class PolicyForm(forms.ModelForm):
    class Meta:
        model = CompensationPolicy
        fields = [
            "effective_from",
            "currency",
            "weekly_stipend",
            "sev1_bonus",
            "comp_hours_per_overnight_page",
            "overnight_start",
            "overnight_end",
        ]

    def clean_effective_from(self):
        value = self.cleaned_data["effective_from"]
        problem = services.compensation_policy_supersede_problem(value)
        if problem:
            raise ValidationError(problem)
        return value

    def _get_validation_exclusions(self):
        # The model's one-policy-per-start rule is the service's to keep: a policy not yet in
        # force on the same date is replaced by this one, one in force was refused above.
        return {*super()._get_validation_exclusions(), "effective_from"}


@admin.register(CompensationPolicy)
class CompensationPolicyAdmin(admin.ModelAdmin):
    """Policies are added (superseding the one in force) and never edited once in force."""

    form = PolicyForm
    list_display = [
        "effective_from",
        "effective_to",
        "currency",
        "weekly_stipend",
        "sev1_bonus",
        "comp_hours_per_overnight_page",
        "overnight_window",
    ]

    @admin.display(description="Overnight")
    def overnight_window(self, obj):
        return f"{obj.overnight_start:%H:%M}-{obj.overnight_end:%H:%M}"

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.effective_from <= services.project_today():
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        policy = services.compensation_policy_supersede(by=request.user, **form.cleaned_data)
        obj.pk = policy.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        services.compensation_policy_withdraw(obj)

    def delete_queryset(self, request, queryset):
        # Latest first, so each withdrawal hands its end to a policy that stays.
        for policy in queryset.order_by("-effective_from"):
            services.compensation_policy_withdraw(policy)


class CompensationLineInline(admin.TabularInline):
    model = CompensationLine
    fk_name = "pay_period"
    extra = 0
    can_delete = False
    fields = [
        "username",
        "adjusts",
        "on_call_hours",
        "stipend",
        "sev1_incidents",
        "sev1_bonus",
        "overnight_pages",
        "comp_time_hours",
        "total_pay",
        "currency",
    ]
    readonly_fields = fields
    verbose_name_plural = "frozen lines"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .select_related("adjusts", "pay_period")
            .order_by("username")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PayPeriod)
class PayPeriodAdmin(admin.ModelAdmin):
    list_display = ["start_date", "end_date", "status", "closed_at", "closed_by", "report_link"]
    # A date filter rather than the date drill-down, whose year 9999 was a 500.
    list_filter = ["status", "start_date"]
    list_select_related = ["closed_by"]
    readonly_fields = ["status", "closed_at", "closed_by"]
    inlines = [CompensationLineInline]
    actions = ["close_periods"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.is_closed:
            return ["start_date", "end_date", *self.readonly_fields]
        return self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_closed:
            return False
        return super().has_delete_permission(request, obj)

    @admin.display(description="Report")
    def report_link(self, obj):
        url = reverse("oncall:compensation") + f"?period={obj.pk}"
        return format_html('<a href="{}">Open report</a>', url)

    @admin.action(description="Close the selected pay periods (freeze their figures)")
    def close_periods(self, request, queryset):
        done, failed = 0, []
        for period in queryset.order_by("start_date"):
            try:
                services.pay_period_close(pay_period=period, by=request.user)
                done += 1
            except ValidationError as error:
                failed.append(f"{period}: {' '.join(error.messages)}")
        _report_errors(self, request, done, failed, "pay period(s) closed")


class CompTimeForm(forms.ModelForm):
    """Comp time logged or corrected by a manager keeps the engineers' rule: a day holds at
    most 24 hours over all its entries."""

    class Meta:
        model = CompTimeTaken
        fields = ["engineer", "date", "hours", "note"]

    def clean(self):
        cleaned = super().clean()
        engineer, day, hours = cleaned.get("engineer"), cleaned.get("date"), cleaned.get("hours")
        stored = self.instance.date if self.instance.pk else None
        changed = {"engineer", "date", "hours"} & set(self.changed_data)
        if stored and changed and (problem := services.comp_time_closed_problem(stored)):
            # Paid as it stood: not moved out, given to someone else or changed.
            self.add_error(None, problem)
            return cleaned
        moved = "date" in self.changed_data or "hours" in self.changed_data
        if day and moved and (problem := services.comp_time_date_problem(day)):
            self.add_error("date", problem)
            return cleaned
        if engineer and day and hours is not None:
            problem = services.comp_time_day_problem(
                engineer=engineer, day=day, hours=hours, exclude_pk=self.instance.pk
            )
            if problem:
                self.add_error("hours", problem)
        return cleaned


@admin.register(CompTimeTaken)
class CompTimeTakenAdmin(GrowingTableAdmin, admin.ModelAdmin):
    form = CompTimeForm
    list_display = ["engineer", "date", "hours", "note", "approved_by", "approved_at"]
    list_filter = [
        ("approved_at", admin.EmptyFieldListFilter),
        ("engineer__profile__team", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["engineer__username", "note"]
    list_select_related = ["engineer", "approved_by"]
    autocomplete_fields = ["engineer"]
    readonly_fields = ["approved_by", "approved_at"]
    actions = ["approve"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and (obj.approved_at is not None or self._paid(obj)):
            # What was approved, or paid in a closed period, stays as it was; only the note
            # may still change.
            return ["engineer", "date", "hours", *self.readonly_fields]
        return self.readonly_fields

    @staticmethod
    def _paid(obj) -> bool:
        return services.comp_time_closed_problem(obj.date) is not None

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        entry = services.comp_time_log(
            engineer=obj.engineer, day=obj.date, hours=obj.hours, note=obj.note
        )
        obj.pk = entry.pk

    def has_delete_permission(self, request, obj=None):
        # Approved time off is a record finance relies on, as is any in a closed pay period;
        # a mistake is corrected by a new entry. One not approved yet may still be withdrawn.
        if obj is not None and (obj.approved_at is not None or self._paid(obj)):
            return False
        return super().has_delete_permission(request, obj)

    def delete_queryset(self, request, queryset):
        closed = PayPeriod.objects.filter(
            status=PayPeriodStatus.CLOSED,
            start_date__lte=OuterRef("date"),
            end_date__gte=OuterRef("date"),
        )
        if queryset.filter(Q(approved_at__isnull=False) | Exists(closed)).exists():
            raise PermissionDenied
        super().delete_queryset(request, queryset)

    @admin.action(description="Approve the selected comp time")
    def approve(self, request, queryset):
        done, failed = 0, []
        for entry in queryset.filter(Q(approved_at__isnull=True)):
            try:
                services.comp_time_approve(entry=entry, by=request.user)
                done += 1
            except ValidationError as error:
                failed.append(f"{entry}: {' '.join(error.messages)}")
        _report_errors(self, request, done, failed, "entry/entries approved")
