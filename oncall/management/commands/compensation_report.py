import json
import re
from datetime import date

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from oncall.exports import write_csv
from oncall.selectors import compensation_report


def _day(value: str) -> date:
    # Only the documented form: Python also reads 20260301 and 2026-W14-2 as dates, which a
    # payroll script would be wrong to rely on.
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "On-call compensation per engineer for [--start, --end] (days in TIME_ZONE), as CSV or "
        "JSON on stdout. A closed pay period with these exact dates prints its frozen figures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--end", required=True, metavar="YYYY-MM-DD")
        parser.add_argument("--team", metavar="NAME", help="Only engineers whose team is NAME.")
        parser.add_argument("--format", choices=("csv", "json"), default="csv")

    def handle(self, *args, **options):
        start, end = _day(options["start"]), _day(options["end"])
        if options["team"] is not None and not options["team"].strip():
            # An unset variable in "--team $TEAM" must not pay out every team's report.
            raise CommandError("--team is empty: name a team, or leave --team out for all teams")
        try:
            report = compensation_report(start=start, end=end, team=options["team"])
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        rows = [row.values() for row in report.rows]
        if options["format"] == "json":
            self.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False))
            return
        write_csv(self.stdout, rows)
