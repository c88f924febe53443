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
