import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from incidents.models import Incident, IncidentStatus, TimelineEvent

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def demo(settings):
    settings.ALLOW_DEMO_DATA = True
    settings.DEMO_PASSWORD = "demo-pass-123"
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


def test_seed_demo_is_idempotent(demo):
    counts = (Incident.objects.count(), TimelineEvent.objects.count(), User.objects.count())
    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert counts == (
        Incident.objects.count(),
        TimelineEvent.objects.count(),
        User.objects.count(),
    )


def test_demo_has_incidents_at_every_stage_with_timelines(demo):
    statuses = set(Incident.objects.values_list("status", flat=True))
    assert {
        IncidentStatus.INVESTIGATING,
        IncidentStatus.MITIGATED,
        IncidentStatus.MONITORING,
        IncidentStatus.RESOLVED,
        IncidentStatus.CLOSED,
    } <= statuses
    for incident in Incident.objects.all():
        assert incident.timeline.count() >= 2


def test_manager_sees_seeded_incidents_and_others_are_refused(demo, client):
    assert client.login(username="manager", password="demo-pass-123")
    page = client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert "Checkout returns 502 for all users" in page
    incident = Incident.objects.get(title="Primary database failover")
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert "Promoted the replica." in page.content.decode()
    for username in ("engineer", "finance"):
        client.logout()
        assert client.login(username=username, password="demo-pass-123")
        response = client.get(reverse("admin:index"))
        assert response.status_code == 302


def test_seed_demo_is_refused_in_production(settings):
    settings.ALLOW_DEMO_DATA = False
    with pytest.raises(CommandError, match="refused"):
        call_command("seed_demo")
    assert not User.objects.filter(username="manager").exists()
