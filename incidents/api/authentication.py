"""Per-user API tokens: ``Authorization: Bearer idk_<prefix>.<secret>``."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from incidents import selectors, services

KEYWORDS = (b"bearer", b"token")
MALFORMED = "Malformed Authorization header: send 'Bearer <token>'."
INVALID = "Invalid or revoked API token."
INACTIVE = "The token's user is inactive."


class ApiTokenAuthentication(authentication.BaseAuthentication):
    """Authenticates ``Authorization: Bearer <token>`` (``Token <token>`` is accepted too).

    The token acts as its user: the same groups, permissions and object rules as that person
    signed in. Revoked tokens and tokens of inactive users are refused with 401. Marks the
    token used at most once a minute.
    """

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() not in KEYWORDS:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(MALFORMED)
        try:
            plain = parts[1].decode("ascii")
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed(MALFORMED) from error
        if not plain.isprintable():  # a NUL or another control character is in no token
            raise exceptions.AuthenticationFailed(MALFORMED)
        token = selectors.api_token_lookup(plain)
        if token is None:
            raise exceptions.AuthenticationFailed(INVALID)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(INACTIVE)
        services.api_token_mark_used(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "incidents.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A per-user API token issued by a manager in the admin "
            "(Incidents, API tokens), sent as `Authorization: Bearer idk_…`.",
        }
