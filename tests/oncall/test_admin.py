from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from oncall import services
from oncall.models import (
    CompensationPolicy,
    CompTimeTaken,
    Handoff,
    PayPeriodStatus,
    Rotation,
    Shift,
    ShiftSource,
)
from tests.incidents.factories import IncidentFactory, TeamFactory
from tests.oncall.factories import (
    CompTimeTakenFactory,
    PageFactory,
    PayPeriodFactory,
    RotationFactory,
    RotationMemberFactory,
    ShiftFactory,
    engineer,
)

pytestmark = pytest.mark.django_db

MODELS = [
    "rotation",
    "shift",
    "handoff",
    "page",
    "compensationpolicy",
    "payperiod",
    "comptimetaken",
]


def changelist(model):
    return reverse(f"admin:oncall_{model}_changelist")


@pytest.mark.parametrize("model", MODELS)
def test_changelists_open_for_managers(manager_client, model):
    response = manager_client.get(changelist(model))
    assert response.status_code == 200
    assert manager_client.get(changelist(model), {"q": "x"}).status_code == 200


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("who", ["engineer", "finance_user"])
def test_changelists_are_refused_to_engineers_and_finance(client, request, model, who):
    user = request.getfixturevalue(who)
    user.is_staff = True
    user.save()
    client.force_login(user)
    response = client.get(changelist(model))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def build(count: int, offset: int) -> None:
    team = TeamFactory(name="Platform")
    rotation = RotationFactory(team=team, name="Primary")
    for n in range(count):
        user = engineer(f"eng{offset + n:03d}", team=team)
        RotationFactory(team=TeamFactory(name=f"Team {offset + n}"), name="Secondary")
        RotationMemberFactory(rotation=rotation, user=user, position=offset + n)
        start = datetime(2026, 3, 2, 9, tzinfo=UTC) + timedelta(weeks=offset + n)
        shift = ShiftFactory(rotation=rotation, engineer=user, starts_at=start)
        ShiftFactory(
            rotation=rotation,
            engineer=engineer(f"cover{offset + n:03d}"),
            covered_engineer=user,
            overrides=shift,
            source=ShiftSource.OVERRIDE,
            starts_at=start + timedelta(days=8),
        )
        PageFactory(engineer=user, incident=IncidentFactory(), paged_at=start)
        CompTimeTakenFactory(engineer=user)
        PayPeriodFactory(
            start_date=date(2030, 1, 1) + timedelta(days=offset + n),
            end_date=date(2030, 1, 1) + timedelta(days=offset + n),
        )


@pytest.mark.parametrize("model", MODELS)
def test_changelist_query_count_is_constant(manager_client, model):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            response = manager_client.get(changelist(model))
        assert response.status_code == 200
        return len(ctx.captured_queries)

    build(3, 0)
    small = queries()
    build(25, 100)
    assert queries() == small


def test_generate_shifts_action_asks_for_weeks_then_creates(manager_client):
    rotation = RotationFactory(starts_on=date(2026, 11, 16))
    RotationMemberFactory(rotation=rotation, user=engineer("ada"), position=0)
    RotationMemberFactory(rotation=rotation, user=engineer("bob"), position=1)
    response = manager_client.post(
        changelist("rotation"), {"action": "generate_shifts", "_selected_action": [rotation.pk]}
    )
    assert response.status_code == 200
    assert "Generate shifts" in response.content.decode()
    response = manager_client.post(
        changelist("rotation"),
        {
            "action": "generate_shifts",
            "_selected_action": [rotation.pk],
            "apply": "1",
            "weeks": "3",
        },
        follow=True,
    )
    assert "6 shift(s) created." in response.content.decode()
    assert Shift.objects.filter(rotation=rotation).count() == 6


