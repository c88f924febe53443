"""What migrate sets up: the default policy row and the groups' permissions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group

from postmortems import selectors
from postmortems.models import PostmortemPolicy

pytestmark = pytest.mark.django_db


def test_the_runbook_deadlines_are_seeded():
    policy = PostmortemPolicy.objects.get()
    assert policy.pk == 1
    assert (policy.draft_within, policy.review_within, policy.publish_within) == (
        timedelta(hours=24),
        timedelta(hours=48),
        timedelta(hours=72),
    )


def test_without_the_row_the_defaults_apply():
    PostmortemPolicy.objects.all().delete()
    policy = selectors.postmortem_policy()
    assert (policy.draft_within, policy.review_within, policy.publish_within) == (
        timedelta(hours=24),
        timedelta(hours=48),
        timedelta(hours=72),
    )


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return set(
        group.permissions.filter(content_type__app_label="postmortems").values_list(
            "codename", flat=True
        )
    )


def test_managers_get_every_postmortems_permission():
    perms = codenames("Managers")
    assert {
        "add_postmortem",
        "change_postmortem",
        "view_postmortem",
        "add_actionitem",
        "change_actionitem",
        "change_postmortempolicy",
        "view_historicalpostmortem",
        "view_historicalactionitem",
        "change_fivewhy",
        "change_postmortemtimelineentry",
    } <= perms


def test_engineers_view_and_change_post_mortems_and_add_action_items():
    assert codenames("Engineers") == {
        "view_postmortem",
        "change_postmortem",
        "view_actionitem",
        "add_actionitem",
        "change_actionitem",
    }


def test_finance_gets_nothing_here():
    assert codenames("Finance") == set()
