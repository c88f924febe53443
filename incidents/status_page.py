"""The public status page (no login): ``/status/``, one incident's page, and an Atom feed.

Thin views over ``incidents.selectors.status_page`` and friends, which hand over public facts
only (see the selectors for what is public). Responses may be cached briefly by browsers and
proxies: they hold nothing personal and are the same for everyone.
"""

from urllib.parse import urljoin

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404
from django.shortcuts import render
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from incidents import selectors
from incidents.validators import without_control_characters

PAGE_TITLE = "Service status"
CACHE_SECONDS = 30


@require_safe
@cache_control(public=True, max_age=CACHE_SECONDS)
def status_page(request):
    page = selectors.status_page()
    return render(request, "status/page.html", {"page": page, "title": PAGE_TITLE})


@require_safe
@cache_control(public=True, max_age=CACHE_SECONDS)
def status_incident(request, reference: str):
    # A NUL cannot be in any reference, and PostgreSQL refuses to compare with one.
    incident = None if "\x00" in reference else selectors.public_incident(reference=reference)
    if incident is None:
        raise Http404("No such public incident.")
    return render(
        request,
        "status/incident.html",
        {"incident": incident, "title": f"{incident.reference} · {PAGE_TITLE}"},
    )


def _entry_text(update: selectors.PublicUpdate) -> str:
    text = update.body or f"Impact: {update.impact}\nAction: {update.action}\nETA: {update.eta}"
    # Updates posted before such characters were refused must not break the feed.
    return without_control_characters(text)


class StatusFeed(Feed):
    """The status page's entries as Atom: one entry per status-page update, plus the
    templates' initial wording (an incident without a public update yet) and resolution
    wording. The feed's author is the status page, never a person."""

    feed_type = Atom1Feed
    title = PAGE_TITLE
    subtitle = "Incidents affecting our public services, with their status updates."
    author_name = "Status page"

    def __call__(self, request, *args, **kwargs):
        response = super().__call__(request, *args, **kwargs)
        response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
        return response

    # Absolute on SITE_URL: the feed's id and links stay the same whatever host name a
    # request came in by (Django would make relative ones absolute with the request's host).
    def link(self):
        return urljoin(settings.SITE_URL, reverse("status:page"))

    def feed_url(self):
        return urljoin(settings.SITE_URL, reverse("status:feed"))

    def items(self):
        return selectors.status_feed_entries()

    def item_title(self, item):
        incident, update = item
        return without_control_characters(
            f"{update.status}: {', '.join(incident.services)} ({incident.reference})"
        )

    def item_description(self, item):
        # Atom writes the summary as type="html": readers render it, so the update's plain
        # text is escaped first ("<account>" stays text, never markup) and its lines kept.
        return linebreaksbr(_entry_text(item[1]), autoescape=True)

    def item_link(self, item):
        incident, update = item
        path = f"{reverse('status:incident', args=[incident.reference])}#{update.key}"
        return urljoin(settings.SITE_URL, path)

    def item_guid(self, item):
        # Atom ids must be absolute and stable: the entry's link on the configured site.
        return self.item_link(item)

    def item_pubdate(self, item):
        return item[1].posted_at

    def item_updateddate(self, item):
        return item[1].posted_at
