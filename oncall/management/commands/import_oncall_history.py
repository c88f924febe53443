from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from oncall.imports import FILES, ImportRowError, oncall_history_import


class Command(BaseCommand):
    help = (
        "Import on-call history from another paging tool. DIR may hold "
        + ", ".join(FILES)
        + " (UTF-8, header row first). All-or-nothing and idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory", type=Path, metavar="DIR")

    def handle(self, *args, directory: Path, **options):
        try:
            created = oncall_history_import(directory)
        except ImportRowError as error:
            raise CommandError(f"{error} - nothing was imported.") from None
        kinds = ("users", "teams", "rotations", "incidents", "shifts", "pages")
        summary = ", ".join(f"{created.get(kind, 0)} {kind}" for kind in kinds)
        updated = created.get("incidents updated", 0)
        if updated:
            summary += f"; completed {updated} incidents recorded before (acknowledged or resolved)"
        updated = created.get("pages updated", 0)
        if updated:
            summary += f"; completed {updated} pages recorded before (incident or acknowledgement)"
        self.stdout.write(f"Created {summary}.")
