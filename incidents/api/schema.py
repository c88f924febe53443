"""The OpenAPI schema class: every operation lists every error it can answer with.

Rather than repeating the same ``extend_schema(responses=...)`` on every view, the errors
every API view shares are added here from what the view is (list, detail, write,
idempotent, conditional read, If-Match write). Views describe their own success bodies with
``extend_schema``.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from incidents.api.errors import PROBLEM_JSON
from incidents.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from incidents.api.idempotency import REPLAYED_HEADER

WRITE_METHODS = ("POST", "PUT", "PATCH")


class ProblemSerializer(serializers.Serializer):
    """An RFC 7807 problem."""

    type = serializers.CharField(help_text="urn:incidentdesk:problem:<code>")
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for people.")
    code = serializers.CharField(help_text="What went wrong, for programs.")
    retry_after = serializers.IntegerField(
        required=False, help_text="Throttled only: seconds until a request is allowed again."
    )


VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Validation errors by field (`non_field_errors` for the request as a "
    "whole; nested fields joined with dots, e.g. `checklist.issue_fixed`).",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"title": ["An incident needs a title."]},
}

ERROR_DESCRIPTIONS = {
    "400": "Validation failed (`application/json`), or the body could not be parsed (problem).",
    "401": "No credentials, or an invalid or revoked token.",
    "403": "Authenticated, but your groups or ownership do not allow this.",
    "404": "Not found (or an invalid pagination cursor).",
    "406": "The Accept header asks for a format the API does not produce.",
    "409": "Conflicts with a concurrent change; retry.",
    "412": "If-Match names a version it no longer is: read it again; nothing was changed.",
    "415": "The body is not JSON.",
    "422": "The Idempotency-Key was used for a different request.",
    "429": "Rate limit for this token reached; see Retry-After.",
}


class AutoSchema(SpectacularAutoSchema):
    def _handler(self):
        name = getattr(self.view, "action", None) or self.method.lower()
        return getattr(self.view, name, None)

    def _is_idempotent(self) -> bool:
        return bool(getattr(self._handler(), "idempotent", False))

    def _is_conditional(self) -> bool:
        return self.method == "GET" and bool(getattr(self._handler(), "conditional", False))

    def _checks_if_match(self) -> bool:
        return self.method in WRITE_METHODS and bool(getattr(self._handler(), "if_match", False))

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self._is_idempotent():
            parameters += [
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Any unique string (e.g. a UUID), at most 255 visible ASCII "
                    "characters. Sending the same key again (same user) creates nothing "
                    "and replays the first response.",
                ),
                OpenApiParameter(
                    REPLAYED_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[200, 201],
                    enum=["true"],
                    description="Present when the response is a replay for a repeated "
                    "Idempotency-Key.",
                ),
            ]
        if self._is_conditional():
            parameters += [
                OpenApiParameter(
                    "If-None-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="An ETag from an earlier response: 304 if unchanged.",
                ),
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[200, 304],
                    required=True,
                    description="The representation's entity tag.",
                ),
            ]
        if self._checks_if_match():
            parameters += [
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="The ETag of the version you read: the change applies only "
                    "if it is still that version, otherwise 412 and nothing changes. Without "
                    "it the change applies to whatever version there is.",
                ),
                OpenApiParameter(
                    "ETag",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    response=[200],
                    required=True,
                    description="The changed representation's entity tag (for the next If-Match).",
                ),
            ]
        return parameters

    def _validation_error_ref(self):
        component = ResolvedComponent(
            name="ValidationError",
            type=ResolvedComponent.SCHEMA,
            schema=VALIDATION_ERROR_SCHEMA,
            object="ValidationError",
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _error_codes(self) -> list[str]:
        path_has_params = "{" in self.path
        is_list = self.method == "GET" and self._is_list_view()
        codes = ["401", "403", "406", "429"]
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if self.method in WRITE_METHODS or is_list or has_query or self._is_idempotent():
            codes.append("400")
        if path_has_params or is_list:
            codes.append("404")
        if self.method in WRITE_METHODS:
            codes += ["409", "415"]
        if self._is_idempotent():
            codes.append("422")
        if self._checks_if_match():
            codes.append("412")
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self._is_conditional():
            responses.setdefault(
                "304",
                {
                    "description": "Not modified: the If-None-Match ETag still matches.",
                    "headers": self._get_response_headers_for_code("304", direction),
                },
            )
        for code in self._error_codes():
            if code in responses:
                continue
            response = self._get_response_for_code(
                ProblemSerializer, code, media_types=(PROBLEM_JSON,), direction=direction
            )
            if code == "400":
                response["content"] = {
                    "application/json": {"schema": self._validation_error_ref()},
                    **response["content"],
                }
            response["description"] = ERROR_DESCRIPTIONS[code]
            responses[code] = response
        return dict(sorted(responses.items()))
