"""A small, hand-computed set of incidents for the metrics tests (see each test's arithmetic).

All moments are UTC; the tests that cross time zones change ``TIME_ZONE`` around them.
"""

from datetime import UTC, datetime, timedelta

from incidents.models import IncidentStatus
from tests.incidents.factories import IncidentFactory, severity

MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def incident(
    sev: str,
    started: datetime,
    *,
    ttd: timedelta,
    tta: timedelta | None = None,
    ttr: timedelta | None = None,
    **extra,
):
    """An incident row with its moments given as durations: detected = started + ttd,
    acknowledged = detected + tta, resolved = started + ttr (None: not yet)."""
    detected = started + ttd
    resolved = started + ttr if ttr is not None else None
    return IncidentFactory(
        severity=severity(sev),
        started_at=started,
        detected_at=detected,
        declared_at=detected,
        acknowledged_at=detected + tta if tta is not None else None,
        mitigated_at=resolved,
        resolved_at=resolved,
        status=IncidentStatus.RESOLVED if resolved else IncidentStatus.INVESTIGATING,
        **extra,
    )


def first_quarter_2026():
    """Eight incidents started in 2026-Q1 (UTC) and two just outside it.

    | ref | sev   | started (UTC)    | ttd  | tta  | ttr   | customer |
    |-----|-------|------------------|------|------|-------|----------|
    | A   | SEV-1 | 2026-01-05 10:00 | 2 m  | 3 m  | 40 m  | yes      |
    | B   | SEV-1 | 2026-02-10 22:00 | 6 m  | 8 m  | 120 m | yes      |
    | C   | SEV-1 | 2026-03-20 09:00 | 1 m  | 4 m  | open  |          |
    | D   | SEV-2 | 2026-01-15 12:00 | 5 m  | 15 m | 240 m |          |
    | E   | SEV-2 | 2026-03-31 23:30 | 3 m  | 20 m | 60 m  |          |
    | F   | SEV-2 | 2026-02-01 08:00 | 4 m  | —    | open  |          |
    | H   | SEV-3 | 2026-01-20 03:00 | 7 m  | 30 m | 180 m |          |
    | I   | SEV-1 | 2025-12-31 23:59 | outside (before)                |
    | J   | SEV-1 | 2026-04-01 00:00 | outside (the end is excluded)   |
    """
    return {
        "A": incident(
            "SEV-1",
            utc(2026, 1, 5, 10),
            ttd=2 * MIN,
            tta=3 * MIN,
            ttr=40 * MIN,
            customer_impact=True,
        ),
        "B": incident(
            "SEV-1",
            utc(2026, 2, 10, 22),
            ttd=6 * MIN,
            tta=8 * MIN,
            ttr=120 * MIN,
            customer_impact=True,
        ),
        "C": incident("SEV-1", utc(2026, 3, 20, 9), ttd=1 * MIN, tta=4 * MIN),
        "D": incident("SEV-2", utc(2026, 1, 15, 12), ttd=5 * MIN, tta=15 * MIN, ttr=4 * HOUR),
        "E": incident("SEV-2", utc(2026, 3, 31, 23, 30), ttd=3 * MIN, tta=20 * MIN, ttr=HOUR),
        "F": incident("SEV-2", utc(2026, 2, 1, 8), ttd=4 * MIN),
        "H": incident("SEV-3", utc(2026, 1, 20, 3), ttd=7 * MIN, tta=30 * MIN, ttr=3 * HOUR),
        "I": incident("SEV-1", utc(2025, 12, 31, 23, 59), ttd=MIN, tta=MIN, ttr=MIN),
        "J": incident("SEV-1", utc(2026, 4, 1), ttd=MIN, tta=MIN, ttr=MIN),
    }
