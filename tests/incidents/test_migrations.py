import io
from datetime import UTC, datetime
from importlib import import_module

import pytest
from django.apps import apps as live_apps
from django.core.exceptions import ValidationError
from django.core.management import call_command

from incidents.models import CommunicationTemplate, Notification, Severity
from incidents.validators import validate_time_zone
from oncall import reminders
from tests.incidents.factories import ProfileFactory
from tests.oncall.factories import ShiftFactory, engineer


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


@pytest.mark.django_db
def test_a_profile_in_a_zone_the_database_reads_as_a_fixed_offset_moves_to_its_region():
    cet = ProfileFactory(time_zone="Europe/London")
    type(cet).objects.filter(pk=cet.pk).update(time_zone="CET")  # as stored before 0018
    london = ProfileFactory(time_zone="Europe/London")
    migration = import_module("incidents.migrations.0018_time_zones_not_database_abbreviations")
    migration.forwards(live_apps, None)
    cet.refresh_from_db()
    london.refresh_from_db()
    assert (cet.time_zone, london.time_zone) == ("Europe/Brussels", "Europe/London")


@pytest.mark.parametrize(("name", "region"), [("CET", "Europe/Brussels"), ("WET", "Europe/Lisbon")])
def test_zones_the_database_reads_as_fixed_offsets_are_refused_with_their_region(name, region):
    with pytest.raises(ValidationError) as refused:
        validate_time_zone(name)
    assert region in refused.value.messages[0]
    validate_time_zone(region)


@pytest.mark.django_db
def test_heads_ups_recorded_under_the_earlier_key_are_not_sent_again_after_the_upgrade():
    ada = engineer("ada")
    shift = ShiftFactory(engineer=ada, starts_at=datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 18, tzinfo=UTC)) == 1
    # As the release before this one recorded it.
    Notification.objects.update(key=f"shift-heads-up:{shift.pk}")
    migration = import_module("incidents.migrations.0019_reminder_keys_per_person")
    migration.forwards(live_apps, None)
    assert reminders.sweep_shift_heads_up(now=datetime(2026, 3, 2, 19, tzinfo=UTC)) == 0
    assert Notification.objects.get().key == f"shift-heads-up:{shift.pk}:{ada.pk}"
