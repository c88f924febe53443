"""Profiles in CET, MET, EET or WET move to the region zone IANA links each to: PostgreSQL
reads those names as fixed offsets, so the reports' SQL judged summer moments an hour off."""

from django.db import migrations

MOVES = {
    "CET": "Europe/Brussels",
    "MET": "Europe/Brussels",
    "EET": "Europe/Athens",
    "WET": "Europe/Lisbon",
}


def forwards(apps, schema_editor):
    Profile = apps.get_model("incidents", "Profile")
    for old, new in MOVES.items():
        Profile.objects.filter(time_zone=old).update(time_zone=new)


class Migration(migrations.Migration):
    dependencies = [("incidents", "0017_incident_reopened_at")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
