"""Keyset (cursor) pagination on the whole ordering.

DRF's ``CursorPagination`` places its cursor on the first ordering field only and skips ties
by an offset, capped at 1,000 rows. Ordered by a field many rows share (``?ordering=
severity_rank``: a handful of values over 100,000 incidents), its pages repeated and lost
rows, and past 1,000 ties its ``next`` link returned the same page for ever. Here the
ordering always ends with the row's id, and the cursor holds the last row's value of every
ordering field: the next page is the rows after that tuple, one indexed range query however
deep, and stable while rows are added.
"""

import base64
import binascii
import json
import operator
from datetime import date, datetime
from decimal import Decimal
from functools import reduce
from urllib import parse

from django.core.exceptions import ValidationError
from django.db import DataError
from django.db.models import Q
from rest_framework import pagination
from rest_framework.exceptions import NotFound
from rest_framework.utils.urls import remove_query_param, replace_query_param

from incidents.selectors import moment_from

FORWARD, BACKWARD = "n", "p"


def _reversed(ordering: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(name[1:] if name.startswith("-") else f"-{name}" for name in ordering)


def _beyond(ordering: tuple[str, ...], values: list) -> Q:
    """Rows strictly after ``values`` in ``ordering``: (a, b, id) > (va, vb, vid), each field
    in its own direction. The first field's bound is also stated on its own (a >= va), so
    the index on the ordering starts at the cursor instead of filtering every row before
    it."""
    first = ordering[0]
    bound = Q(**{f"{first.lstrip('-')}__{'lte' if first.startswith('-') else 'gte'}": values[0]})
    steps = []
    for index, name in enumerate(ordering):
        lookup = "lt" if name.startswith("-") else "gt"
        step = Q(**{f"{name.lstrip('-')}__{lookup}": values[index]})
        for earlier, value in zip(ordering[:index], values[:index], strict=True):
            step &= Q(**{earlier.lstrip("-"): value})
        steps.append(step)
    return bound & reduce(operator.or_, steps)


def _plain(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class CursorPagination(pagination.CursorPagination):
    """Keyset pagination: ``?cursor=`` from a page's ``next`` or ``previous`` link. The ordering
    is the view's ``ordering`` unless ``?ordering=`` names some of its ``ordering_fields``;
    the id is added as the last key when it is not there."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        ordering = tuple(super().get_ordering(request, queryset, view))
        if not {name.lstrip("-") for name in ordering} & {"id", "pk"}:
            ordering += ("-id" if ordering[0].startswith("-") else "id",)
        return ordering

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = self.get_page_size(request)
        if not self.page_size:
            return None
        self.base_url = request.build_absolute_uri()
        self.ordering = self.get_ordering(request, queryset, view)
        direction, after = self.decode_cursor(request)
        ordering = self.ordering if direction == FORWARD else _reversed(self.ordering)
        queryset = queryset.order_by(*ordering)
        try:
            if after is not None:
                queryset = queryset.filter(_beyond(ordering, after))
            rows = list(queryset[: self.page_size + 1])
        except (ValidationError, ValueError, TypeError, OverflowError, DataError) as error:
            # A cursor whose values do not fit its fields was not made here.
            raise NotFound(self.invalid_cursor_message) from error
        more = len(rows) > self.page_size
        self.page = rows[: self.page_size]
        if direction == BACKWARD:
            self.page.reverse()
        # Going forward, rows lie behind the cursor; coming back, ahead of it.
        self.has_next = more if direction == FORWARD else after is not None
        self.has_previous = more if direction == BACKWARD else after is not None
        return self.page

    def _keys(self, row) -> list:
        return [_plain(self._value(row, name.lstrip("-"))) for name in self.ordering]

    @staticmethod
    def _value(row, field: str):
        if isinstance(row, dict):
            if field in row:
                return row[field]
            # Plain rows carry their moments as ``<name>_us`` (``selectors.EpochMicroseconds``).
            return moment_from(row[f"{field}_us"])
        return getattr(row, "pk" if field == "id" else field)

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:  # every row behind the cursor went away: start again
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(FORWARD, self._keys(self.page[-1]))

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self._link(BACKWARD, self._keys(self.page[0]))

    def _link(self, direction: str, keys: list) -> str:
        text = json.dumps([direction, keys], separators=(",", ":"))
        token = base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def decode_cursor(self, request) -> tuple[str, list | None]:
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return FORWARD, None
        try:
            text = base64.urlsafe_b64decode(parse.unquote(token) + "=" * (-len(token) % 4))
            direction, keys = json.loads(text)
        except (ValueError, TypeError, binascii.Error) as error:
            raise NotFound(self.invalid_cursor_message) from error
        valid = (
            direction in (FORWARD, BACKWARD)
            and isinstance(keys, list)
            and len(keys) == len(self.ordering)
            and all(isinstance(k, str | int | float) for k in keys)
        )
        if not valid:  # from another ordering, or made up
            raise NotFound(self.invalid_cursor_message)
        return direction, keys

    def encode_cursor(self, cursor):  # DRF's cursors are not used here
        raise NotImplementedError
