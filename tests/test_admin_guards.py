"""What managers cannot do in the admin, and what they now can: records pay rests on are not
deleted, levels cannot switch reminders off, members can be reordered, and only people who can
open a post-mortem can own or review it."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from incidents.models import Severity
from oncall import services as oncall_services
from oncall.models import CompTimeTaken, Handoff, Page, RotationMember
from postmortems import services as postmortem_services
from tests.oncall.factories import (
    PageFactory,
    RotationFactory,
    RotationMemberFactory,
    engineer,
)
from tests.pages import form_data
from tests.postmortems.factories import PostmortemFactory

pytestmark = pytest.mark.django_db


def test_members_can_swap_positions(client, manager):
    rotation = RotationFactory()
    ada = RotationMemberFactory(rotation=rotation, user=engineer("ada"), position=0)
    bob = RotationMemberFactory(rotation=rotation, user=engineer("bob"), position=1)
    client.force_login(manager)
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
    data = form_data(client.get(url).content.decode(), None)
    index = {data[f"members-{n}-id"]: n for n in range(2)}
    data[f"members-{index[str(ada.pk)]}-position"] = "1"
    data[f"members-{index[str(bob.pk)]}-position"] = "0"
    assert client.post(url, data).status_code == 302
    assert list(
        RotationMember.objects.filter(rotation=rotation)
        .order_by("position")
        .values_list("user__username", flat=True)
    ) == ["bob", "ada"]


class TestRecordsPayRestsOn:
    def test_a_recorded_page_cannot_be_deleted_or_added_by_hand(self, client, manager):
        page = PageFactory()
        client.force_login(manager)
        assert (
            client.post(f"/admin/oncall/page/{page.pk}/delete/", {"post": "yes"}).status_code == 403
        )
        assert client.get("/admin/oncall/page/add/").status_code == 403
        assert Page.objects.filter(pk=page.pk).exists()

    def test_a_handoff_cannot_be_deleted(self, client, manager):
        ada, bob = engineer("ada"), engineer("bob")
        rotation = RotationFactory(has_secondary=False, starts_on=date(2026, 3, 2))
        RotationMemberFactory(rotation=rotation, user=ada, position=0)
        RotationMemberFactory(rotation=rotation, user=bob, position=1)
        oncall_services.rotation_generate_shifts(
            rotation=rotation, weeks=2, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        handoff = oncall_services.handoff_for(
            rotation=rotation, handoff_at=datetime(2026, 3, 9, 9, tzinfo=UTC)
        )
        client.force_login(manager)
        response = client.post(f"/admin/oncall/handoff/{handoff.pk}/delete/", {"post": "yes"})
        assert response.status_code == 403
        assert Handoff.objects.filter(pk=handoff.pk).exists()

    def test_approved_comp_time_cannot_be_deleted_but_a_request_can(self, client, manager):
        ada = engineer("ada")
        approved = oncall_services.comp_time_log(engineer=ada, day=date(2026, 3, 2), hours=4)
        oncall_services.comp_time_approve(entry=approved, by=manager)
        pending = oncall_services.comp_time_log(engineer=ada, day=date(2026, 3, 3), hours=4)
        client.force_login(manager)
        url = "/admin/oncall/comptimetaken/{}/delete/"
        assert client.post(url.format(approved.pk), {"post": "yes"}).status_code == 403
        assert client.post(url.format(pending.pk), {"post": "yes"}).status_code == 302
        bulk = {"action": "delete_selected", "_selected_action": [approved.pk], "post": "yes"}
        assert client.post("/admin/oncall/comptimetaken/", bulk).status_code == 403
        assert list(CompTimeTaken.objects.values_list("pk", flat=True)) == [approved.pk]


@pytest.mark.parametrize("field", ["acknowledge_within", "update_every", "escalate_after"])
@pytest.mark.parametrize("value", [timedelta(0), timedelta(minutes=-15)])
def test_a_severity_cannot_have_a_zero_or_negative_duration(field, value):
    level = Severity.objects.get(name="SEV-1")
    setattr(level, field, value)
    with pytest.raises(ValidationError) as refused:
        level.full_clean()
    assert field in refused.value.message_dict


def test_finance_cannot_own_or_review_a_post_mortem(finance_user, engineer, manager):
    postmortem = PostmortemFactory()
    with pytest.raises(ValidationError, match="cannot write or review"):
        postmortem_services.postmortem_start_draft(postmortem=postmortem, by=finance_user)
    postmortem_services.postmortem_start_draft(postmortem=postmortem, by=engineer)
    with pytest.raises(ValidationError, match="cannot write or review"):
        postmortem_services.postmortem_assign(postmortem=postmortem, owner=finance_user, by=manager)
    with pytest.raises(ValidationError, match="cannot write or review"):
        postmortem_services.postmortem_set_reviewers(
            postmortem=postmortem, reviewers=[finance_user], by=manager
        )
    postmortem.refresh_from_db()
    assert postmortem.owner == engineer
    assert list(postmortem.reviewers.all()) == []


def test_an_incident_added_in_the_admin_before_1900_is_a_form_error(client, manager):
    client.force_login(manager)
    data = form_data(client.get("/admin/incidents/incident/add/").content.decode(), None)
    data |= {
        "title": "Typo in the year",
        "severity": Severity.objects.get(name="SEV-2").pk,
        "started_at_0": "1026-03-02",
        "started_at_1": "09:00:00",
    }
    response = client.post("/admin/incidents/incident/add/", data)
    assert response.status_code == 200
    assert "The start cannot be before 1900" in response.content.decode()


@pytest.mark.parametrize("far", [10000, 32000])
def test_members_keep_any_position_the_field_takes(client, manager, far):
    rotation = RotationFactory()
    ada = RotationMemberFactory(rotation=rotation, user=engineer("ada"), position=0)
    bob = RotationMemberFactory(rotation=rotation, user=engineer("bob"), position=1)
    client.force_login(manager)
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
    data = form_data(client.get(url).content.decode(), None)
    index = {data[f"members-{n}-id"]: n for n in range(2)}
    data[f"members-{index[str(bob.pk)]}-position"] = str(far)
    assert client.post(url, data).status_code == 302
    data = form_data(client.get(url).content.decode(), None)
    index = {data[f"members-{n}-id"]: n for n in range(2)}
    data[f"members-{index[str(ada.pk)]}-position"] = str(far + 1)
    assert client.post(url, data).status_code == 302
    positions = dict(
        RotationMember.objects.filter(rotation=rotation).values_list("user__username", "position")
    )
    assert positions == {"ada": far + 1, "bob": far}


class TestFoundInTheAdminReview:
    def test_a_rotation_acknowledgement_target_must_be_a_length_of_time(self):
        rotation = RotationFactory()
        for value in (timedelta(0), timedelta(minutes=-5), timedelta(days=2)):
            rotation.page_ack_within = value
            with pytest.raises(ValidationError) as refused:
                rotation.full_clean()
            assert "page_ack_within" in refused.value.message_dict

    def test_a_severity_never_longer_than_a_year(self):
        level = Severity.objects.get(name="SEV-1")
        level.escalate_after = timedelta(days=3_000_000)  # a manager's "never"
        with pytest.raises(ValidationError, match="at most 365 days"):
            level.full_clean()

    def test_the_most_severe_flag_moves_and_is_never_lost(self, client, manager):
        client.force_login(manager)
        sev1, sev2 = Severity.objects.get(name="SEV-1"), Severity.objects.get(name="SEV-2")
        url = reverse("admin:incidents_severity_change", args=[sev1.pk])
        data = form_data(client.get(url).content.decode(), None)
        data.pop("is_most_severe")
        page = client.post(url, data).content.decode()
        assert "One level must be the most severe" in page
        assert Severity.objects.get(is_most_severe=True) == sev1
        url = reverse("admin:incidents_severity_change", args=[sev2.pk])
        data = form_data(client.get(url).content.decode(), None) | {"is_most_severe": "on"}
        assert client.post(url, data).status_code == 302
        assert Severity.objects.get(is_most_severe=True) == sev2

    def test_a_team_page_never_deletes_a_persons_profile(self, client, manager):
        ravi = engineer("ravi", "Asia/Kolkata")
        team = ravi.profile.team or RotationFactory().team
        ravi.profile.team = team
        ravi.profile.save()
        client.force_login(manager)
        url = reverse("admin:incidents_team_change", args=[team.pk])
        data = form_data(client.get(url).content.decode(), None)
        assert "members-0-DELETE" not in data
        data["members-0-DELETE"] = "on"
        assert client.post(url, data).status_code == 302
        ravi.profile.refresh_from_db()
        assert ravi.profile.time_zone == "Asia/Kolkata"

    def test_members_can_swap_people_and_one_who_leaves_loses_future_shifts(self, client, manager):
        rotation = RotationFactory(starts_on=date(2026, 11, 23))
        ada = RotationMemberFactory(rotation=rotation, user=engineer("ada"), position=0)
        bob = RotationMemberFactory(rotation=rotation, user=engineer("bob"), position=1)
        RotationMemberFactory(rotation=rotation, user=engineer("cy"), position=2)
        oncall_services.rotation_generate_shifts(
            rotation=rotation, weeks=4, now=datetime(2026, 11, 23, 12, tzinfo=UTC)
        )
        client.force_login(manager)
        url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
        data = form_data(client.get(url).content.decode(), None)
        index = {data[f"members-{n}-id"]: n for n in range(3)}
        data[f"members-{index[str(ada.pk)]}-user"] = str(bob.user.pk)
        data[f"members-{index[str(bob.pk)]}-user"] = str(ada.user.pk)
        assert client.post(url, data).status_code == 302
        assert list(rotation.members.order_by("position").values_list("user__username")) == [
            ("bob",),
            ("ada",),
            ("cy",),
        ]
        data = form_data(client.get(url).content.decode(), None)
        index = {data[f"members-{n}-user"]: n for n in range(3)}
        data[f"members-{index[str(bob.user.pk)]}-DELETE"] = "on"
        response = client.post(url, data, follow=True)
        assert "shift(s) not started yet were removed" in response.content.decode()
        future = rotation.shifts.filter(starts_at__gt=datetime(2026, 11, 24, tzinfo=UTC))
        assert not future.filter(engineer=bob.user).exists()

    def test_an_engineer_switched_off_is_not_paged_the_secondary_is(self):
        from incidents import services as incident_services
        from tests.incidents.factories import ServiceFactory

        rotation = RotationFactory(starts_on=date(2026, 3, 2))
        for position, name in enumerate(("ada", "bob")):
            RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
        oncall_services.rotation_generate_shifts(
            rotation=rotation, weeks=1, now=datetime(2026, 3, 3, tzinfo=UTC)
        )
        ada = rotation.members.get(position=0).user
        ada.is_active = False
        ada.save()
        incident_services.incident_declare(
            title="DB down",
            severity="SEV-1",
            declared_by=None,
            services=[ServiceFactory(team=rotation.team)],
            at=datetime(2026, 3, 3, 12, tzinfo=UTC),
        )
        assert list(Page.objects.values_list("engineer__username", flat=True)) == ["bob"]

    def test_resend_sends_a_sent_one_once_more_and_leaves_a_pending_one(
        self, client, manager, mailoutbox, django_capture_on_commit_callbacks
    ):
        from django.utils import timezone

        from incidents.models import Notification, NotificationStatus

        now = timezone.now()
        sent, failed, pending = (
            Notification.objects.create(
                key=f"k-{status}",
                kind="announcement",
                recipient=manager,
                subject=f"About {status}",
                body="Body",
                status=status,
                created_at=now,
                next_attempt_at=now,
            )
            for status in (
                NotificationStatus.SENT,
                NotificationStatus.FAILED,
                NotificationStatus.PENDING,
            )
        )
        client.force_login(manager)
        body = {"action": "resend", "_selected_action": [sent.pk, failed.pk, pending.pk]}
        with django_capture_on_commit_callbacks(execute=True):
            page = client.post("/admin/incidents/notification/", body, follow=True)
        page = page.content.decode()
        assert "2 notification(s) queued to be sent again." in page
        assert "1 left as they are: one being sent or still pending is on its way" in page
        # The lost mail goes out again under its own key; the first keeps its record.
        again = Notification.objects.get(key="k-sent:resend:1")
        assert (again.status, again.subject, again.recipient) == ("sent", "About sent", manager)
        sent.refresh_from_db()
        assert sent.status == "sent"
        assert sorted(m.subject for m in mailoutbox) == [
            "[IncidentDesk] About failed",
            "[IncidentDesk] About sent",
        ]
        # Asked again, it is a second resend, not the first one replayed.
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/admin/incidents/notification/", {**body, "_selected_action": [sent.pk]})
        assert Notification.objects.filter(key__startswith="k-sent:resend:").count() == 2
        # One that no longer applies is said so, not "on its way".
        obsolete = Notification.objects.create(
            key="k-obsolete",
            kind="announcement",
            recipient=manager,
            status=NotificationStatus.OBSOLETE,
            created_at=now,
            next_attempt_at=now,
        )
        page = client.post(
            "/admin/incidents/notification/",
            {**body, "_selected_action": [obsolete.pk]},
            follow=True,
        ).content.decode()
        assert "1 no longer apply and were not sent" in page
        assert "on its way" not in page

    def test_a_resent_reminder_is_still_checked_against_what_happened_since(
        self, manager, mailoutbox, django_capture_on_commit_callbacks
    ):
        from incidents import notifications
        from incidents import reminders as incident_reminders
        from incidents import services as incident_services
        from incidents.models import Notification
        from tests.incidents.factories import BASE_TIME

        incident = incident_services.incident_declare(
            title="Checkout slow", severity="SEV-1", declared_by=manager, at=BASE_TIME
        )
        with django_capture_on_commit_callbacks(execute=True):
            incident_reminders.sweep_status_updates(now=BASE_TIME + timedelta(minutes=15))
        first = Notification.objects.get(kind="status_update_overdue")
        assert first.status == "sent"
        incident_services.status_update_post(
            incident=incident,
            author=manager,
            status="Investigating",
            impact="Slow checkout",
            action="Scaling out",
            eta="30 min",
            at=BASE_TIME + timedelta(minutes=16),
        )
        with django_capture_on_commit_callbacks(execute=True):
            assert notifications.notification_resend(notification=first)
        again = Notification.objects.get(key=f"{first.key}:resend:1")
        assert again.status == "obsolete"
        assert len(mailoutbox) == 1

    def test_a_typed_history_version_address_is_not_found(self, client, manager):
        client.force_login(manager)
        postmortem = PostmortemFactory()
        url = f"/admin/postmortems/postmortem/{postmortem.pk}/history/abc/"
        assert client.get(url).status_code == 404


def test_a_rotation_taken_out_of_use_keeps_only_the_hours_worked(client, manager):
    from django.utils import timezone

    from oncall.models import Shift

    now = timezone.now()
    rotation = RotationFactory(starts_on=(now - timedelta(days=now.weekday() + 7)).date())
    for position, name in enumerate(("ada", "bob")):
        RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
    oncall_services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
    assert Shift.objects.filter(rotation=rotation, starts_at__gt=now).exists()
    client.force_login(manager)
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
    data = form_data(client.get(url).content.decode(), None)
    data.pop("is_active")
    response = client.post(url, data, follow=True)
    assert "is no longer in use" in response.content.decode()
    assert not Shift.objects.filter(rotation=rotation, ends_at__gt=timezone.now()).exists()
    assert Shift.objects.filter(rotation=rotation).exists()  # the hours already on call


def test_the_products_periodic_tasks_and_their_schedules_are_never_deleted(client, manager):
    """Deleting one (or its schedule: the delete cascades) stopped every email or reminder for
    good. Managers pause them instead, and delete tasks of their own."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    client.force_login(manager)
    dispatch = PeriodicTask.objects.get(task="incidents.dispatch_notifications")
    url = reverse("admin:django_celery_beat_periodictask_delete", args=[dispatch.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    every_30s = dispatch.interval
    url = reverse("admin:django_celery_beat_intervalschedule_delete", args=[every_30s.pk])
    assert client.post(url, {"post": "yes"}).status_code == 403
    changelist = reverse("admin:django_celery_beat_periodictask_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [dispatch.pk], "post": "yes"}
    )
    assert response.status_code in (200, 403)
    assert PeriodicTask.objects.filter(pk=dispatch.pk).exists()
    assert IntervalSchedule.objects.filter(pk=every_30s.pk).exists()
    # Paused, not deleted:
    change = reverse("admin:django_celery_beat_periodictask_change", args=[dispatch.pk])
    delete_link = reverse("admin:django_celery_beat_periodictask_delete", args=[dispatch.pk])
    assert delete_link not in client.get(change).content.decode()
    own = PeriodicTask.objects.create(
        name="Clean results", task="celery.backend_cleanup", interval=every_30s
    )
    url = reverse("admin:django_celery_beat_periodictask_delete", args=[own.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not PeriodicTask.objects.filter(pk=own.pk).exists()


def test_the_pay_period_list_takes_any_date_filter(client, manager):
    client.force_login(manager)
    url = reverse("admin:oncall_payperiod_changelist")
    assert client.get(url, {"start_date__year": "9999", "start_date__month": "12"}).status_code in (
        200,
        302,
    )
    assert client.get(url, {"start_date__gte": "2026-03-01"}).status_code == 200


def test_switching_someone_off_takes_them_off_call_and_their_weeks_go_to_the_others(
    client, manager
):
    from django.utils import timezone

    from oncall.models import Shift, ShiftRole
    from oncall.selectors import on_call_at

    now = timezone.now()
    rotation = RotationFactory(starts_on=(now - timedelta(days=now.weekday() + 7)).date())
    ada, bob, cy = engineer("ada"), engineer("bob"), engineer("cy")
    for position, person in enumerate((ada, bob, cy)):
        RotationMemberFactory(rotation=rotation, user=person, position=position)
    oncall_services.rotation_generate_shifts(rotation=rotation, weeks=4, now=now)
    later = Shift.objects.filter(engineer=ada, starts_at__gt=now).order_by("starts_at").first()
    assert later is not None
    client.force_login(manager)
    url = reverse("admin:auth_user_change", args=[ada.pk])
    data = form_data(client.get(url).content.decode(), None)
    data.pop("is_active")
    response = client.post(url, data, follow=True)
    assert response.status_code == 200
    assert "Ada Oncall is on call for nobody from now" in response.content.decode()
    switched_off = timezone.now()
    assert not Shift.objects.filter(engineer=ada, ends_at__gt=switched_off).exists()
    # Her week to come is someone else's now, and one of theirs only.
    moment = later.starts_at + timedelta(hours=1)
    primary = on_call_at(team=rotation.team, at=moment)[ShiftRole.PRIMARY]
    assert primary in (bob, cy)
    assert (
        not Shift.objects.filter(
            rotation=rotation,
            role=ShiftRole.PRIMARY,
            starts_at__lt=moment,
            ends_at__gt=moment,
        )
        .exclude(engineer=primary)
        .exists()
    )


def test_a_rotation_that_drops_its_secondary_keeps_no_secondary_weeks_to_come(client, manager):
    from django.utils import timezone

    from oncall.models import Shift, ShiftRole

    now = timezone.now()
    rotation = RotationFactory(starts_on=(now - timedelta(days=now.weekday() + 7)).date())
    for position, name in enumerate(("ada", "bob", "cy")):
        RotationMemberFactory(rotation=rotation, user=engineer(name), position=position)
    oncall_services.rotation_generate_shifts(rotation=rotation, weeks=3, now=now)
    secondary = Shift.objects.filter(rotation=rotation, role=ShiftRole.SECONDARY)
    assert secondary.filter(starts_at__gt=now).exists()
    client.force_login(manager)
    url = reverse("admin:oncall_rotation_change", args=[rotation.pk])
    data = form_data(client.get(url).content.decode(), None)
    data.pop("has_secondary")
    response = client.post(url, data, follow=True)
    assert "has no secondary any more" in response.content.decode()
    assert not secondary.filter(ends_at__gt=timezone.now()).exists()
    assert secondary.exists()  # the hours already worked
    assert Shift.objects.filter(
        rotation=rotation, role=ShiftRole.PRIMARY, starts_at__gt=now
    ).exists()
