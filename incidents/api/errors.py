"""Stable error bodies.

- Validation (a service's ``django.core.exceptions.ValidationError`` or a serializer's):
  ``400 {"field": ["message", ...]}`` as ``application/json``. Errors that belong to no field
  are under ``non_field_errors``; nested fields are flattened with dots
  (``checklist.issue_fixed``, ``services.0``), so every value is a list of strings.
- Everything else: an RFC 7807 problem, ``application/problem+json``, with ``type``
  (``urn:incidentdesk:problem:<code>``), ``title``, ``status``, ``detail`` and ``code``.
"""

import logging
from http import HTTPStatus

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from incidents.services import IdempotencyKeyReused

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE = "urn:incidentdesk:problem:{code}"
CONFLICT = "The change conflicts with the current state (someone else changed it first); retry."
SERVER_ERROR = "Something went wrong on our side; it has been logged."


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = CONFLICT
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = (
        "It changed since you read it (If-Match names another version): read it again, then "
        "send your change."
    )
    default_code = "precondition_failed"


class IdempotencyKeyMismatch(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "This Idempotency-Key was used for a different request."
    default_code = "idempotency_key_reused"


def non_field_key() -> str:
    return api_settings.NON_FIELD_ERRORS_KEY


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """``{"a": {"b": ["x"]}, "c": ["y"]}`` → ``{"a.b": ["x"], "c": ["y"]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = non_field_key() if key == NON_FIELD_ERRORS else str(key)
            for field, messages in _flatten(value, f"{prefix}.{name}" if prefix else name).items():
                out.setdefault(field, []).extend(messages)
    elif isinstance(detail, list | tuple):
        if all(not isinstance(item, dict | list | tuple) for item in detail):
            out[prefix or non_field_key()] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    path = f"{prefix}.{index}" if prefix else str(index)
                    for field, messages in _flatten(item, path).items():
                        out.setdefault(field, []).extend(messages)
    else:
        out[prefix or non_field_key()] = [str(detail)]
    return out


def validation_body(error: DjangoValidationError | exceptions.ValidationError) -> dict:
    if isinstance(error, DjangoValidationError):
        if hasattr(error, "error_dict"):
            return _flatten(error.message_dict)
        return {non_field_key(): list(error.messages)}
    return _flatten(error.detail)


def problem(*, status_code: int, code: str, detail: str, **extra) -> dict:
    return {
        "type": PROBLEM_TYPE.format(code=code),
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }


def problem_response(request, body: dict, headers=None) -> Response:
    """The problem as JSON, whatever the endpoint renders otherwise (the schema is YAML),
    except in the browsable API, which shows it on its HTML page."""
    renderer = getattr(request, "accepted_renderer", None)
    if renderer is not None and renderer.format == "api":
        return Response(body, status=body["status"], headers=headers)
    if request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = PROBLEM_JSON
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_JSON)


def exception_handler(exc, context):
    """DRF's exception handler with the bodies above. Unexpected errors are logged and
    answered with a 500 problem (with ``DEBUG`` on they propagate to the debug page)."""
    request = context.get("request")
    if isinstance(exc, DjangoValidationError | exceptions.ValidationError):
        set_rollback()
        return Response(validation_body(exc), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, IntegrityError):
        logger.info("API conflict: %s", exc)
        exc = Conflict()
    elif isinstance(exc, IdempotencyKeyReused):
        exc = IdempotencyKeyMismatch(str(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        if settings.DEBUG:
            return None
        logger.exception("API error", exc_info=exc)
        set_rollback()
        body = problem(status_code=500, code="server_error", detail=SERVER_ERROR)
        return problem_response(request, body)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else None
    code = codes if isinstance(codes, str) else HTTPStatus(response.status_code).name.lower()
    extra = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        extra["retry_after"] = int(exc.wait + 0.999)
    body = problem(status_code=response.status_code, code=code, detail=str(detail), **extra)
    headers = {
        name: response[name]
        for name in ("WWW-Authenticate", "Retry-After", "Allow")
        if name in response
    }
    return problem_response(request, body, headers=headers)
