"""Rotations in CET, MET, EET or WET move to the region zone IANA links each to (see
incidents 0018): the same names are refused from now on."""

from django.db import migrations

MOVES = {
    "CET": "Europe/Brussels",
    "MET": "Europe/Brussels",
    "EET": "Europe/Athens",
    "WET": "Europe/Lisbon",
}


def forwards(apps, schema_editor):
    Rotation = apps.get_model("oncall", "Rotation")
    for old, new in MOVES.items():
        Rotation.objects.filter(time_zone=old).update(time_zone=new)


class Migration(migrations.Migration):
    dependencies = [("oncall", "0009_policy_currency_code")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
