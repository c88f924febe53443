"""The public status page and its Atom feed: what the public sees, and that nothing internal
(internal updates, names, titles, summaries, root causes, timeline) ever leaks."""

import html
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import urlparse

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents import services
from incidents.models import CommunicationTemplate, IncidentRole, RootCauseCategory, Service
from incidents.selectors import STATUS_PAGE_RECENT_SHOWN, ServiceState, status_page
from tests.incidents.factories import ServiceFactory, UserFactory
from tests.metrics.fixtures import utc

pytestmark = pytest.mark.django_db

PAGE = reverse("status:page")
FEED = reverse("status:feed")
ATOM = "{http://www.w3.org/2005/Atom}"
CHECKLIST = services.ResolutionChecklist.all_confirmed()
NOW = utc(2026, 5, 4, 12)

# Strings that exist only on the inside; none may appear in any public response.
SECRETS = (
    "Zelda",
    "Secretname",
    "zsecret",
    "Quentin",
    "Hushwell",
    "TITLE-INTERNAL",
    "SUMMARY-INTERNAL",
    "ROOT-CAUSE-INTERNAL",
    "IMPACT-INTERNAL",
    "NOTE-INTERNAL",
    "INTERNAL-UPDATE",
    "incident-2026",  # the internal chat channel's name
    "internal-tool",  # a service that is not public
)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def people():
    return (
        UserFactory(username="zsecret", first_name="Zelda", last_name="Secretname"),
        UserFactory(username="qhush", first_name="Quentin", last_name="Hushwell"),
    )


def at(hours: float):
    return NOW - timedelta(hours=hours)


def declare(title, sev, services_, who, hours_ago, **extra):
    return services.incident_declare(
        title=title,
        severity=sev,
        declared_by=who,
        services=services_,
        summary="SUMMARY-INTERNAL: the db password rotation broke checkout",
        impact_description="IMPACT-INTERNAL figures",
        at=at(hours_ago),
        **extra,
    )


def update(incident, who, hours_ago, audience, text):
    return services.status_update_post(
        incident=incident,
        author=who,
        status="Investigating",
        impact=text,
        action=f"{text} action",
        eta="30 minutes",
        audience=audience,
        at=at(hours_ago),
    )


@pytest.fixture
def world(people):
    """
    - checkout (SEV-1, open): a status-page update and an internal one, a commander.
    - login (SEV-2, open, customer impact): no public update yet.
    - search (SEV-3, resolved two days ago, customer impact): no public update.
    - billing (SEV-2, resolved 20 days ago, public update): too old to show.
    - internal (SEV-1, open, no customer impact, no public update): never shown.
    - hidden (SEV-1, open, public update) on a non-public service only: never shown.
    """
    zelda, quentin = people
    checkout_web = ServiceFactory(name="checkout-web", description="Checkout pages")
    auth = ServiceFactory(name="auth-service")
    search_api = ServiceFactory(name="search-api")
    billing_api = ServiceFactory(name="billing-api")
    internal = ServiceFactory(name="internal-tool", is_public=False)

    checkout = declare("TITLE-INTERNAL checkout", "SEV-1", [checkout_web, internal], zelda, 3)
    services.role_assign(
        incident=checkout, role=IncidentRole.COMMANDER, user=quentin, by=zelda, at=at(2.9)
    )
    services.note_add(incident=checkout, author=quentin, text="NOTE-INTERNAL", at=at(2.8))
    update(checkout, quentin, 2.5, "status_page", "Checkout fails for some customers")
    update(checkout, zelda, 2, "internal", "INTERNAL-UPDATE the primary is out of disk")
    services.incident_update_details(
        incident=checkout,
        by=zelda,
        root_cause="ROOT-CAUSE-INTERNAL",
        root_cause_category=RootCauseCategory.CAPACITY,
        at=at(1.5),
    )

    login = declare("TITLE-INTERNAL login", "SEV-2", [auth], zelda, 1, customer_impact=True)

    search = declare(
        "TITLE-INTERNAL search", "SEV-3", [search_api], quentin, 50, customer_impact=True
    )
    services.incident_resolve(incident=search, by=quentin, checklist=CHECKLIST, at=at(48))

    billing = declare("TITLE-INTERNAL billing", "SEV-2", [billing_api], quentin, 20 * 24 + 2)
    update(billing, quentin, 20 * 24 + 1, "status_page", "Invoices are late")
    services.incident_resolve(incident=billing, by=quentin, checklist=CHECKLIST, at=at(20 * 24))

    internal_only = declare("TITLE-INTERNAL quiet", "SEV-1", [checkout_web], zelda, 0.5)
    update(internal_only, zelda, 0.4, "internal", "INTERNAL-UPDATE nobody outside knows")

    hidden = declare("TITLE-INTERNAL hidden", "SEV-1", [internal], zelda, 0.3)
    # Posted while its service was public; a manager has taken the service off the page since.
    Service.objects.filter(pk=internal.pk).update(is_public=True)
    update(hidden, zelda, 0.2, "status_page", "Hidden service")
    Service.objects.filter(pk=internal.pk).update(is_public=False)
    return {
        "checkout": checkout,
        "login": login,
        "search": search,
        "billing": billing,
        "internal": internal_only,
        "hidden": hidden,
    }


