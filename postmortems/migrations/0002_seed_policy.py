"""The runbook's post-mortem deadlines: draft within 24 h, review meeting within 48 h, published
within 72 h of resolution. Managers change them in the admin; this only seeds a new installation
and never overwrites the row if it exists."""

from datetime import timedelta

from django.db import migrations


def seed(apps, schema_editor):
    PostmortemPolicy = apps.get_model("postmortems", "PostmortemPolicy")
    PostmortemPolicy.objects.get_or_create(
        pk=1,
        defaults={
            "draft_within": timedelta(hours=24),
            "review_within": timedelta(hours=48),
            "publish_within": timedelta(hours=72),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("postmortems", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