def test_override_action(manager_client):
    ada, bob = engineer("ada"), engineer("bob")
    shift = ShiftFactory(engineer=ada)
    data = {
        "action": "override_part",
        "_selected_action": [shift.pk],
        "apply": "1",
        "engineer": bob.pk,
        "starts_at_0": "2026-03-04",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-03-05",
        "ends_at_1": "09:00:00",
        "reason": "sick",
    }
    response = manager_client.post(changelist("shift"), data, follow=True)
    assert "Override created." in response.content.decode()
    assert Shift.objects.count() == 3
    data["engineer"] = ada.pk  # covering yourself is refused, with the reason shown
    shift = Shift.objects.filter(engineer=ada).order_by("starts_at").first()
    data["_selected_action"] = [shift.pk]
    data["starts_at_0"], data["ends_at_0"] = "2026-03-02", "2026-03-03"
    response = manager_client.post(changelist("shift"), data)
    assert "already holds this shift" in response.content.decode()
    assert Shift.objects.count() == 3


def test_week_and_override_filters(manager_client):
    ada = engineer("ada")
    ShiftFactory(engineer=ada, source=ShiftSource.OVERRIDE)
    assert manager_client.get(changelist("shift"), {"override": "yes"}).status_code == 200
    assert manager_client.get(changelist("shift"), {"week": "0"}).status_code == 200


def test_pages_show_whether_the_target_was_met(manager_client):
    on_time = PageFactory(engineer=engineer("ada"))
    late = PageFactory(
        engineer=engineer("bob"), acknowledged_at=on_time.paged_at + timedelta(minutes=9)
    )
    page = manager_client.get(changelist("page"), {"ack": "late"}).content.decode()
    assert "bob" in page
    assert "ada" not in page
    assert "9 min 00 s" in page
    assert late.acknowledged_in_time is False


def policy_form(**changes) -> dict:
    """The admin's add form for a compensation policy: the runbook's terms from 2027 (USD),
    with ``changes``."""
    return {
        "effective_from": "2027-01-01",
        "currency": "USD",
        "weekly_stipend": "550.00",
        "sev1_bonus": "220.00",
        "comp_hours_per_overnight_page": "4.00",
        "overnight_start": "22:00",
        "overnight_end": "07:00",
        **changes,
    }


def test_policy_add_supersedes_and_policies_in_force_are_read_only(manager_client):
    current = CompensationPolicy.objects.get()
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        policy_form(currency="EUR"),
    )
    assert response.status_code == 302
    current.refresh_from_db()
    assert current.effective_to == date(2027, 1, 1)
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_change", args=[current.pk]),
        {"weekly_stipend": "1.00"},
    )
    assert response.status_code == 403
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        policy_form(
            effective_from="1999-01-01",
            weekly_stipend="1.00",
            sev1_bonus="1.00",
            comp_hours_per_overnight_page="1.00",
        ),
    )
    assert response.status_code == 200
    assert "supersede it from a later date" in response.content.decode()
    assert CompensationPolicy.objects.count() == 2
    assert CompensationPolicy.objects.get(effective_from=date(2027, 1, 1)).weekly_stipend == (
        Decimal("550.00")
    )
    # The same date again, before it starts: the new terms replace the planned ones.
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        policy_form(currency="EUR", weekly_stipend="575.00"),
    )
    assert response.status_code == 302
    assert CompensationPolicy.objects.get(effective_from=date(2027, 1, 1)).weekly_stipend == (
        Decimal("575.00")
    )
    assert CompensationPolicy.objects.count() == 2


def _future_policy(manager_client, starts: date) -> CompensationPolicy:
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        {
            "effective_from": starts.isoformat(),
            "currency": "USD",
            "weekly_stipend": "600.00",
            "sev1_bonus": "250.00",
            "comp_hours_per_overnight_page": "4.00",
            "overnight_start": "22:00",
            "overnight_end": "07:00",
        },
    )
    assert response.status_code == 302
    return CompensationPolicy.objects.get(effective_from=starts)


