"""The post-mortems app's share of the group permissions (see ``incidents.access``)."""

from incidents.access import ENGINEERS, MANAGERS, grant_permissions


def sync_groups_for_postmortems(sender=None, using="default", **kwargs) -> None:
    """Managers get every post-mortems permission (the policy and the history included);
    engineers may view and change post-mortems and view, add and change action items (their
    pages come later). Finance gets nothing here. Never removes what a manager granted."""
    grant_permissions(MANAGERS, {"postmortems": None})
    grant_permissions(
        ENGINEERS,
        {
            "postmortems": [
                "view_postmortem",
                "change_postmortem",
                "view_actionitem",
                "add_actionitem",
                "change_actionitem",
            ]
        },
    )
