"""The logo through the API: raw body or multipart, judged by its bytes, served as WebP
with an ETag; refusals store nothing."""

from __future__ import annotations

import io
import os

import pytest
from django_tenants.utils import tenant_context
from PIL import Image

from branding.models import Brand
from history.models import Entry
from tests.branding.helpers import image_bytes, jpeg_with_gps, png_declaring
from tests.helpers import TenantClient


def _put(client, data: bytes, content_type: str = "image/png"):
    return client.generic("PUT", "/api/v1/brand/logo", data, content_type=content_type)


def _stored(tenant) -> bool:
    with tenant_context(tenant):
        return Brand.objects.exclude(logo_sha256="").exists()


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "application/octet-stream")],
)
def test_a_raw_upload_is_stored_as_three_webp_squares(tenant, owner, fmt, content_type):
    answer = _put(owner, image_bytes(fmt, (320, 240)), content_type)
    assert answer.status_code == 200, answer.json()
    logo = answer.json()["logo"]
    assert logo["sizes"] == [512, 128, 64] and len(logo["sha256"]) == 64
    for side in (512, 128, 64):
        served = owner.get(f"/api/v1/brand/logo/{side}")
        assert served.status_code == 200 and served["Content-Type"] == "image/webp"
        assert Image.open(io.BytesIO(served.content)).size == (side, side)
    [entry] = Entry.objects.filter(tenant_id=tenant.pk, action="brand.logo_set")
    assert entry.data["sha256"] == logo["sha256"]


def test_a_multipart_upload_works_too(owner):
    upload = io.BytesIO(image_bytes("PNG"))
    upload.name = "logo.gif"  # the name says nothing: the bytes are a PNG
    answer = owner.put("/api/v1/brand/logo", {"logo": upload}, format="multipart")
    assert answer.status_code == 200, answer.json()


def test_the_served_logo_has_no_gps(owner):
    _put(owner, jpeg_with_gps(), "image/jpeg")
    served = owner.get("/api/v1/brand/logo/512").content
    assert not Image.open(io.BytesIO(served)).getexif()
    assert b"SecretCam" not in served


def test_the_etag_answers_304_and_any_member_may_fetch(tenant, owner, user_with_role):
    _put(owner, image_bytes("PNG"))
    first = owner.get("/api/v1/brand/logo/128")
    etag = first["ETag"]
    user_with_role(tenant, "member", user_id=5501, username="member")
    member = TenantClient(tenant, user_id=5501, username="member")
    again = member.get("/api/v1/brand/logo/128", HTTP_IF_NONE_MATCH=etag, HTTP_ACCEPT="image/webp")
    assert again.status_code == 304 and again.content == b""
    other = member.get("/api/v1/brand/logo/128", HTTP_ACCEPT="image/webp")
    assert other.status_code == 200 and other.content == first.content
    # A new logo, a new ETag.
    _put(owner, image_bytes("JPEG"), "image/jpeg")
    assert owner.get("/api/v1/brand/logo/128")["ETag"] != etag
    assert member.delete("/api/v1/brand/logo").status_code == 403


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (image_bytes("GIF"), "image/png", 415, "logo_unsupported_type"),
        (b"just some text" * 100, "application/octet-stream", 415, "logo_unsupported_type"),
        (image_bytes("PNG")[:150], "image/png", 400, "logo_unreadable"),
        (image_bytes("PNG") + os.urandom(3 * 1024 * 1024), "image/png", 413, "logo_too_large"),
        (png_declaring(30_000, 30_000), "image/png", 400, "logo_too_many_pixels"),
        (b"", "image/png", 400, "logo_missing"),
    ],
    ids=["gif", "text", "truncated", "3mb", "bomb", "empty"],
)
def test_a_refused_upload_is_a_clear_error_and_nothing_is_stored(
    tenant, owner, data, content_type, status, code
):
    answer = _put(owner, data, content_type)
    assert answer.status_code == status, answer.content[:300]
    body = answer.json()
    assert body["code"] == code and body["detail"]
    assert not _stored(tenant)
    assert not Entry.objects.filter(tenant_id=tenant.pk, action="brand.logo_set").exists()


def test_a_refused_upload_keeps_the_previous_logo(tenant, owner):
    _put(owner, image_bytes("PNG"))
    before = owner.get("/api/v1/brand/logo/64").content
    assert _put(owner, png_declaring(30_000, 30_000)).status_code == 400
    assert owner.get("/api/v1/brand/logo/64").content == before


def test_json_or_a_form_is_not_an_upload(owner):
    assert owner.put("/api/v1/brand/logo", {"logo": "x"}, format="json").status_code == 415
    answer = owner.put("/api/v1/brand/logo", {"other": "x"}, format="multipart")
    assert (answer.status_code, answer.json()["code"]) == (400, "logo_missing")


def test_remove_then_the_logo_is_gone(tenant, owner):
    _put(owner, image_bytes("PNG"))
    assert owner.delete("/api/v1/brand/logo").status_code == 204
    missing = owner.get("/api/v1/brand/logo/512")
    assert (missing.status_code, missing.json()["code"]) == (404, "logo_not_found")
    assert owner.get("/api/v1/brand").json()["logo"] is None
    assert Entry.objects.filter(tenant_id=tenant.pk, action="brand.logo_removed").count() == 1
    assert owner.delete("/api/v1/brand/logo").status_code == 204  # nothing left: no entry
    assert Entry.objects.filter(tenant_id=tenant.pk, action="brand.logo_removed").count() == 1


def test_an_unknown_size_is_a_404(owner):
    _put(owner, image_bytes("PNG"))
    answer = owner.get("/api/v1/brand/logo/100")
    assert (answer.status_code, answer.json()["code"]) == (404, "logo_size_unknown")
