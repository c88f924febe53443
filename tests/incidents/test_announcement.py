"""The runbooks' "Initial Announcement (Internal)": posted to the owning team's chat webhook
when an incident is declared, and shown on the incident page to copy into its channel."""

import pytest
from django.core.exceptions import ValidationError

from incidents import services
from incidents.models import (
    CommunicationTemplate,
    IncidentRole,
    Notification,
    NotificationChannel,
    TemplateKind,
)
from tests.incidents.factories import BASE_TIME, ServiceFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
HOOK = "https://chat.example.com/hooks/payments"


def declare(by, *, team=None):
    return services.incident_declare(
        title="Checkout failing",
        severity="SEV-1",
        declared_by=by,
        services=[ServiceFactory(name="checkout", team=team or TeamFactory(name="Payments"))],
        impact_description="card payments fail",
        customer_impact=True,
        at=BASE_TIME,
    )


def test_declaring_posts_the_announcement_to_the_teams_chat_once(manager):
    incident = declare(manager, team=TeamFactory(name="Payments", chat_webhook_url=HOOK))
    [posted] = Notification.objects.filter(kind="incident_announcement")
    assert (posted.channel, posted.webhook_url) == (NotificationChannel.WEBHOOK, HOOK)
    assert posted.body.splitlines() == [
        "@here Incident declared: Checkout failing",
        "Severity: SEV-1",
        "Impact: card payments fail",
        f"Incident Channel: {incident.channel_name}",
        "IC: not assigned yet",
        f"Reference: {incident.reference}",
    ]


def test_no_webhook_no_post(manager):
    declare(manager)
    assert not Notification.objects.filter(kind="incident_announcement").exists()


def test_the_incident_page_shows_it_with_the_commander_and_the_managers_wording(client, manager):
    incident = declare(manager)
    commander = UserFactory(username="ic", first_name="Ines", last_name="Cruz")
    services.role_assign(
        incident=incident, role=IncidentRole.COMMANDER, user=commander, by=manager, at=BASE_TIME
    )
    client.force_login(manager)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "IC: Ines Cruz" in page
    template = CommunicationTemplate.objects.get(kind=TemplateKind.ANNOUNCEMENT)
    template.body = "@channel {reference} is a {severity}; IC {commander}"
    template.full_clean()
    template.save()
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f"@channel {incident.reference} is a SEV-1; IC Ines Cruz" in page


def test_only_the_internal_announcement_may_name_the_commander():
    public = CommunicationTemplate.objects.get(kind=TemplateKind.INITIAL)
    public.body = "Investigating; {commander} is on it"
    with pytest.raises(ValidationError) as refused:
        public.full_clean()
    assert "Unknown placeholder {commander}" in str(refused.value)
