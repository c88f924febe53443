"""The OpenAPI schema: committed, complete, and served with Swagger UI and ReDoc from our own
static files."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

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
def test_the_schema_is_served_to_anyone(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"openapi: 3" in response.content
    assert client.get("/api/schema/", {"format": "json"}).json()["info"]["title"] == (
        "IncidentDesk API"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "asset"),
    [
        ("/api/schema/swagger-ui/", "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/api/schema/redoc/", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"),
    ],
)
def test_docs_pages_use_our_static_files_not_a_cdn(client, url, asset):
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
