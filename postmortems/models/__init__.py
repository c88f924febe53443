from postmortems.models.action_item import (
    OPEN_ITEM_STATUSES,
    ActionItem,
    ActionItemKind,
    ActionItemPriority,
    ActionItemStatus,
)
from postmortems.models.policy import PostmortemPolicy
from postmortems.models.postmortem import (
    SECTION_FIELDS,
    STAGE_DUE_FIELD,
    STAGE_MET_FIELD,
    FiveWhy,
    Postmortem,
    PostmortemStatus,
    PostmortemTimelineEntry,
    Stage,
    TimelinePhase,
)

__all__ = [
    "OPEN_ITEM_STATUSES",
    "SECTION_FIELDS",
    "STAGE_DUE_FIELD",
    "STAGE_MET_FIELD",
    "ActionItem",
    "ActionItemKind",
    "ActionItemPriority",
    "ActionItemStatus",
    "FiveWhy",
    "Postmortem",
    "PostmortemPolicy",
    "PostmortemStatus",
    "PostmortemTimelineEntry",
    "Stage",
    "TimelinePhase",
]
