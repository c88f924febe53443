import zoneinfo
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from incidents.validators import is_valid_time_zone
from postmortems.export import ExportRefused, postmortem_markdown
from postmortems.models import Postmortem


class Command(BaseCommand):
    help = (
        "Print a published post-mortem as Markdown (for wikis and tickets), or write it to a "
        "file with --output. Unpublished post-mortems are refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("reference", help="The incident's reference, e.g. INC-2026-0042.")
        parser.add_argument(
            "--time-zone",
            default=settings.TIME_ZONE,
            help="IANA zone the moments are shown in (default: the project's TIME_ZONE).",
        )
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, **options):
        if not is_valid_time_zone(options["time_zone"]):
            raise CommandError(f"Unknown time zone: {options['time_zone']}.")
        postmortem = (
            Postmortem.objects.filter(incident__reference__iexact=options["reference"].strip())
            .only("pk")
            .first()
        )
        if postmortem is None:
            raise CommandError(f"No post-mortem for {options['reference']}.")
        try:
            markdown = postmortem_markdown(
                postmortem=postmortem, zone=zoneinfo.ZoneInfo(options["time_zone"])
            )
        except ExportRefused as error:
            raise CommandError(" ".join(error.messages)) from error
        if options["output"]:
            try:
                Path(options["output"]).write_text(markdown, encoding="utf-8")
            except OSError as error:
                raise CommandError(
                    f"Cannot write {options['output']}: {error.strerror or error}"
                ) from error
            self.stderr.write(f"Wrote {options['output']}")
        else:
            self.stdout.write(markdown, ending="")
