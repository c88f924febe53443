import re
import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache

from django.core.exceptions import ValidationError

INVALID_TIME_ZONE = "“%(value)s” is not a known IANA time zone (for example Europe/London)."
ABBREVIATED_TIME_ZONE = (
    "“%(value)s” is read by the database as a fixed offset without summer time; use the "
    "region's zone, such as %(region)s."
)

# Legacy IANA names that PostgreSQL reads as its abbreviations (fixed offsets), while Python
# reads them as zones with summer time: the reports' SQL and their drill-downs would judge
# the same moment an hour apart. Each is refused in favour of the zone IANA now links it to
# (tzdata 2024b), which existing rows were moved to.
DATABASE_ABBREVIATIONS = {
    "CET": "Europe/Brussels",
    "MET": "Europe/Brussels",
    "EET": "Europe/Athens",
    "WET": "Europe/Lisbon",
}


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - DATABASE_ABBREVIATIONS.keys()


def is_valid_time_zone(value: str) -> bool:
    return value in _known_zones()


def validate_time_zone(value: str) -> None:
    if value in DATABASE_ABBREVIATIONS:
        raise ValidationError(
            ABBREVIATED_TIME_ZONE,
            code="invalid_time_zone",
            params={"value": value, "region": DATABASE_ABBREVIATIONS[value]},
        )
    if not is_valid_time_zone(value):
        raise ValidationError(INVALID_TIME_ZONE, code="invalid_time_zone", params={"value": value})


# Characters XML 1.0 cannot carry (C0 controls but tab, newline and carriage return; lone
# surrogates; U+FFFE and U+FFFF). Pasted terminal output brings them (colour codes start
# with ESC), and one in a public update would break the status page's Atom feed.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CONTROL_CHARACTERS = (
    "Remove the control characters (such as a pasted terminal's colour codes): the status "
    "page and its feed cannot show them."
)


def has_control_characters(value: str) -> bool:
    return bool(NOT_XML.search(value or ""))


def without_control_characters(value: str) -> str:
    return NOT_XML.sub("", value or "")


# Moments before this are a default value sent by mistake (Go's zero time is year 1), not an
# incident: stored, they would be rendered and subtracted at the edges of the calendar.
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
TOO_EARLY = "{what} cannot be before 1900; check the year."


def validate_day_not_too_early(value: date) -> None:
    """A model field's validator: the admin's forms and ``full_clean`` refuse a day before
    1900 as the services do."""
    if too_early(value):
        raise ValidationError(TOO_EARLY.format(what="A date"), code="too_early")


def too_early(moment: datetime | date | None) -> bool:
    """Whether a moment, or a day (a due date, a day off), is before 1900: a year typed with
    two digits (0026) that the date pickers accept."""
    if isinstance(moment, datetime):
        return moment < EARLIEST_MOMENT
    return moment is not None and moment < EARLIEST_MOMENT.date()
