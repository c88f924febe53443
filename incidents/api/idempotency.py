"""``Idempotency-Key`` on create endpoints: the same key twice (same person) creates once and
answers the second time with the first response."""

import functools
import hashlib
import json
import re

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from incidents import services

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEY_PATTERN = re.compile(r"\A[\x21-\x7e]{1,255}\Z")
INVALID_KEY = "Use 1 to 255 visible ASCII characters, e.g. a UUID."
KEPT_HEADERS = ("Location",)


def fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(body.encode()).hexdigest()


def idempotent(handler):
    """Wrap a create handler so an ``Idempotency-Key`` makes it run once per key.

    Without the header nothing changes. With it, the handler runs in one transaction with the
    key's row (``services.idempotency_claim``): a concurrent request with the same key waits
    for it and then replays its response; a later one replays it at once (``201`` and the
    same body, plus ``Idempotent-Replayed: true``). Only successful responses are kept: a
    refused request rolls the key back with everything else, so it can be retried with the
    same key. The same key with another path or body is refused with 422.
    """

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not KEY_PATTERN.match(key):
            raise exceptions.ValidationError({HEADER: [INVALID_KEY]})
        digest = fingerprint(request)
        with transaction.atomic():
            record = services.idempotency_claim(
                user=request.user,
                key=key,
                method=request.method,
                path=request.path,
                fingerprint=digest,
            )
            if record.response_status is not None:
                return Response(
                    json.loads(record.response_body),
                    status=record.response_status,
                    headers={**record.response_headers, REPLAYED_HEADER: "true"},
                )
            response = handler(view, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                services.idempotency_complete(
                    record=record,
                    status=response.status_code,
                    body=JSONRenderer().render(response.data).decode(),
                    headers={name: response[name] for name in KEPT_HEADERS if name in response},
                )
            else:
                transaction.set_rollback(True)
        return response

    wrapper.idempotent = True
    return wrapper