def public_responses(client, world):
    pages = [client.get(PAGE), client.get(FEED)]
    for incident in world.values():
        pages.append(client.get(reverse("status:incident", args=[incident.reference])))
    return pages


class TestWhatThePublicSees:
    def test_no_login_needed_and_briefly_cacheable(self, client, world):
        response = client.get(PAGE)
        assert response.status_code == 200
        assert sorted(response["Cache-Control"].split(", ")) == ["max-age=30", "public"]
        assert "Set-Cookie" not in response

    def test_each_public_service_with_its_state(self, client, world):
        page = status_page()
        states = {s.name: s.state for s in page.services}
        assert states == {
            "auth-service": ServiceState.PARTIAL_OUTAGE,  # SEV-2
            "billing-api": ServiceState.OPERATIONAL,
            "checkout-web": ServiceState.MAJOR_OUTAGE,  # SEV-1
            "search-api": ServiceState.OPERATIONAL,  # resolved
        }
        assert (page.state, page.state_label) == (ServiceState.MAJOR_OUTAGE, "Major outage")
        html = client.get(PAGE).content.decode()
        assert "Major outage" in html
        assert "Checkout pages" in html

    def test_each_service_says_the_latest_public_word_on_it(self, client, world, people):
        services.status_update_post(
            incident=world["checkout"],
            author=people[0],
            status="Monitoring a fix",
            impact="Checkout works again for most customers",
            action="Watching error rates",
            eta="1 hour",
            audience="status_page",
            at=at(1),
        )
        # Internal updates, even newer ones, never become a service's line.
        update(world["checkout"], people[0], 0.5, "internal", "INTERNAL-UPDATE rolled back")
        latest = {s.name: s.latest for s in status_page().services}
        assert (latest["checkout-web"].status, latest["checkout-web"].posted_at) == (
            "Monitoring a fix",
            at(1),
        )
        # No public update yet: the templates' initial wording speaks for it.
        assert latest["auth-service"].kind == "initial"
        assert latest["search-api"] is None  # resolved: nothing current to say
        html = client.get(PAGE).content.decode()
        line = html.split("checkout-web", 1)[1].split("</li>", 1)[0]
        assert "Monitoring a fix · 2026-05-04 11:00 UTC" in line

    def test_all_operational(self, client):
        ServiceFactory(name="api")
        assert "All systems operational" in client.get(PAGE).content.decode()

    def test_only_status_page_updates_are_shown(self, client, world):
        html = client.get(PAGE).content.decode()
        assert "Checkout fails for some customers" in html
        assert "Checkout fails for some customers action" in html
        assert "INTERNAL-UPDATE" not in html

    def test_initial_and_resolution_wording_from_the_templates(self, client, world):
        html = client.get(PAGE).content.decode()
        # login: open, customer impact, no public update yet: the initial template.
        assert (
            "We are investigating reports of an issue affecting auth-service. Some customers "
            "may be experiencing degraded service." in html
        )
        # search: resolved two days ago without a public update: the resolution template.
        assert "The issue affecting search-api has been resolved as of 2026-05-02 12:00 UTC" in html

    def test_the_wording_follows_the_managers_templates(self, client, world):
        CommunicationTemplate.objects.filter(kind="initial").update(
            body="We know {services} is unwell ({severity}). {title}."
        )
        html = client.get(PAGE).content.decode()
        assert "We know auth-service is unwell (Partial outage). an issue affecting" in html

    def test_a_resolution_update_posted_by_people_replaces_the_template(self, world, people):
        checkout = world["checkout"]
        services.incident_resolve(incident=checkout, by=people[0], checklist=CHECKLIST, at=at(1))
        update(checkout, people[0], 0.9, "status_page", "Fixed and watching")
        [shown] = [i for i in status_page().recent_incidents if i.reference == checkout.reference]
        assert [u.kind for u in shown.updates] == ["update", "update"]
        assert shown.status == "Resolved"

    def test_old_internal_and_non_public_incidents_are_not_shown(self, client, world):
        page = status_page()
        shown = {i.reference for i in page.open_incidents + page.recent_incidents}
        assert shown == {
            w.reference for k, w in world.items() if k in ("checkout", "login", "search")
        }
        for key in ("billing", "internal", "hidden"):
            reference = world[key].reference
            assert reference not in client.get(PAGE).content.decode()
            assert reference not in client.get(FEED).content.decode()
        for key in ("internal", "hidden"):
            reference = world[key].reference
            assert client.get(reverse("status:incident", args=[reference])).status_code == 404
        assert client.get(reverse("status:incident", args=["INC-0000-0000"])).status_code == 404
        assert "Hidden service" not in client.get(PAGE).content.decode()
        assert "Invoices are late" not in client.get(FEED).content.decode()

    def test_an_incident_page_stays_reachable_after_it_leaves_the_front_page(self, client, world):
        response = client.get(reverse("status:incident", args=[world["checkout"].reference]))
        assert response.status_code == 200
        assert "Checkout fails for some customers" in response.content.decode()
        # Twenty days on, billing is off the page but its feed links still work.
        response = client.get(reverse("status:incident", args=[world["billing"].reference]))
        assert response.status_code == 200
        assert "Invoices are late" in response.content.decode()

    def test_nothing_internal_leaks_anywhere(self, client, world):
        for response in public_responses(client, world):
            body = response.content.decode()
            for secret in SECRETS:
                assert secret not in body, (response.request["PATH_INFO"], secret)

    def test_a_signed_in_manager_sees_the_same_public_page(self, client, world, manager):
        client.force_login(manager)
        body = client.get(PAGE).content.decode()
        assert "maria" not in body
        for secret in SECRETS:
            assert secret not in body

    def test_the_page_lists_the_most_recently_resolved_of_the_last_14_days(
        self, client, world, people
    ):
        search = world["search"].reference  # resolved two days ago
        assert "most recently resolved are listed" not in client.get(PAGE).content.decode()
        service = ServiceFactory(name="api-gateway")
        later = []
        for n in range(STATUS_PAGE_RECENT_SHOWN):  # each resolved after search
            incident = declare(f"t{n}", "SEV-3", [service], people[0], 30, customer_impact=True)
            services.incident_resolve(
                incident=incident, by=people[0], checklist=CHECKLIST, at=at(20 - n * 0.5)
            )
            later.append(incident.reference)
        page = status_page()
        assert {i.reference for i in page.recent_incidents} == set(later)
        assert page.more_recent
        assert {i.reference for i in page.open_incidents} == {
            world["checkout"].reference,
            world["login"].reference,
        }
        body = client.get(PAGE).content.decode()
        assert search not in body
        assert f"The {STATUS_PAGE_RECENT_SHOWN} most recently resolved are listed." in body
        # Its own page stays, and a shorter list keeps the newest.
        assert client.get(reverse("status:incident", args=[search])).status_code == 200
        assert [i.reference for i in status_page(recent_shown=2).recent_incidents] == [
            later[-1],
            later[-2],
        ]

    def test_constant_queries(self, client, world, people):
        def run():
            counts = []
            for url in (PAGE, FEED):
                with CaptureQueriesContext(connection) as ctx:
                    assert client.get(url).status_code == 200
                counts.append(len(ctx.captured_queries))
            return counts

        few = run()
        for n in range(15):
            service = ServiceFactory(name=f"svc-{n}")
            incident = declare(
                f"t{n}",
                ("SEV-1", "SEV-2", "SEV-3")[n % 3],
                [service],
                people[0],
                n + 1,
                customer_impact=True,
            )
            update(incident, people[0], n + 0.5, "status_page", f"public {n}")
            if n % 2:
                services.incident_resolve(
                    incident=incident, by=people[0], checklist=CHECKLIST, at=at(n + 0.2)
                )
        assert run() == few == [6, 6]


