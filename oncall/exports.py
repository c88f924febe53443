"""CSV and XLSX renderings of the compensation report.

Text cells that a spreadsheet would read as a formula (starting with =, +, - or @, or a tab or
carriage return) are prefixed with an apostrophe. Money, hours and counts are never touched:
they are our own numbers, and a negative correction must stay a number.
"""

import csv
import io
import zipfile
from collections.abc import Iterable
from datetime import datetime, time

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from incidents.validators import without_control_characters
from oncall.selectors import COUNTS, CSV_COLUMNS, MONEY_AND_HOURS, CompensationReport

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = ("username", "full_name", "team", "currency")


def neutralise(value: str) -> str:
    """A text cell a spreadsheet could read as a formula, with an apostrophe before it. The
    test looks past control characters, which the workbook drops ("\x1b=HYPERLINK(…)" would
    be a formula there), and past leading spaces and line breaks, which spreadsheets skip."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS)
        or without_control_characters(value).startswith(FORMULA_STARTS)
        or without_control_characters(value).lstrip().startswith(FORMULA_STARTS)
    ):
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
        values = safe_values({name: totals.get(name, "") for name in CSV_COLUMNS})
        sheet.append(["TOTAL" if name == "username" else values[name] for name in CSV_COLUMNS])
        for cell in sheet[sheet.max_row]:
            cell.font = Font(bold=True)
    for column, name in enumerate(CSV_COLUMNS, start=1):
        if name in MONEY_AND_HOURS:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=column, max_col=column):
                cell.number_format = "0.00"
    # The same report gives the same bytes (a closed period reproduces exactly): the
    # document's dates are the period's end, not the moment of writing, and so are the
    # archive's entries'.
    moment = datetime.combine(report.end, time())
    workbook.properties.created = workbook.properties.modified = moment
    out = io.BytesIO()
    # ``Workbook.save`` would stamp the time of writing as "modified"; its writer does not.
    ExcelWriter(workbook, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED)).save()
    return _with_fixed_dates(out.getvalue(), moment)


def _with_fixed_dates(archive: bytes, moment: datetime) -> bytes:
    # A zip entry's date is between 1980 and 2107.
    stamp = min(max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0)), (2107, 12, 31, 0, 0, 0))
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(archive)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=stamp)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(entry))
    return out.getvalue()


def _cell(name: str, value, row):
    if name in MONEY_AND_HOURS:
        return getattr(row, name)
    if name in COUNTS:
        return int(value)
    # A workbook is XML: a control character (a name pasted with a terminal's colour code)
    # cannot be written, and a closed period keeps the name as it was then.
    return without_control_characters(value) if isinstance(value, str) else value
