"""iCalendar rendering of an engineer's shifts."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vText

from oncall.selectors import shifts_for_engineer

FEED_PAST = timedelta(days=30)
FEED_FUTURE = timedelta(days=180)


def shifts_ical(*, user, now=None) -> bytes:
    """Shifts from 30 days ago to 180 days ahead, one VEVENT each, times in UTC."""
    now = now or timezone.now()
    calendar = Calendar()
    calendar.add("prodid", "-//IncidentDesk//On-call//EN")
    calendar.add("version", "2.0")
    # As text, escaped: icalendar writes an unknown X- property raw, and a line break in a
    # name would make the feed fail.
    calendar.add("x-wr-calname", vText(f"On call: {user.get_full_name() or user.get_username()}"))
    host = settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0] or "incidentdesk"
    for shift in shifts_for_engineer(user=user, start=now - FEED_PAST, end=now + FEED_FUTURE):
        event = Event()
        event.add("uid", f"shift-{shift.pk}@{host}")
        # When this copy was made: a shift shortened by an override since is a newer version.
        event.add("dtstamp", now)
        event.add("dtstart", shift.starts_at)
        event.add("dtend", shift.ends_at)
        summary = f"On call ({shift.get_role_display().lower()}): {shift.rotation}"
        if shift.covered_engineer_id:
            summary += f", covering {shift.covered_engineer}"
        event.add("summary", summary)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
