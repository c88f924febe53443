from oncall.models.compensation import (
    CompensationLine,
    CompensationPolicy,
    CompTimeTaken,
    PayPeriod,
    PayPeriodStatus,
)
from oncall.models.page import Page, PageSource
from oncall.models.rotation import (
    CalendarFeed,
    Handoff,
    Rotation,
    RotationMember,
    Shift,
    ShiftRole,
    ShiftSource,
)

__all__ = [
    "CalendarFeed",
    "CompTimeTaken",
    "CompensationLine",
    "CompensationPolicy",
    "Handoff",
    "Page",
    "PageSource",
    "PayPeriod",
    "PayPeriodStatus",
    "Rotation",
    "RotationMember",
    "Shift",
    "ShiftRole",
    "ShiftSource",
]
