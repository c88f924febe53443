"""The API's JSON parser: what ``json.loads`` accepts but no field can hold is a 400 here.

- Nesting deep enough to exhaust Python's recursion (``[[[[…]]]]``) raises ``RecursionError``,
  which DRF's parser does not catch.
- A lone surrogate (``"\\ud800"``) is valid JSON syntax but not text: PostgreSQL cannot store
  or compare it, and an error message quoting it cannot be encoded.
"""

import re

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

TOO_DEEP = "JSON parse error - nested too deeply."
LONE_SURROGATE = (
    "JSON parse error - a string holds a lone surrogate escape (\\ud800 to \\udfff), which is "
    "not text."
)
SURROGATE = re.compile("[\ud800-\udfff]")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(TOO_DEEP) from None
        if _has_surrogate(data):
            raise ParseError(LONE_SURROGATE)
        return data


def _has_surrogate(data) -> bool:
    """Whether any key or string in ``data`` holds a surrogate. Iterative: ``data`` came out of
    ``json.loads`` without exhausting the stack, and checking it must not either."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if SURROGATE.search(value):
                return True
        elif isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return False
