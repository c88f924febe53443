import zoneinfo
from functools import lru_cache

from django.core.exceptions import ValidationError

INVALID_TIME_ZONE = "“%(value)s” is not a known IANA time zone (for example Europe/London)."


@lru_cache(maxsize=1)
def _known_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_valid_time_zone(value: str) -> bool:
    return value in _known_zones()


def validate_time_zone(value: str) -> None:
    if not is_valid_time_zone(value):
        raise ValidationError(INVALID_TIME_ZONE, code="invalid_time_zone", params={"value": value})