@pytest.mark.parametrize("how", ["delete view", "bulk action"])
def test_withdrawing_a_future_policy_leaves_the_one_before_in_force(manager_client, how):
    current = CompensationPolicy.objects.get()
    today = timezone.localdate()
    later = _future_policy(manager_client, today + timedelta(days=40))
    latest = _future_policy(manager_client, today + timedelta(days=80))
    if how == "delete view":
        url = reverse("admin:oncall_compensationpolicy_delete", args=[later.pk])
        assert manager_client.post(url, {"post": "yes"}).status_code == 302
        # The policy before the withdrawn one runs on to where it would have ended.
        current.refresh_from_db()
        assert current.effective_to == latest.effective_from
        url = reverse("admin:oncall_compensationpolicy_delete", args=[latest.pk])
        assert manager_client.post(url, {"post": "yes"}).status_code == 302
    else:
        response = manager_client.post(
            reverse("admin:oncall_compensationpolicy_changelist"),
            {"action": "delete_selected", "_selected_action": [later.pk, latest.pk], "post": "yes"},
        )
        assert response.status_code == 302
    current.refresh_from_db()
    assert current.effective_to is None  # open-ended again: no day without a policy
    assert list(CompensationPolicy.objects.all()) == [current]
    # The policy in force cannot be deleted.
    url = reverse("admin:oncall_compensationpolicy_delete", args=[current.pk])
    assert manager_client.post(url, {"post": "yes"}).status_code == 403


# Outside a test transaction, as the admin action runs in production (it is not atomic).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_close_pay_period_action_freezes_it(manager_client):
    ada = engineer("ada")
    ShiftFactory(engineer=ada)
    period = PayPeriodFactory()
    response = manager_client.post(
        changelist("payperiod"),
        {"action": "close_periods", "_selected_action": [period.pk]},
        follow=True,
    )
    assert "1 pay period(s) closed." in response.content.decode()
    period.refresh_from_db()
    assert period.status == PayPeriodStatus.CLOSED
    page = manager_client.get(reverse("admin:oncall_payperiod_change", args=[period.pk]))
    assert "ada" in page.content.decode()
    assert (
        manager_client.get(reverse("admin:oncall_payperiod_delete", args=[period.pk])).status_code
        == 403
    )


