"""The post-mortems app's share of the group permissions (see ``incidents.access``)."""

from incidents.access import ENGINEERS, MANAGERS, grant_permissions, is_engineer, is_manager


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


# --- Who may do what on the engineers' pages (object-level, checked on every write) -------------


def can_edit_postmortem(user, postmortem) -> bool:
    """Managers; the owner (author); the reviewers. Anyone else reads."""
    if is_manager(user):
        return True
    if not is_engineer(user):
        return False
    if postmortem.owner_id == user.pk:
        return True
    return any(reviewer.pk == user.pk for reviewer in postmortem.reviewers.all())


def can_start_postmortem(user, postmortem) -> bool:
    """Any engineer may start writing a scheduled post-mortem nobody owns yet (they become its
    owner); one assigned to someone is started by them (or a manager)."""
    if is_manager(user):
        return True
    return is_engineer(user) and postmortem.owner_id in (None, user.pk)


def can_update_action_item(user, item) -> bool:
    """The owner, or a manager."""
    return is_manager(user) or (user.is_authenticated and item.owner_id == user.pk)
