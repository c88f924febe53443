"""Import of on-call history from another paging tool (``manage.py import_oncall_history``).

The directory may hold any of ``engineers.csv``, ``shifts.csv``, ``incidents.csv`` and
``pages.csv`` (UTF-8, header row first). They are read in that order inside one transaction:
the first bad row aborts everything with an ``ImportRowError`` naming the file, the line and the
value, and the database is left exactly as it was. Importing the same files again creates
nothing: rows are matched by their natural keys.
"""

import csv
import hashlib
import io
import re
import secrets
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from incidents import services as incident_services
from incidents.access import ENGINEERS
from incidents.events import timeline_event_record
from incidents.models import Incident, Profile, Team, TimelineEventKind
from incidents.selectors import by_name
from incidents.validators import DATABASE_ABBREVIATIONS, is_valid_time_zone
from oncall import services
from oncall.models import Page, PageSource, Rotation, RotationMember, Shift, ShiftSource
from oncall.selectors import project_zone
from oncall.services import PAGE_ACK_WINDOW

User = get_user_model()

FILES = {
    "engineers.csv": ("username", "full_name", "email", "timezone", "team"),
    "shifts.csv": ("team", "rotation", "username", "starts_at", "ends_at"),
    "incidents.csv": (
        "reference",
        "title",
        "severity",
        "started_at",
        "detected_at",
        "acknowledged_at",
        "resolved_at",
    ),
    "pages.csv": ("username", "paged_at", "acknowledged_at", "incident_reference"),
}


# Moments in years outside these cannot be stored or computed with (a page's due moment is
# minutes later; a year 1 moment east of UTC is before the Common Era).
EARLIEST_YEAR, LATEST_YEAR = 1900, 9998
# What a reference may hold: it is a segment of the API's URLs, where "." and "/" cannot be.
REFERENCE = re.compile(r"[A-Za-z0-9_-]+")


class ImportRowError(Exception):
    """A bad row: which file, which line, which column and value, and what is wrong."""

    def __init__(self, file: str, line: int, message: str, column: str = "", value: str = ""):
        self.file, self.line, self.column, self.value = file, line, column, value
        self.message = message
        where = f"{file}, line {line}"
        what = f" (column {column!r}, value {value!r})" if column else ""
        super().__init__(f"{where}: {message}{what}")


@dataclass
class _Row:
    file: str
    line: int
    data: dict[str, str]

    def get(self, column: str) -> str:
        return (self.data.get(column) or "").strip()

    def fail(self, message: str, column: str = "") -> ImportRowError:
        return ImportRowError(self.file, self.line, message, column, self.get(column))

    def required(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise self.fail("a value is required", column)
        return value

    def one_line(self, column: str) -> str:
        """The value of a name or title column: one line, without control characters
        (a line break in a name breaks the calendar feed and the e-mails' headers)."""
        value = self.get(column)
        if any(unicodedata.category(character) == "Cc" for character in value):
            raise self.fail("a line break or control character is not allowed here", column)
        return value

    def moment(self, column: str, *, required: bool) -> datetime | None:
        value = self.get(column)
        if not value:
            if required:
                raise self.fail("a timestamp is required", column)
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail("not an ISO 8601 timestamp", column) from None
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise self.fail("timestamp without an offset (add Z or +HH:MM)", column)
        try:
            utc_year = moment.astimezone(UTC).year
        except OverflowError:
            utc_year = 0
        if (
            not EARLIEST_YEAR
            <= min(moment.year, utc_year)
            <= max(moment.year, utc_year)
            <= LATEST_YEAR
        ):
            raise self.fail("a timestamp from 1900 to 9998 is expected", column)
        return moment


def _decode(path: Path) -> str:
    """The file as text; a byte sequence that is not UTF-8 is reported with its line."""
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ImportRowError(name, 0, f"cannot read the file: {error.strerror}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        for number, line in enumerate(raw.splitlines(), start=1):
            try:
                line.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                bad = line[max(error.start - 10, 0) : error.end + 10]
                raise ImportRowError(name, number, f"not UTF-8 text near {bad!r}") from None
        raise ImportRowError(name, 0, "the file is not UTF-8") from None


def _rows(path: Path, columns: tuple[str, ...]):
    name = path.name
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""))
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
    except csv.Error as error:
        raise ImportRowError(name, 1, f"malformed CSV: {error}") from None
    reader.fieldnames = header
    # Empty names are a spreadsheet's trailing empty columns, not a column named twice.
    twice = sorted({column for column in header if column and header.count(column) > 1})
    if twice:
        raise ImportRowError(
            name, 1, f"column {twice[0]!r} appears more than once", twice[0], ",".join(header)
        )
    for column in columns:
        if column not in header:
            read = ",".join(header)
            hint = (
                ": columns are separated by commas"
                if len(header) == 1 and any(mark in read for mark in ";\t|")
                else ""
            )
            raise ImportRowError(name, 1, f"missing column {column!r}{hint}", "header", read)
    try:
        for data in reader:
            line = _first_line(reader.line_num, data)
            if None in data:
                extra = ",".join(data[None])
                raise ImportRowError(name, line, f"more values than columns (extra: {extra!r})")
            nul = [column for column, value in data.items() if value and "\x00" in value]
            if nul:
                raise ImportRowError(name, line, "a NUL character is not allowed", nul[0], "")
            short = [column for column, value in data.items() if value is None]
            if short:
                # csv fills the columns a short row lacks with None; an empty value is "".
                raise ImportRowError(
                    name,
                    line,
                    f"fewer values than columns (nothing for {', '.join(map(repr, short))})",
                    short[0],
                    "",
                )
            yield _Row(name, line, data)
    except csv.Error as error:
        raise ImportRowError(name, reader.line_num, f"malformed CSV: {error}") from None


LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _first_line(last_line: int, data: dict) -> int:
    """The line a row starts on: csv counts the line it ended on, which is later when a quoted
    value holds line breaks (a name or a note typed on two lines in a spreadsheet)."""
    values = [v for k, v in data.items() if k is not None and v] + list(data.get(None) or ())
    return last_line - sum(len(LINE_BREAK.findall(value)) for value in values)


def _split_name(full_name: str) -> tuple[str, str]:
    first, _, last = full_name.strip().partition(" ")
    return first, last.strip()


SHIFT_KEY_LENGTH = 255


def _shift_key(team: Team, rotation: str, username: str, starts_at, ends_at) -> str:
    """The natural key of an imported shift, kept on the shift so that a later import
    recognises it even after an override split or replaced it."""
    utc = [m.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") for m in (starts_at, ends_at)]
    key = f"{team.pk}/{rotation}/{username}/{utc[0]}/{utc[1]}"
    if len(key) > SHIFT_KEY_LENGTH:
        # Long names: cutting the key would cut off the moments and make shifts collide.
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _check_length(row: _Row, column: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise row.fail(f"longer than {limit} characters", column)


class _Importer:
    def __init__(self) -> None:
        self.created: Counter[str] = Counter()
        self.users: dict[str, object] = {}
        self.teams: dict[str, Team] = {}
        self.now = timezone.now()
        self._engineers_group: Group | None = None

    def engineers_group(self) -> Group:
        if self._engineers_group is None:
            self._engineers_group, _ = Group.objects.get_or_create(name=ENGINEERS)
        return self._engineers_group

    def find_user(self, row: _Row, column: str, username: str):
        """The user named exactly, else the only one named so in another letter case (a twin
        account would take their shifts and pay); None when there is none."""
        try:
            return by_name(User.objects, "username", username)
        except ValidationError as error:
            raise row.fail(_row_message("", error.messages[0]), column) from None

    def user(self, row: _Row, column: str = "username"):
        username = row.required(column)
        if username not in self.users:
            user = self.find_user(row, column, username)
            if user is None:
                raise row.fail("unknown user", column)
            self.users[username] = user
        return self.users[username]

    def team(self, row: _Row, *, create: bool):
        name = row.required("team")
        row.one_line("team")
        if name not in self.teams:
            team = Team.objects.filter(name__iexact=name).first()
            if team is None:
                if not create:
                    raise row.fail("unknown team", "team")
                _check_length(row, "team", name, Team._meta.get_field("name").max_length)
                team = Team.objects.create(name=name)
                self.created["teams"] += 1
            self.teams[name] = team
        return self.teams[name]

    def engineers(self, rows) -> None:
        seen: dict[str, tuple[int, dict[str, str]]] = {}
        for row in rows:
            username = row.required("username")
            # People are found by username in any letter case: "Ada" on a later line is "ada"
            # again, and may not say something else about her.
            values = {c: row.get(c) for c in FILES["engineers.csv"]} | {
                "username": username.casefold()
            }
            if username.casefold() in seen:
                line, earlier = seen[username.casefold()]
                if earlier != values:
                    raise row.fail(f"username also on line {line} with other values", "username")
                continue
            seen[username.casefold()] = (row.line, values)
            _check_length(row, "username", username, User._meta.get_field("username").max_length)
            try:
                User.username_validator(username)
            except ValidationError:
                raise row.fail("not a valid username", "username") from None
            time_zone = row.get("timezone") or settings.TIME_ZONE
            if time_zone in DATABASE_ABBREVIATIONS:
                raise row.fail(
                    "read by the database as a fixed offset without summer time; use "
                    f"{DATABASE_ABBREVIATIONS[time_zone]}",
                    "timezone",
                )
            if not is_valid_time_zone(time_zone):
                raise row.fail("not a known IANA time zone", "timezone")
            email = row.get("email")
            if email:
                _check_length(row, "email", email, User._meta.get_field("email").max_length)
                try:
                    validate_email(email)
                except ValidationError:
                    raise row.fail("not an email address", "email") from None
            first, last = _split_name(row.one_line("full_name"))
            _check_length(row, "full_name", first, 150)
            _check_length(row, "full_name", last, 150)
            team = self.team(row, create=True) if row.get("team") else None
            user = self.find_user(row, "username", username)
            if user is None:
                user = User(username=username, email=email, first_name=first, last_name=last)
                # A random password nobody knows: they sign in after a password reset, which
                # Django offers only to accounts with a usable password.
                user.set_password(secrets.token_urlsafe(32))
                user.save()
                # They go on call here: they are engineers, who sign in to acknowledge their
                # pages and work their incidents.
                user.groups.add(self.engineers_group())
                self.created["users"] += 1
            if not Profile.objects.filter(user=user).exists():
                Profile.objects.create(user=user, time_zone=time_zone, team=team)
            self.users[username] = user

    def incidents(self, rows) -> None:
        seen: dict[str, int] = {}
        for row in rows:
            reference = row.required("reference")
            if reference in seen:
                raise row.fail(f"reference also on line {seen[reference]}", "reference")
            seen[reference] = row.line
            _check_length(row, "reference", reference, 32)
            if not REFERENCE.fullmatch(reference):
                raise row.fail("only letters, digits, - and _ can be in a reference", "reference")
            twin = (
                Incident.objects.filter(reference__iexact=reference)
                .exclude(reference=reference)
                .values_list("reference", flat=True)
                .first()
            )
            if twin is not None:
                raise row.fail(
                    f"{twin} exists: references may not differ only in case", "reference"
                )
            title = row.required("title")
            row.one_line("title")
            _check_length(row, "title", title, 200)
            values = {
                "reference": reference,
                "title": title,
                "severity": row.required("severity"),
                "started_at": row.moment("started_at", required=True),
                "detected_at": row.moment("detected_at", required=False),
                "acknowledged_at": row.moment("acknowledged_at", required=False),
                "resolved_at": row.moment("resolved_at", required=False),
            }
            before = (
                Incident.objects.filter(reference=reference)
                .values_list("acknowledged_at", "resolved_at")
                .first()
            )
            try:
                incident, created = incident_services.incident_import(**values)
            except ValidationError as error:
                column, message = _first_error(error)
                column = column if column in FILES["incidents.csv"] else ""
                raise row.fail(_row_message(column, message), column) from None
            if created:
                self.created["incidents"] += 1
            elif before != (incident.acknowledged_at, incident.resolved_at):
                self.created["incidents updated"] += 1

    def shifts(self, rows) -> None:
        parsed = []
        first_start: dict[tuple[int, str], datetime] = {}
        for row in rows:
            team = self.team(row, create=False)
            name = row.required("rotation")
            row.one_line("rotation")
            _check_length(row, "rotation", name, Rotation._meta.get_field("name").max_length)
            engineer = self.user(row)
            starts_at = row.moment("starts_at", required=True)
            ends_at = row.moment("ends_at", required=True)
            if ends_at <= starts_at:
                raise row.fail("the shift ends before it starts", "ends_at")
            # Rotations are matched in any letter case, as teams and usernames are: a later
            # export writing "primary" for "Primary" is the same rotation, not a second one
            # that would pay two engineers for one week.
            key = (team.pk, name.casefold())
            first_start[key] = min(first_start.get(key, starts_at), starts_at)
            parsed.append((row, team, name, engineer, starts_at, ends_at))

        rotations: dict[tuple[int, str], Rotation] = {}
        # Members are added only to the rotations this import creates. An existing rotation's
        # members are the managers' to choose: someone's shifts of two years ago must not put
        # them back on call next week.
        created: set[int] = set()
        for row, team, name, engineer, starts_at, ends_at in parsed:
            key = (team.pk, name.casefold())
            if key not in rotations:
                try:
                    rotation = by_name(Rotation.objects.filter(team=team), "name", name)
                except ValidationError as error:
                    raise row.fail(_row_message("", error.messages[0]), "rotation") from None
                if rotation is None:
                    # The rotation's week starts where its earliest imported shift does.
                    local = first_start[key].astimezone(project_zone())
                    rotation = Rotation.objects.create(
                        team=team,
                        name=name,
                        time_zone=settings.TIME_ZONE,
                        handoff_weekday=local.weekday(),
                        handoff_time=local.time().replace(microsecond=0),
                        starts_on=local.date(),
                    )
                    self.created["rotations"] += 1
                    created.add(rotation.pk)
                rotations[key] = rotation
            rotation = rotations[key]
            if (
                rotation.pk in created
                and not RotationMember.objects.filter(rotation=rotation, user=engineer).exists()
            ):
                # After the last position: positions need not be 0..n-1 (managers number them).
                last = RotationMember.objects.filter(rotation=rotation).aggregate(
                    last=Max("position")
                )["last"]
                position = 0 if last is None else last + 1
                RotationMember.objects.create(rotation=rotation, user=engineer, position=position)
            import_key = _shift_key(
                team, rotation.name, engineer.get_username(), starts_at, ends_at
            )
            if not Shift.objects.filter(import_key=import_key).exists():
                # One person holds a role at a time: a shift given to someone else in a later
                # export would pay both of them for the same week. The same engineer's
                # overlapping shifts are fine: their hours count once.
                problem = services.shift_overlap_problem(
                    rotation=rotation,
                    role=Shift._meta.get_field("role").default,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    engineer=engineer,
                )
                if problem is not None:
                    raise row.fail(problem, "starts_at")  # it starts with a name
                Shift.objects.create(
                    rotation=rotation,
                    engineer=engineer,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    source=ShiftSource.IMPORTED,
                    import_key=import_key,
                )
                self.created["shifts"] += 1

    def pages(self, rows) -> None:
        incidents: dict[str, Incident] = {}
        for row in rows:
            engineer = self.user(row)
            paged_at = row.moment("paged_at", required=True)
            acknowledged_at = row.moment("acknowledged_at", required=False)
            if acknowledged_at is not None and acknowledged_at < paged_at:
                raise row.fail("acknowledged before it was paged", "acknowledged_at")
            if acknowledged_at is not None and acknowledged_at - paged_at > PAGE_ACK_WINDOW:
                # As on the pages: an acknowledgement is what comp time and the bonus pay for,
                # and a page is over after this long.
                raise row.fail(
                    f"acknowledged more than {PAGE_ACK_WINDOW.days} days after the page",
                    "acknowledged_at",
                )
            for column, moment in (("paged_at", paged_at), ("acknowledged_at", acknowledged_at)):
                if moment is not None and moment > self.now:
                    raise row.fail("in the future: history is what happened", column)
            if problem := services.page_moment_problem(paged_at):
                raise row.fail(_row_message("paged_at", problem), "paged_at")
            reference = row.get("incident_reference")
            incident = None
            if reference:
                if reference not in incidents:
                    try:
                        found = by_name(Incident.objects, "reference", reference)
                    except ValidationError as error:
                        message = _row_message("", error.messages[0])
                        raise row.fail(message, "incident_reference") from None
                    if found is None:
                        raise row.fail("unknown incident", "incident_reference")
                    incidents[reference] = found
                incident = incidents[reference]
                if paged_at < incident.started_at:
                    raise row.fail("paged before the incident started", "paged_at")
                if (
                    acknowledged_at is not None
                    and incident.resolved_at is not None
                    and acknowledged_at > incident.resolved_at
                ):
                    # Nothing was left to handle: the pages refuse this acknowledgement too.
                    raise row.fail(
                        f"acknowledged after {incident.reference} was resolved",
                        "acknowledged_at",
                    )
            # A page is one engineer paged at one moment. A later export may add what an
            # earlier one lacked (the incident it was for, the acknowledgement): that is
            # recorded, and a closed period it changes gets its correction in the next open
            # one. One that contradicts what is recorded is refused.
            page = Page.objects.filter(engineer=engineer, paged_at=paged_at).first()
            if page is not None:
                changed = []
                for field, value, column in (
                    ("incident", incident, "incident_reference"),
                    ("acknowledged_at", acknowledged_at, "acknowledged_at"),
                ):
                    stored = getattr(page, field)
                    if value is None or stored == value:
                        continue
                    if stored is not None:
                        shown = stored.reference if field == "incident" else stored.isoformat()
                        raise row.fail(f"this page is already recorded with {shown}", column)
                    setattr(page, field, value)
                    changed.append(field)
                if changed:
                    page.save(update_fields=changed)
                    if "incident" in changed:
                        # Now the incident's page: on its timeline, as if imported with it.
                        timeline_event_record(
                            incident=incident,
                            kind=TimelineEventKind.PAGE,
                            message=f"Paged {engineer.get_full_name() or engineer.username}",
                            at=paged_at,
                            payload={
                                "page_id": page.pk,
                                "engineer": engineer.get_username(),
                                "source": page.source,
                            },
                        )
                    self.created["pages updated"] += 1
            else:
                try:
                    services.page_record(
                        engineer=engineer,
                        paged_at=paged_at,
                        incident=incident,
                        source=PageSource.IMPORTED,
                        acknowledged_at=acknowledged_at,
                        send=False,
                    )
                except ValidationError as error:
                    column, message = _first_error(error)
                    column = column if column in FILES["pages.csv"] else ""
                    raise row.fail(_row_message(column, message), column) from None
                self.created["pages"] += 1


def _first_error(error: ValidationError) -> tuple[str, str]:
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return field, errors[0].messages[0]
    return "", error.messages[0]


def _row_message(column: str, message: str) -> str:
    """A service's sentence as the rest of a row's error: its first word in lower case,
    unless that word is a name or a reference (INC-2026-0001, SEV-1)."""
    first = message.split(" ", 1)[0]
    if not first or (len(first) > 1 and not first[1].islower()):
        return message
    return message[0].lower() + message[1:]


@transaction.atomic
def oncall_history_import(directory: Path) -> Counter[str]:
    """Import whichever of the four files ``directory`` holds; returns what was created.

    All-or-nothing: raises ``ImportRowError`` (after rolling everything back) on the first
    bad row.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ImportRowError(str(directory), 0, "not a directory")
    present = [name for name in FILES if (directory / name).is_file()]
    if not present:
        raise ImportRowError(str(directory), 0, f"none of {', '.join(FILES)} is in this directory")
    importer = _Importer()
    steps = {
        "engineers.csv": importer.engineers,
        "incidents.csv": importer.incidents,
        "shifts.csv": importer.shifts,
        "pages.csv": importer.pages,
    }
    for name, step in steps.items():
        if name in present:
            step(_rows(directory / name, FILES[name]))
    return importer.created
