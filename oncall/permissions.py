"""On-call permissions for the three groups, kept in step after every migrate."""

from incidents.access import ENGINEERS, FINANCE, MANAGERS, grant_permissions

VIEW_COMPENSATION_REPORT = "oncall.view_compensation_report"


def can_view_compensation(user) -> bool:
    """Finance and managers (and superusers) see the compensation report."""
    return bool(user.is_authenticated and user.has_perm(VIEW_COMPENSATION_REPORT))


def sync_groups_for_oncall(sender=None, **kwargs) -> None:
    grant_permissions(MANAGERS, {"oncall": None})
    grant_permissions(
        FINANCE,
        {"oncall": ["view_compensation_report", "view_payperiod", "view_compensationline"]},
    )
    grant_permissions(
        ENGINEERS,
        {
            "oncall": [
                "view_rotation",
                "view_shift",
                "view_handoff",
                "change_handoff",
                "view_page",
                "change_page",
                "add_comptimetaken",
                "view_comptimetaken",
            ]
        },
    )
