import io

import pytest
from django.core.management import call_command

from incidents.models import CommunicationTemplate, Severity


@pytest.mark.django_db
def test_no_model_change_lacks_a_migration():
    out = io.StringIO()
    try:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=out)
    except SystemExit as exit_:  # makemigrations --check exits 1 when something is missing
        pytest.fail(f"missing migrations:\n{out.getvalue()} ({exit_})")


@pytest.mark.django_db
def test_default_severity_policy_is_seeded():
    rows = {
        s.name: (
            s.acknowledge_within.total_seconds() / 60,
            s.update_every.total_seconds() / 60,
            s.escalate_after.total_seconds() / 60 if s.escalate_after else None,
            s.escalation_level.name if s.escalation_level else None,
            s.postmortem_rule,
            s.is_most_severe,
        )
        for s in Severity.objects.select_related("escalation_level")
    }
    assert rows == {
        "SEV-1": (5, 15, 30, "VP Engineering", "required", True),
        "SEV-2": (15, 30, 120, "Engineering Manager", "required", False),
        "SEV-3": (60, 240, None, None, "optional", False),
    }
    assert set(CommunicationTemplate.objects.values_list("kind", flat=True)) == {
        "announcement",
        "initial",
        "update",
        "resolution",
    }
