"""What the REST API stores: per-user tokens and idempotency keys."""

import hashlib

from django.conf import settings
from django.db import models

# Every token starts with this, so secret scanners and people recognise one.
KEY_MARKER = "idk_"


def hash_token(plain: str) -> str:
    """SHA-256 of the whole token. The secret is 256 random bits, so a fast hash is enough:
    nobody can guess their way to a preimage, and a slow hash would cost every request."""
    return hashlib.sha256(plain.encode()).hexdigest()


class ApiToken(models.Model):
    """A per-user API token. Only a SHA-256 hash of the secret is stored.

    The token a client sends is ``<prefix>.<secret>``: the prefix (not secret, shown in the
    admin) finds the row, and the hash of the whole token must match. The plain token is shown
    once, when a manager issues it, and can never be read again. Revoking keeps the row, so the
    admin still shows who had which token and until when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="The token acts as this person, with exactly their groups and permissions.",
    )
    name = models.CharField(
        max_length=100, help_text="What uses the token, e.g. Alertmanager production."
    )
    prefix = models.CharField(
        max_length=16,
        unique=True,
        editable=False,
        help_text="The first part of the token; not secret, it only finds the row.",
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, help_text="Updated at most once a minute."
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "revoked_at"], name="api_token_user_active")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…) for {self.user}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """A create request made with an ``Idempotency-Key`` header, and the response it got.

    One row per (user, key), enforced by the database: a second request with the same key
    waits for the first one's transaction and then replays the stored response instead of
    creating anything. Rows are written in the same transaction as what the request created,
    so a request that failed leaves no row and may be retried with the same key.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_keys"
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(
        max_length=64,
        help_text="SHA-256 of the request body: a key reused for another request is refused.",
    )
    response_status = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Empty while the first request is still running."
    )
    # Text, not JSON: the replay must be byte for byte the first response (jsonb would
    # reorder its keys).
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_once_per_user"),
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"