def test_overlapping_pay_period_is_a_form_error(manager_client):
    PayPeriodFactory()
    response = manager_client.post(
        reverse("admin:oncall_payperiod_add"),
        {
            "start_date": "2026-03-15",
            "end_date": "2026-04-14",
            "lines-TOTAL_FORMS": 0,
            "lines-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "cannot overlap" in response.content.decode()


def test_comp_time_approval(manager_client, manager):
    entry = CompTimeTakenFactory(engineer=engineer("ada"))
    manager_client.post(
        changelist("comptimetaken"), {"action": "approve", "_selected_action": [entry.pk]}
    )
    entry = CompTimeTaken.objects.get()
    assert entry.approved_by == manager


def test_a_manager_does_not_approve_their_own_comp_time(manager_client, manager):
    entry = CompTimeTakenFactory(engineer=manager)
    response = manager_client.post(
        changelist("comptimetaken"),
        {"action": "approve", "_selected_action": [entry.pk]},
        follow=True,
    )
    assert services.COMP_TIME_OWN_APPROVAL in response.content.decode()
    entry.refresh_from_db()
    assert entry.approved_at is None


def test_rotation_first_handoff_must_be_on_the_weekday(manager_client):
    team = TeamFactory(name="Platform")
    response = manager_client.post(
        reverse("admin:oncall_rotation_add"),
        {
            "team": team.pk,
            "name": "Primary",
            "time_zone": "Europe/London",
            "handoff_weekday": 0,
            "handoff_time": time(9).isoformat(),
            "starts_on": "2026-03-03",
            "page_ack_within": "00:05:00",
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 200
    assert "must fall on the handoff weekday" in response.content.decode()


def test_comp_time_by_hand_keeps_the_day_whole_and_approved_entries_fixed(manager_client, manager):
    ada = engineer("ada")
    add = reverse("admin:oncall_comptimetaken_add")
    refused = manager_client.post(
        add, {"engineer": ada.pk, "date": "2026-03-02", "hours": "30", "note": ""}
    )
    assert refused.status_code == 200
    assert not CompTimeTaken.objects.exists()
    manager_client.post(add, {"engineer": ada.pk, "date": "2026-03-02", "hours": "20", "note": ""})
    entry = CompTimeTaken.objects.get()
    second = manager_client.post(
        add, {"engineer": ada.pk, "date": "2026-03-02", "hours": "8", "note": ""}
    )
    assert "at most 4.00 h more fit in the day" in second.content.decode()
    # Correcting the entry itself counts it once, not twice.
    change = reverse("admin:oncall_comptimetaken_change", args=[entry.pk])
    fixed = manager_client.post(
        change, {"engineer": ada.pk, "date": "2026-03-02", "hours": "24", "note": "night"}
    )
    assert fixed.status_code == 302
    entry.refresh_from_db()
    assert entry.hours == Decimal("24.00")
    # Once approved, what was approved stays: only the note may change.
    manager_client.post(
        changelist("comptimetaken"), {"action": "approve", "_selected_action": [entry.pk]}
    )
    manager_client.post(
        change, {"engineer": ada.pk, "date": "2026-03-02", "hours": "4", "note": "corrected"}
    )
    entry.refresh_from_db()
    assert (entry.hours, entry.note, entry.approved_by) == (Decimal("24.00"), "corrected", manager)


def test_comp_time_in_a_closed_pay_period_is_neither_moved_given_away_nor_deleted(
    manager_client,
):
    ada, bob = engineer("ada"), engineer("bob")
    kept = CompTimeTaken.objects.create(engineer=ada, date=date(2026, 3, 20), hours=Decimal(4))
    other = CompTimeTaken.objects.create(engineer=ada, date=date(2026, 3, 21), hours=Decimal(2))
    march = PayPeriodFactory(start_date=date(2026, 3, 1), end_date=date(2026, 3, 31))
    services.pay_period_close(pay_period=march, by=None, at=datetime(2026, 4, 2, tzinfo=UTC))
    change = reverse("admin:oncall_comptimetaken_change", args=[kept.pk])
    for values in (
        {"engineer": bob.pk, "date": "2026-03-20", "hours": "4"},
        {"engineer": ada.pk, "date": "2026-04-20", "hours": "4"},
        {"engineer": ada.pk, "date": "2026-03-20", "hours": "1"},
    ):
        manager_client.post(change, {**values, "note": "moved"})
    kept.refresh_from_db()
    assert (kept.engineer, kept.date, kept.hours) == (ada, date(2026, 3, 20), Decimal("4.00"))
    delete = reverse("admin:oncall_comptimetaken_delete", args=[other.pk])
    assert manager_client.post(delete, {"post": "yes"}).status_code == 403
    manager_client.post(
        changelist("comptimetaken"),
        {"action": "delete_selected", "_selected_action": [other.pk], "post": "yes"},
    )
    assert CompTimeTaken.objects.filter(pk=other.pk).exists()
    # Its note may still be written.
    manager_client.post(
        change, {"engineer": ada.pk, "date": "2026-03-20", "hours": "4", "note": "dentist"}
    )
    kept.refresh_from_db()
    assert kept.note == "dentist"


def test_a_week_worked_by_someone_who_has_left_can_still_be_corrected(manager_client):
    ada = engineer("ada")
    rotation = RotationFactory(team=TeamFactory(name="Platform"))
    shift = ShiftFactory(rotation=rotation, engineer=ada)  # 2 to 9 March
    type(ada).objects.filter(pk=ada.pk).update(is_active=False)
    change = reverse("admin:oncall_shift_change", args=[shift.pk])
    data = {
        "rotation": rotation.pk,
        "engineer": ada.pk,
        "role": "primary",
        "starts_at_0": "2026-03-02",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-03-08",
        "ends_at_1": "09:00:00",
        "source": "manual",
        "reason": "she left a day early",
        "covered_engineer": "",
    }
    assert manager_client.post(change, data).status_code == 302
    shift.refresh_from_db()
    assert shift.ends_at == datetime(2026, 3, 8, 9, tzinfo=UTC)
    # Nobody who has left is put on a shift, new or another's.
    other = ShiftFactory(rotation=rotation, engineer=engineer("bob"), role="secondary")
    response = manager_client.post(
        reverse("admin:oncall_shift_change", args=[other.pk]),
        {**data, "role": "secondary", "ends_at_0": "2026-03-09"},
    )
    assert response.status_code == 200
    assert "engineer" in response.context["adminform"].form.errors


def test_the_rotation_page_reads_its_members_in_constant_queries(manager_client):
    rotation = RotationFactory()
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])

    def count(members: int) -> int:
        for position in range(rotation.members.count(), members):
            RotationMemberFactory(
                rotation=rotation, user=engineer(f"m{position}"), position=position
            )
        manager_client.get(url)  # what is read once per process (content types) is read
        with CaptureQueriesContext(connection) as ctx:
            response = manager_client.get(url)
        assert response.status_code == 200
        assert "m0" in response.content.decode()  # the members are shown
        return len(ctx.captured_queries)

    assert count(3) == count(30)


def _adas_week_and_a_shift_to_add(who, role: str) -> dict:
    """Ada is primary of Platform's rotation from 2 to 9 March; the admin's add form for a
    shift of ``who`` in ``role`` from 8 to 10 March, overlapping her week's end."""
    ada = engineer("ada")
    rotation = RotationFactory(team=TeamFactory(name="Platform"))
    ShiftFactory(
        rotation=rotation,
        engineer=ada,
        starts_at=datetime(2026, 3, 2, 9, tzinfo=UTC),
        ends_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
    )
    return {
        "rotation": rotation.pk,
        "engineer": (who or ada).pk,
        "role": role,
        "starts_at_0": "2026-03-08",
        "starts_at_1": "09:00:00",
        "ends_at_0": "2026-03-10",
        "ends_at_1": "09:00:00",
        "source": "manual",
        "reason": "",
    }


def test_a_shift_added_by_hand_never_overlaps_its_rotations_role(manager_client):
    data = _adas_week_and_a_shift_to_add(engineer("bob"), "primary")
    response = manager_client.post(reverse("admin:oncall_shift_add"), data)
    assert response.status_code == 200
    assert "Ada Oncall is already primary on this rotation from 2026-03-02 09:00" in (
        response.content.decode()
    )
    assert Shift.objects.count() == 1
    # The secondary role, or the week after, is free.
    data |= {"starts_at_0": "2026-03-09"}
    assert manager_client.post(reverse("admin:oncall_shift_add"), data).status_code == 302
    assert Shift.objects.count() == 2


def test_a_shift_added_by_hand_never_makes_one_person_both_roles(manager_client):
    data = _adas_week_and_a_shift_to_add(None, "secondary")  # Ada herself
    response = manager_client.post(reverse("admin:oncall_shift_add"), data)
    assert response.status_code == 200
    assert "cannot be primary and secondary at once" in response.content.decode()
    assert Shift.objects.count() == 1
    data |= {"starts_at_0": "2026-03-09"}
    assert manager_client.post(reverse("admin:oncall_shift_add"), data).status_code == 302
    assert Shift.objects.count() == 2


def test_managers_read_handoffs_but_never_rewrite_them(manager_client):
    rotation = RotationFactory(team=TeamFactory(name="Platform"))
    ada, bob = engineer("ada"), engineer("bob")
    handoff = Handoff.objects.create(
        rotation=rotation,
        handoff_at=datetime(2026, 3, 9, 9, tzinfo=UTC),
        outgoing=ada,
        incoming=bob,
        summary="Kafka lag alert is flaky.",
    )
    change = reverse("admin:oncall_handoff_change", args=[handoff.pk])
    page = manager_client.get(change)
    assert page.status_code == 200
    assert "Kafka lag alert is flaky." in page.content.decode()
    manager_client.post(change, {"summary": "Nothing happened."})
    handoff.refresh_from_db()
    assert handoff.summary == "Kafka lag alert is flaky."


def test_approving_nothing_says_so(manager_client, manager):
    entry = CompTimeTakenFactory(engineer=engineer("ada"))
    approve = {"action": "approve", "_selected_action": [entry.pk]}
    manager_client.post(changelist("comptimetaken"), approve)
    again = manager_client.post(changelist("comptimetaken"), approve, follow=True)
    assert "Nothing to do: 0 entry/entries approved." in again.content.decode()


def test_a_recorded_pages_moments_stay_as_recorded(manager_client):
    page = PageFactory(engineer=engineer("ada"), acknowledged_at=None)
    change = reverse("admin:oncall_page_change", args=[page.pk])
    manager_client.post(
        change,
        {
            "engineer": page.engineer_id,
            "paged_at_0": "2026-03-03",
            "paged_at_1": "12:00:00",
            "ack_due_at_0": "2026-03-03",
            "ack_due_at_1": "23:00:00",
            "acknowledged_at_0": "2026-03-03",
            "acknowledged_at_1": "12:01:00",
            "source": "manual",
            "message": "corrected",
            "team": str(TeamFactory(name="Elsewhere").pk),
            "escalation_level": "2",
        },
    )
    page.refresh_from_db()
    assert (page.acknowledged_at, page.ack_due_at) == (None, page.paged_at + timedelta(minutes=5))
    assert page.message == "corrected"
    # Escalation rests on these: a level raised by hand would silence it.
    assert (page.team_id, page.escalation_level) == (None, 0)


def test_a_closed_pay_period_page_reads_its_lines_in_constant_queries(manager_client, manager):
    from oncall import services

    def closed_with(engineers: int, month: int):
        period = PayPeriodFactory(start_date=date(2026, month, 1), end_date=date(2026, month, 28))
        for n in range(engineers):
            ShiftFactory(
                engineer=engineer(f"e{month}-{n}"),
                starts_at=datetime(2026, month, 2, 9, tzinfo=UTC),
                ends_at=datetime(2026, month, 9, 9, tzinfo=UTC),
            )
        services.pay_period_close(pay_period=period, by=manager)
        return reverse("admin:oncall_payperiod_change", args=[period.pk])

    def count(url) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert manager_client.get(url).status_code == 200
        return len(queries)

    few, many = closed_with(2, 3), closed_with(12, 5)
    count(few)  # the first visit also reads what is cached from then on
    assert count(few) == count(many)


@pytest.mark.parametrize("currency", ["=A1", "usd", "US", "€UR"])
def test_a_policy_currency_must_be_an_iso_code(manager_client, currency):
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        policy_form(currency=currency),
    )
    assert response.status_code == 200
    assert "three-letter ISO 4217 currency code" in response.content.decode()
    assert CompensationPolicy.objects.count() == 1


def test_someone_in_finance_alone_is_not_put_on_call(manager_client, finance_user):
    team = TeamFactory(name="Platform")
    response = manager_client.post(
        reverse("admin:oncall_rotation_add"),
        {
            "team": team.pk,
            "name": "Primary",
            "time_zone": "Europe/London",
            "handoff_weekday": 0,
            "handoff_time": "09:00",
            "starts_on": "2026-03-02",
            "page_ack_within": "00:05:00",
            "is_active": "on",
            "members-TOTAL_FORMS": 1,
            "members-INITIAL_FORMS": 0,
            "members-0-user": finance_user.pk,
            "members-0-position": 0,
        },
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Rotation.objects.filter(name="Primary").exists()


def test_an_empty_overnight_window_is_refused(manager_client):
    # 00:00 to 00:00 is not "all night": no page would ever count as overnight.
    response = manager_client.post(
        reverse("admin:oncall_compensationpolicy_add"),
        policy_form(
            weekly_stipend="500.00",
            sev1_bonus="200.00",
            overnight_start="00:00",
            overnight_end="00:00",
        ),
    )
    assert response.status_code == 200
    assert "The overnight window must end at another time" in response.content.decode()
    assert CompensationPolicy.objects.count() == 1


def test_no_shift_to_come_is_added_by_hand_to_a_rotation_out_of_use(manager_client):
    rotation = RotationFactory(team=TeamFactory(name="Platform"), is_active=False)
    data = {
        "rotation": rotation.pk,
        "engineer": engineer("ada").pk,
        "role": "primary",
        "source": "manual",
        "reason": "",
    }
    later = timezone.now() + timedelta(days=7)
    for moment, prefix in ((later, "starts_at"), (later + timedelta(days=7), "ends_at")):
        data[f"{prefix}_0"], data[f"{prefix}_1"] = moment.strftime("%Y-%m-%d"), "09:00:00"
    response = manager_client.post(reverse("admin:oncall_shift_add"), data)
    assert response.status_code == 200
    assert "The rotation is out of use" in response.content.decode()
    assert not Shift.objects.exists()
    # History may still be corrected: a shift that ended is accepted.
    data |= {"starts_at_0": "2026-03-02", "ends_at_0": "2026-03-09"}
    assert manager_client.post(reverse("admin:oncall_shift_add"), data).status_code == 302
