"""The OpenAPI schema: committed, complete, and served with Swagger UI and ReDoc from our own
static files."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from django.contrib.staticfiles import finders

from tests.api.conftest import token_for

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "docs" / "openapi.yaml"
REGENERATE = "make schema"


def test_the_committed_schema_is_the_generated_one(tmp_path):
    generated = tmp_path / "openapi.yaml"
    # The same script as `make schema`; its --fail-on-warn fails on an untyped field or an
    # unresolved serializer too.
    result = subprocess.run(
        ["/bin/bash", "scripts/schema.sh"],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "SCHEMA_OUT": str(generated)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert COMMITTED.read_text() == generated.read_text(), (
        f"docs/openapi.yaml is out of date with the API. Regenerate it with `{REGENERATE}` "
        "and commit it."
    )


@pytest.mark.django_db
def test_the_schema_is_served_to_signed_in_people_and_token_holders(client, engineer):
    assert client.get("/api/schema/").status_code == 401
    response = client.get("/api/schema/", HTTP_AUTHORIZATION=f"Bearer {token_for(engineer)}")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
    client.force_login(engineer)
    assert client.get("/api/schema/", {"format": "json"}).json()["info"]["title"] == (
        "IncidentDesk API"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/api/schema/swagger-ui/", "/api/schema/redoc/"])
def test_the_docs_pages_send_signed_out_people_to_sign_in(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "asset"),
    [
        ("/api/schema/swagger-ui/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/schema/redoc/", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_docs_pages_use_our_static_files_not_a_cdn(client, engineer, url, asset):
    client.force_login(engineer)
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert f"/static/{asset}" in page
    assert "cdn" not in page.lower()
    # Nothing from another host: no scripts, styles or fonts (Google's included).
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "googleapis" not in page
    assert "gstatic" not in page
    assert finders.find(asset) is not None


def _operation(path: str, method: str) -> dict:
    return yaml.safe_load(COMMITTED.read_text())["paths"][path][method]


def test_an_if_match_write_documents_the_header_its_412_and_the_new_etag():
    """PATCH action-items/{id}/ answers 412 for a stale If-Match and carries the new ETag
    (tests/api/test_postmortems.py); the schema says so, so a generated client can send it."""
    patch = _operation("/api/v1/action-items/{id}/", "patch")
    headers = {p["name"]: p for p in patch["parameters"] if p["in"] == "header"}
    assert headers["If-Match"]["schema"] == {"type": "string"}
    assert not headers["If-Match"].get("required", False)  # without it, no condition
    assert patch["responses"]["412"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    etag = patch["responses"]["200"]["headers"]["ETag"]
    assert etag["required"] is True
    assert etag["schema"] == {"type": "string"}
    # Writes without the check say nothing of it.
    status = _operation("/api/v1/incidents/{reference}/status/", "post")
    assert "412" not in status["responses"]
    assert "If-Match" not in {p["name"] for p in status.get("parameters", [])}


def test_every_create_endpoint_documents_its_idempotency_key():
    creates = [
        ("/api/v1/incidents/", "post", "201"),
        ("/api/v1/alerts/", "post", "201"),
        ("/api/v1/pages/", "post", "201"),
        ("/api/v1/incidents/{reference}/updates/", "post", "201"),
        ("/api/v1/incidents/{reference}/roles/", "post", "201"),
    ]
    header = None
    for path, method, created in creates:
        operation = _operation(path, method)
        [key] = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
        assert key["in"] == "header"
        assert header in (None, key), path  # the same parameter everywhere
        header = key
        assert "422" in operation["responses"], path
        assert "Idempotent-Replayed" in operation["responses"][created]["headers"], path
