"""CSV and XLSX renderings of the compensation report.

Text cells that a spreadsheet would read as a formula (starting with =, +, - or @, or a tab or
carriage return) are prefixed with an apostrophe. Money, hours and counts are never touched:
they are our own numbers, and a negative correction must stay a number.
"""

import csv
import io
from collections.abc import Iterable

from openpyxl import Workbook
from openpyxl.styles import Font

from incidents.validators import without_control_characters
from oncall.selectors import COUNTS, CSV_COLUMNS, MONEY_AND_HOURS, CompensationReport

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = ("username", "full_name", "team", "currency")


def neutralise(value: str) -> str:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_values(values: dict) -> dict:
    return {
        name: neutralise(value) if name in TEXT_COLUMNS else value for name, value in values.items()
    }


def write_csv(stream, rows: Iterable[dict]) -> None:
    writer = csv.DictWriter(stream, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for values in rows:
        writer.writerow(safe_values(values))


def report_csv(report: CompensationReport) -> str:
    out = io.StringIO()
    write_csv(out, (row.values() for row in report.rows))
    return out.getvalue()


def report_xlsx(report: CompensationReport) -> bytes:
    """The report as a workbook: numbers as numbers (two decimals), a bold totals row per
    currency."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = f"{report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}"[:31]
    sheet.append(list(CSV_COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in report.rows:
        values = safe_values(row.values())
        sheet.append([_cell(name, values[name], row) for name in CSV_COLUMNS])
    for totals in report.totals():
        sheet.append(
            ["TOTAL" if name == "username" else totals.get(name, "") for name in CSV_COLUMNS]
        )
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    for column, name in enumerate(CSV_COLUMNS, start=1):
        if name in MONEY_AND_HOURS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = "0.00"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cell(name: str, value, row):
    if name in MONEY_AND_HOURS:
        return getattr(row, name)
    if name in COUNTS:
        return int(value)
    # A workbook is XML: a control character (a name pasted with a terminal's colour code)
    # cannot be written, and a closed period keeps the name as it was then.
    return without_control_characters(value) if isinstance(value, str) else value
