"""Opt-in pre-signed downloads (GS_S3_PRESIGNED_DOWNLOADS): on an S3 store,
``GET /datasets/{id}/files/{name}`` answers 307 to a pre-signed GET URL of
the real S3 server (moto, scripts/services/s3.sh) with the checksum headers;
the local store keeps streaming."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import ValidationError

from groundstation.settings import Settings

from .conftest import NOAA19, World, serve
from .helpers import DATASET_BYTES, dataset_world, s3_settings

DATA = DATASET_BYTES
FILE = "/datasets/ds-1/files/frames.h5"
EXPIRY_S = 120


@pytest.fixture
def presigned_world(settings: Settings, s3_endpoint: str) -> Iterator[World]:
    with dataset_world(
        s3_settings(
            settings, s3_endpoint, s3_presigned_downloads=True, s3_presigned_expiry_s=EXPIRY_S
        )
    ) as world:
        yield world


def _manifest_sha256(w: World, name: str) -> str:
    r = w.client.get("/datasets/ds-1", headers=w.as_("scientist"))
    assert r.status_code == 200, r.text
    return str(next(f["sha256"] for f in r.json()["files"] if f["name"] == name))


def test_presigned_download_is_307_to_the_s3_object_with_the_checksum(
    presigned_world: World,
) -> None:
    w = presigned_world
    r = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False)
    assert r.status_code == 307, r.text
    assert r.content == b""
    location = urlsplit(r.headers["location"])
    endpoint = urlsplit(w.app.state.ctx.settings.s3_endpoint_url)
    assert location.netloc == endpoint.netloc
    key = f"datasets/{NOAA19}/2023/07/04/c-1/frames.h5"
    assert location.path == f"/{w.app.state.ctx.settings.s3_bucket}/{key}"
    assert r.headers["x-checksum-sha256"] == hashlib.sha256(DATA).hexdigest()
    assert r.headers["x-checksum-sha256"] == _manifest_sha256(w, "frames.h5")
    assert r.headers["repr-digest"].startswith("sha-256=:")
    assert r.headers["cache-control"] == "no-store"


def test_presigned_url_is_sigv4_and_expires_after_the_configured_seconds(
    presigned_world: World,
) -> None:
    w = presigned_world
    before = datetime.now(UTC).replace(microsecond=0)
    r = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False)
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert query["X-Amz-Expires"] == [str(EXPIRY_S)]
    signed_at = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert before <= signed_at <= datetime.now(UTC)
    assert query["response-content-disposition"] == ['attachment; filename="frames.h5"']


def test_following_the_redirect_with_a_plain_http_client_downloads_the_exact_bytes(
    presigned_world: World,
) -> None:
    w = presigned_world
    with serve(w.app) as base, httpx.Client(follow_redirects=True, timeout=30) as http:
        r = http.get(base + FILE, headers=w.as_("scientist"))
        nested = http.get(base + "/datasets/ds-1/files/products/image.png", headers=w.as_("admin"))
    assert r.status_code == 200
    assert [h.status_code for h in r.history] == [307]
    assert str(r.url).startswith(w.app.state.ctx.settings.s3_endpoint_url)
    assert "authorization" not in r.request.headers  # the API key stays with the API
    assert r.content == DATA
    digest = hashlib.sha256(r.content).hexdigest()
    assert digest == r.history[0].headers["x-checksum-sha256"]
    assert digest == _manifest_sha256(w, "frames.h5")
    assert nested.content == b"\x89PNG-not-really"


def test_range_request_works_on_the_presigned_url(presigned_world: World) -> None:
    w = presigned_world
    location = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False).headers[
        "location"
    ]
    r = httpx.get(location, headers={"Range": "bytes=1000-1999"}, timeout=30)
    assert r.status_code == 206
    assert r.content == DATA[1000:2000]
    assert r.headers["content-range"] == f"bytes 1000-1999/{len(DATA)}"
    with serve(w.app) as base, httpx.Client(follow_redirects=True, timeout=30) as http:
        tail = http.get(base + FILE, headers={**w.as_("scientist"), "Range": "bytes=-4"})
    assert tail.status_code == 206
    assert tail.content == b"tail"


def test_unsatisfiable_range_is_416_before_any_redirect(presigned_world: World) -> None:
    w = presigned_world
    r = w.client.get(
        FILE, headers={**w.as_("scientist"), "Range": "bytes=999999-"}, follow_redirects=False
    )
    assert r.status_code == 416
    assert "location" not in r.headers


@pytest.mark.parametrize("who", ["globex-scientist", "globex"])
def test_another_tenants_dataset_is_404_without_a_redirect(
    presigned_world: World, who: str
) -> None:
    w = presigned_world
    r = w.client.get(FILE, headers=w.as_(who), follow_redirects=False)
    assert r.status_code == 404
    assert "location" not in r.headers
    assert "x-checksum-sha256" not in r.headers
    assert "amz" not in r.text.lower()


def test_unknown_or_missing_file_is_404_without_a_redirect(presigned_world: World) -> None:
    w = presigned_world
    unknown = w.client.get(
        "/datasets/ds-1/files/nope.bin", headers=w.as_("scientist"), follow_redirects=False
    )
    assert unknown.status_code == 404
    assert "location" not in unknown.headers
    w.app.state.ctx.object_store().delete(f"{NOAA19}/2023/07/04/c-1/frames.h5")
    gone = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False)
    assert gone.status_code == 404
    assert "location" not in gone.headers


def test_local_store_ignores_the_presigned_setting_and_streams(settings: Settings) -> None:
    local = settings.model_copy(update={"s3_presigned_downloads": True})
    with dataset_world(local) as w:
        r = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False)
    assert r.status_code == 200
    assert r.content == DATA
    assert r.headers["x-checksum-sha256"] == hashlib.sha256(DATA).hexdigest()


def test_s3_store_streams_by_default(settings: Settings, s3_endpoint: str) -> None:
    with dataset_world(s3_settings(settings, s3_endpoint)) as w:
        r = w.client.get(FILE, headers=w.as_("scientist"), follow_redirects=False)
    assert r.status_code == 200
    assert r.content == DATA


@pytest.mark.parametrize("expiry_s", [0, -5, 604_801])
def test_presigned_expiry_outside_s3_limits_is_refused_naming_the_value(expiry_s: int) -> None:
    with pytest.raises(ValidationError, match=f"got {expiry_s}"):
        Settings(s3_presigned_expiry_s=expiry_s)


def test_presigned_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GS_S3_PRESIGNED_DOWNLOADS", "true")
    monkeypatch.setenv("GS_S3_PRESIGNED_EXPIRY_S", "900")
    loaded = Settings()
    assert loaded.s3_presigned_downloads is True
    assert loaded.s3_presigned_expiry_s == 900
    assert Settings.model_fields["s3_presigned_downloads"].default is False


def test_the_redirect_is_a_documented_response_of_the_openapi_schema(
    presigned_world: World,
) -> None:
    import schemathesis

    w = presigned_world
    schema = schemathesis.openapi.from_asgi("/openapi.json", w.app)
    operation = schema["/datasets/{dataset_id}/files/{name}"]["GET"]
    case = operation.Case(path_parameters={"dataset_id": "ds-1", "name": "frames.h5"})
    # schemathesis drives the app through a requests-style session.
    response = case.call_and_validate(headers=w.as_("scientist"), allow_redirects=False)
    assert response.status_code == 307
