from incidents.models.api import ApiToken, IdempotencyKey
from incidents.models.incident import (
    DetectionMethod,
    Incident,
    IncidentRole,
    IncidentSequence,
    IncidentStatus,
    RoleAssignment,
    RootCauseCategory,
    StatusUpdate,
    UpdateAudience,
)
from incidents.models.notification import (
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from incidents.models.people import Profile, Service, Team
from incidents.models.runbook import (
    IncidentRunbook,
    Runbook,
    RunbookStep,
    RunbookStepRecord,
    RunbookVersion,
    StepOutcome,
)
from incidents.models.severity import (
    CommunicationTemplate,
    EscalationLevel,
    PostmortemRule,
    Severity,
    TemplateKind,
)
from incidents.models.timeline import TimelineEvent, TimelineEventKind

__all__ = [
    "ApiToken",
    "CommunicationTemplate",
    "DetectionMethod",
    "EscalationLevel",
    "IdempotencyKey",
    "Incident",
    "IncidentRole",
    "IncidentRunbook",
    "IncidentSequence",
    "IncidentStatus",
    "Notification",
    "NotificationChannel",
    "NotificationStatus",
    "PostmortemRule",
    "Profile",
    "RoleAssignment",
    "RootCauseCategory",
    "Runbook",
    "RunbookStep",
    "RunbookStepRecord",
    "RunbookVersion",
    "Service",
    "Severity",
    "StatusUpdate",
    "StepOutcome",
    "Team",
    "TemplateKind",
    "TimelineEvent",
    "TimelineEventKind",
    "UpdateAudience",
]
