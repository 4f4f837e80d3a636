"""Media: types from the bytes, uploads, URLs, and the size limits of each plan."""

from __future__ import annotations

import io

import pytest

from shared import media
from shared.content import MediaKind
from shared.errors import ValidationFailed
from shared.plans import MB, PLANS
from shared.ports import FetchError
from tests.fakes import assert_error
from tests.unit.messaging import helpers as h
from tests.unit.messaging.helpers import PHONE, set_plan

URL = "https://cdn.acme.example/files/thing"


@pytest.mark.parametrize("sample,mime,kind", [
    (h.jpeg, "image/jpeg", "image"), (h.png, "image/png", "image"), (h.webp, "image/webp", "image"),
    (h.mp4, "video/mp4", "video"), (h.three_gp, "video/3gpp", "video"),
    (h.mp3, "audio/mpeg", "audio"), (h.ogg, "audio/ogg", "audio"), (h.m4a, "audio/mp4", "audio"),
    (h.aac, "audio/aac", "audio"), (h.pdf, "application/pdf", "document"),
    (h.docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document"),
    (h.pptx, "application/vnd.openxmlformats-officedocument.presentationml.presentation",
     "document"),
    (h.plain_zip, "application/zip", "document"), (h.rar, "application/x-rar-compressed", "document"),
    (h.unknown_binary, "application/octet-stream", "document"),
])
def test_type_comes_from_the_bytes(sample, mime, kind):
    assert media.sniff(sample()) == mime
    assert media.kind_for(mime, None) == MediaKind(kind)


def test_the_name_does_not_decide_the_type():
    assert media.sniff(h.png(), "photo.jpg") == "image/png"
    assert media.sniff(h.unknown_binary(), "photo.jpg") == "application/octet-stream"
    assert media.sniff(h.unknown_binary(), "table.csv") == "text/csv"  # documents only


@pytest.mark.parametrize("mime,declared,voice,code", [
    ("application/pdf", MediaKind.image, False, "media_type_mismatch"),
    ("image/jpeg", MediaKind.video, False, "media_type_mismatch"),
    ("audio/mpeg", MediaKind.image, False, "media_type_mismatch"),
    ("image/gif", MediaKind.image, False, "unsupported_media_type"),
    ("image/gif", MediaKind.gif, False, "unsupported_media_type"),
    ("image/bmp", None, False, "unsupported_media_type"),
    ("video/quicktime", None, False, "unsupported_media_type"),
    ("video/quicktime", MediaKind.video, False, "unsupported_media_type"),
    ("audio/x-flac", MediaKind.audio, False, "unsupported_media_type"),
    ("text/html", None, False, "unsupported_media_type"),
    ("text/html", MediaKind.document, False, "unsupported_media_type"),
    ("audio/mpeg", MediaKind.audio, True, "unsupported_media_type"),  # voice notes are OGG
    ("audio/ogg", MediaKind.document, True, "unsupported_media_type"),
])
def test_mismatched_or_unsupported_types(mime, declared, voice, code):
    with pytest.raises(ValidationFailed) as caught:
        media.kind_for(mime, declared, voice=voice)
    assert caught.value.code == code


@pytest.mark.parametrize("mime,declared,kind", [
    ("video/mp4", MediaKind.gif, MediaKind.gif), ("video/mp4", MediaKind.audio, MediaKind.audio),
    ("image/bmp", MediaKind.document, MediaKind.document),
    ("video/quicktime", MediaKind.document, MediaKind.document),
    ("image/jpeg", MediaKind.document, MediaKind.document),
])
def test_declared_types_the_bytes_fit(mime, declared, kind):
    assert media.kind_for(mime, declared) == kind


@pytest.mark.parametrize("name,mime,ok", [
    ("photo.jpg", "application/pdf", False), ("report.pdf", "image/png", False),
    ("report.pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", False),
    ("photo.jpg", "image/png", True), ("clip.mp4", "audio/mp4", True), ("x.3gp", "video/3gpp", True),
    ("sheet.xlsx", "application/zip", True), ("noext", "image/png", True), (None, "image/png", True),
    ("report.pdf", "application/pdf", True),
])
def test_file_name_against_bytes(name, mime, ok):
    if ok:
        media.check_name(name, mime)
    else:
        with pytest.raises(ValidationFailed) as caught:
            media.check_name(name, mime)
        assert caught.value.code == "media_type_mismatch"


# --- uploads ------------------------------------------------------------------------------


def upload(api, data: bytes, name: str = "file.bin", **form):
    return api.post("/v1/files", data={"file": (io.BytesIO(data), name), **form},
                    content_type="multipart/form-data")


def test_upload_then_send_by_file_id(api, dev, c):
    created = upload(api, h.pdf(), "invoice.pdf")
    assert created.status_code == 201, created.get_json()
    record = created.get_json()
    assert record["mime"] == "application/pdf" and record["size"] == 4096
    assert record["filename"] == "invoice.pdf" and record["id"].startswith("file_")
    assert api.get(f"/v1/files/{record['id']}").get_json() == record
    body = api.send(phone=PHONE, media={"file": record["id"], "caption": "Your invoice"}).get_json()
    assert body["type"] == "document" and body["message"] == "Your invoice"
    assert body["content"]["file"]["id"] == record["id"]
    assert body["content"]["filename"] == "invoice.pdf"
    assert c.storage.get(f"{api.account_id}/{record['id']}") == h.pdf()


def test_upload_by_url(api, dev, c):
    c.fetcher.files[URL] = h.png()
    record = api.post("/v1/files", json={"url": URL}).get_json()
    assert record["mime"] == "image/png" and record["filename"] == "thing"


def test_a_url_name_that_lies_is_dropped_not_refused(api, dev, c):
    c.fetcher.files["https://cdn.example/get/report.pdf"] = h.png()
    record = api.post("/v1/files", json={"url": "https://cdn.example/get/report.pdf"}).get_json()
    assert record["mime"] == "image/png" and record["filename"] is None


def test_same_bytes_are_stored_once(api, dev, c):
    first = upload(api, h.jpeg(), "a.jpg").get_json()
    second = upload(api, h.jpeg(), "b.jpg").get_json()
    assert first["id"] == second["id"]
    assert len(c.storage.blobs) == 1


def test_uploads_are_per_account(api, dev, c):
    from tests.unit.messaging.helpers import make_api

    record = upload(api, h.jpeg(), "a.jpg").get_json()
    other = make_api(c, "Other Ltd")
    assert_error(other.get(f"/v1/files/{record['id']}"), 404, "not_found")
    other.post("/v1/devices", json={})
    assert_error(other.send(phone=PHONE, media={"file": record["id"]}), 422, "unknown_file")


@pytest.mark.parametrize("data,name,code", [
    (h.pdf(), "photo.jpg", "media_type_mismatch"),
    (b"", "empty.pdf", "empty_file"),
])
def test_bad_uploads(api, dev, data, name, code):
    assert_error(upload(api, data, name), 422, code)


def test_upload_without_a_file_part(api, dev):
    response = api.post("/v1/files", data={"other": "x"}, content_type="multipart/form-data")
    assert_error(response, 400, "file_required")


def test_upload_over_the_largest_plan_limit_is_413(api, dev, monkeypatch):
    from shared.services import files

    monkeypatch.setattr(files, "MAX_UPLOAD", 10_000)
    assert_error(upload(api, h.pdf(20_000), "big.pdf"), 413)


# --- media by URL ---------------------------------------------------------------------------


@pytest.mark.parametrize("sample,declared,kind", [
    (h.jpeg, None, "image"), (h.webp, "image", "image"), (h.mp4, None, "video"),
    (h.mp4, "gif", "gif"), (h.ogg, "audio", "audio"), (h.m4a, None, "audio"),
    (h.docx, None, "document"), (h.png, "document", "document"),
])
def test_send_media_by_url(api, dev, c, sample, declared, kind):
    c.fetcher.files[URL] = sample()
    spec = {"url": URL} | ({"type": declared} if declared else {})
    response = api.send(phone=PHONE, media=spec)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["type"] == kind


def test_voice_note(api, dev, c):
    c.fetcher.files[URL] = h.ogg()
    body = api.send(phone=PHONE, media={"url": URL, "type": "audio", "voice": True}).get_json()
    assert body["content"]["voice"] is True
    c.fetcher.files[URL] = h.mp3()
    assert_error(api.send(phone=PHONE, media={"url": URL, "voice": True}), 422, "unsupported_media_type")


@pytest.mark.parametrize("answer,code", [
    (FetchError("forbidden_address", "host resolves to a private address"),
     "media_url_forbidden_address"),
    (FetchError("timeout", "took too long"), "media_url_timeout"),
    (FetchError("http_status", "answered HTTP 404"), "media_url_http_status"),
    (FetchError("unreachable", "connection refused"), "media_url_unreachable"),
])
def test_urls_that_cannot_be_fetched(api, dev, c, answer, code):
    c.fetcher.files[URL] = answer
    assert_error(api.send(phone=PHONE, media={"url": URL}), 422, code)
    assert c.store.query("messages") == []


@pytest.mark.parametrize("spec,code,status", [
    ({"url": URL, "type": "image"}, "media_type_mismatch", 422),  # the bytes are a PDF
    ({"url": URL, "filename": "photo.jpg"}, "media_type_mismatch", 422),
    ({"url": URL, "file": "file_x"}, "validation_error", 422),
    ({}, "validation_error", 422),
    ({"url": URL, "type": "sticker"}, "validation_error", 422),
    ({"url": URL, "caption": "c" * 1025}, "validation_error", 422),
])
def test_bad_media_specs(api, dev, c, spec, code, status):
    c.fetcher.files[URL] = h.pdf()
    assert_error(api.send(phone=PHONE, media=spec), status, code)


def test_html_page_instead_of_a_file(api, dev, c):
    c.fetcher.files[URL] = h.html()
    error = assert_error(api.send(phone=PHONE, media={"url": URL}), 422, "unsupported_media_type")
    assert "HTML" in error["message"]


# --- size limits per type and plan ------------------------------------------------------------


@pytest.mark.parametrize("plan,kind,sample", [
    ("messaging-professional", "image", h.jpeg), ("messaging-business", "audio", h.mp3),
    ("messaging-enterprise", "video", h.mp4), ("messaging-enterprise", "document", h.pdf),
])
def test_size_limit_per_type_and_plan(api, dev, c, plan, kind, sample):
    set_plan(c, dev, plan)
    limit = getattr(PLANS[plan].media, kind)
    c.fetcher.files[URL] = sample(limit)
    assert api.send(phone=PHONE, media={"url": URL}).status_code == 201
    c.fetcher.files[URL] = sample(limit + 1)
    error = assert_error(api.send(phone=PHONE, media={"url": URL, "type": kind}), 413,
                     "media_too_large")
    assert error["details"]["plan"] == plan and error["details"]["limit"] == f"media.{kind}"
    assert PLANS[plan].name in error["message"]


def test_enterprise_allows_what_professional_refuses(api, dev, c):
    record = upload(api, h.jpeg(3 * MB), "big.jpg").get_json()
    error = assert_error(api.send(phone=PHONE, media={"file": record["id"]}), 413, "media_too_large")
    assert "Professional" in error["message"] and "2 MB" in error["message"]
    set_plan(c, dev, "messaging-enterprise")
    assert api.send(phone=PHONE, media={"file": record["id"]}).status_code == 201


def test_gif_counts_against_the_video_limit(api, dev, c):
    limit = PLANS["messaging-professional"].media.video
    record = upload(api, h.mp4(limit + 1), "fun.mp4").get_json()
    error = assert_error(api.send(phone=PHONE, media={"file": record["id"], "type": "gif"}), 413)
    assert error["details"]["limit"] == "media.video"


def test_fetch_is_capped_at_the_limit_of_the_declared_type(api, dev, c):
    c.fetcher.files[URL] = h.jpeg()
    api.send(phone=PHONE, media={"url": URL, "type": "image"})
    assert c.fetcher.calls[-1] == (URL, PLANS["messaging-professional"].media.image)
    api.send(phone=PHONE, media={"url": URL})
    plan_media = PLANS["messaging-professional"].media
    assert c.fetcher.calls[-1] == (URL, max(plan_media.model_dump().values()))


def test_one_email_per_media_limit_per_period(api, dev, c):
    record = upload(api, h.jpeg(3 * MB), "big.jpg").get_json()
    for _ in range(3):
        assert_error(api.send(phone=PHONE, media={"file": record["id"]}), 413)
    mails = c.mailer.messages()
    assert len(mails) == 1 and mails[0]["to"] == "owner@acme.example"
    assert "Professional" in mails[0]["body"]