class TestFeed:
    def parse(self, client):
        response = client.get(FEED)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/atom+xml")
        return ET.fromstring(response.content)  # noqa: S314 - our own response, in a test

    def test_it_is_valid_atom(self, client, world):
        feed = self.parse(client)
        assert feed.tag == f"{ATOM}feed"
        # RFC 4287: a feed has exactly one id, title and updated, and an author (here the
        # feed's, as entries have none); every entry has one id, title, updated and a link.
        for name in ("id", "title", "updated"):
            assert len(feed.findall(f"{ATOM}{name}")) == 1, name
        assert feed.find(f"{ATOM}author/{ATOM}name").text == "Status page"
        assert feed.find(f"{ATOM}link[@rel='self']").get("href").endswith(FEED)
        entries = feed.findall(f"{ATOM}entry")
        ids = []
        for entry in entries:
            for name in ("id", "title", "updated"):
                assert len(entry.findall(f"{ATOM}{name}")) == 1, name
            assert entry.find(f"{ATOM}link").get("href").startswith("http")
            assert entry.find(f"{ATOM}author") is None  # never a person
            ids.append(entry.find(f"{ATOM}id").text)
            assert urlparse(ids[-1]).scheme in ("http", "https")  # an absolute IRI
        assert len(ids) == len(set(ids))
        updated = [e.find(f"{ATOM}updated").text for e in entries]
        assert updated == sorted(updated, reverse=True)
        assert feed.find(f"{ATOM}updated").text == updated[0]

    def test_entries_are_the_public_updates_and_the_template_wording(self, client, world):
        feed = self.parse(client)
        titles = [e.find(f"{ATOM}title").text for e in feed.findall(f"{ATOM}entry")]
        checkout, login, search = (world[k].reference for k in ("checkout", "login", "search"))
        assert titles == [
            f"Investigating: auth-service ({login})",  # the initial template
            f"Investigating: checkout-web ({checkout})",  # the status-page update
            f"Resolved: search-api ({search})",  # the resolution template
            f"Investigating: search-api ({search})",  # the initial template
        ]
        body = ET.tostring(feed, encoding="unicode")
        assert "Checkout fails for some customers" in body

    def test_a_summary_is_html_that_shows_the_text_as_typed(self, client, people):
        # Atom's summary is type="html": readers render it, so text must be escaped once
        # more than XML needs, and lines kept apart.
        zelda, _ = people
        incident = declare("TITLE-INTERNAL api", "SEV-2", [ServiceFactory()], zelda, 1)
        update(incident, zelda, 0.5, "status_page", "Calls to /v1/<account>/orders fail")
        feed = self.parse(client)
        [summary] = [
            entry.find(f"{ATOM}summary")
            for entry in feed.findall(f"{ATOM}entry")
            if "Calls to" in (entry.find(f"{ATOM}summary").text or "")
        ]
        assert summary.get("type") == "html"
        shown = summary.text  # what a reader renders as HTML
        assert "&lt;account&gt;" in shown
        assert "<account>" not in shown
        assert shown.count("<br>") == 2  # Impact, Action and ETA on lines of their own
        assert html.unescape(re.sub(r"<br>", "\n", shown)).splitlines()[0] == (
            "Impact: Calls to /v1/<account>/orders fail"
        )

    def test_an_empty_feed_is_still_valid(self, client):
        feed = self.parse(client)
        assert feed.findall(f"{ATOM}entry") == []
        assert feed.find(f"{ATOM}updated").text


def test_the_feed_names_itself_on_site_url_whatever_the_host(client, world, settings):
    settings.ALLOWED_HOSTS = ["status.example.com", "incidentdesk.internal"]
    settings.SITE_URL = "https://status.example.com"
    bodies = [
        client.get(FEED, HTTP_HOST=host).content.decode()
        for host in ("status.example.com", "incidentdesk.internal")
    ]
    assert bodies[0] == bodies[1]
    assert "incidentdesk.internal" not in bodies[1]
    assert "<id>https://status.example.com/status/</id>" in bodies[1]
