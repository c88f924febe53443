"""The seeded internal announcement names the incident commander, as the runbooks' template
does ("IC: @[Name]"). A text a manager has edited is left as it is."""

from django.db import migrations, models

SEEDED = (
    "@here Incident declared: {title}\nSeverity: {severity}\nImpact: {impact}\n"
    "Incident Channel: {channel}\nReference: {reference}"
)
WITH_COMMANDER = SEEDED.replace("Reference: {reference}", "IC: {commander}\nReference: {reference}")


def forwards(apps, schema_editor):
    Template = apps.get_model("incidents", "CommunicationTemplate")
    Template.objects.filter(kind="announcement", body=SEEDED).update(body=WITH_COMMANDER)


def backwards(apps, schema_editor):
    Template = apps.get_model("incidents", "CommunicationTemplate")
    Template.objects.filter(kind="announcement", body=WITH_COMMANDER).update(body=SEEDED)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0020_role_assigned_covering_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="communicationtemplate",
            name="body",
            field=models.TextField(
                help_text="Full wording. Placeholders: {title} {reference} {severity} "
                "{services} {channel} {impact} {resolved_at}; the internal announcement also "
                "{commander}."
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
