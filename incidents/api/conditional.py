"""``ETag`` / ``If-None-Match`` on detail reads."""

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.utils.cache import parse_etags
from rest_framework import status
from rest_framework.response import Response


def etag_for(data) -> str:
    """A strong ETag: the SHA-256 of the representation (canonical JSON), so it changes exactly
    when something the client would see changes."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return '"' + hashlib.sha256(body.encode()).hexdigest() + '"'


def _strip_weak(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def conditional_response(request, data) -> Response:
    """200 with the data and its ``ETag``, or ``304 Not Modified`` without a body when
    ``If-None-Match`` names that ETag (weak comparison, as RFC 9110 asks for GET) or ``*``."""
    tag = etag_for(data)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    header = request.headers.get("If-None-Match")
    if header:
        tags = parse_etags(header)
        if "*" in tags or any(_strip_weak(t) == tag for t in tags):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, headers=headers)


def check_if_match(request, data) -> None:
    """``If-Match`` on a write: the change applies only to the version the client read (strong
    comparison, RFC 9110); else ``412``, and nothing is written. No header: no condition.
    The handler that calls it is marked ``@checks_if_match`` so that the schema says so."""
    from incidents.api.errors import PreconditionFailed

    header = request.headers.get("If-Match")
    if not header:
        return
    tags = parse_etags(header)
    if "*" in tags:
        return
    if etag_for(data) not in tags:
        raise PreconditionFailed


def checks_if_match(handler):
    """Marks a write handler that calls ``check_if_match`` and answers the new ``ETag``: the
    schema (``incidents.api.schema.AutoSchema``) then lists the ``If-Match`` header, the
    ``412`` problem and the ``ETag`` response header for it. The check itself stays in the
    handler, which compares under the row lock it takes for the write."""
    handler.if_match = True
    return handler


class ETagRetrieveMixin:
    """``retrieve`` with an ETag and 304 answers; the object is read and serialised as usual
    (the saving is the response body, not the query)."""

    def retrieve(self, request, *args, **kwargs):
        instance = self.get_object()
        return conditional_response(request, self.get_serializer(instance).data)

    retrieve.conditional = True
