from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bench.generator import Generator, Plan


class Command(BaseCommand):
    help = (
        "Generate realistic history at scale (deterministic for a seed and --until): teams, "
        "engineers, "
        "rotations and shifts, incidents with ~10 timeline events each, post-mortems and "
        "action items, pages. Run it on a freshly migrated database."
    )

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=1000)
        parser.add_argument("--engineers", type=int, default=50)
        parser.add_argument("--months", type=int, default=12)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--until", type=date.fromisoformat, default=None, help="YYYY-MM-DD (default: today)"
        )

    def handle(self, *args, **options):
        if options["incidents"] < 1 or options["engineers"] < 3 or options["months"] < 1:
            raise CommandError("Need at least 1 incident, 3 engineers and 1 month.")
        if options["until"] is not None and options["until"] > timezone.localdate():
            raise CommandError("--until cannot be in the future: history is what happened.")
        plan = Plan(
            incidents=options["incidents"],
            engineers=options["engineers"],
            months=options["months"],
            seed=options["seed"],
            until=options["until"] or timezone.localdate(),
        )
        try:
            created = Generator(plan, progress=self.stdout.write).run()
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            "Created " + ", ".join(f"{count} {label}" for label, count in created.items()) + "."
        )
