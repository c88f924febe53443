import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from incidents.models import TimelineEvent
from postmortems import selectors
from postmortems.models import ActionItem, Postmortem, PostmortemStatus, Stage

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings):
    settings.ALLOW_DEMO_DATA = True
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_post_mortems_in_every_status_with_action_items(demo):
    statuses = set(Postmortem.objects.values_list("status", flat=True))
    assert statuses == set(PostmortemStatus.values)
    for status in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW, PostmortemStatus.PUBLISHED):
        assert ActionItem.objects.filter(postmortem__status=status).exists(), status
    assert Postmortem.objects.filter(incident__title="Internal dashboard slow").exists()


def test_some_are_overdue(demo):
    now = timezone.now()
    assert selectors.action_items_overdue(now=now).count() >= 2
    draft_late = selectors.postmortems_overdue(stage=Stage.DRAFT, now=now)
    assert draft_late.filter(status=PostmortemStatus.DRAFT).exists()
    review_late = selectors.postmortems_overdue(stage=Stage.REVIEW, now=now)
    assert review_late.filter(status=PostmortemStatus.IN_REVIEW).exists()
    # The hand-made published one (the year of history adds many more).
    published = Postmortem.objects.get(incident__title="Primary database failover")
    assert published.status == PostmortemStatus.PUBLISHED
    assert (
        not selectors.postmortems_overdue(stage=Stage.PUBLISH, now=now)
        .filter(pk=published.pk)
        .exists()
    )


def test_seed_demo_is_idempotent(demo):
    counts = (
        Postmortem.objects.count(),
        ActionItem.objects.count(),
        TimelineEvent.objects.count(),
        list(Postmortem.objects.order_by("pk").values_list("status", flat=True)),
    )
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert counts == (
        Postmortem.objects.count(),
        ActionItem.objects.count(),
        TimelineEvent.objects.count(),
        list(Postmortem.objects.order_by("pk").values_list("status", flat=True)),
    )


def test_the_demo_manager_sees_them_and_the_published_one_downloads(demo, client):
    assert client.login(username="manager", password="demo-pass-123")
    page = client.get(reverse("admin:postmortems_postmortem_changelist")).content.decode()
    assert "Primary database failover" in page
    assert ">overdue<" in page
    published = Postmortem.objects.get(incident__title="Primary database failover")
    assert published.status == PostmortemStatus.PUBLISHED
    response = client.get(reverse("admin:postmortems_postmortem_markdown", args=[published.pk]))
    assert response.status_code == 200
    assert b"## Action items" in response.content
    page = client.get(reverse("admin:postmortems_actionitem_changelist")).content.decode()
    assert ">overdue<" in page
