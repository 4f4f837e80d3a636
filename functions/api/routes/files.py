from __future__ import annotations

from flask import Response, request

from functions.api.access import agent_route
from functions.api.registry import Principal
from functions.api.schemas_messages import (
    Count,
    DailyUsage,
    FileFromUrl,
    FileOut,
    SpeedOut,
    UsageOut,
)
from shared.errors import BadRequest, NotFound, PayloadTooLarge
from shared.services import daily_caps, devices, files, quotas

FORM_OVERHEAD = 64 * 1024


def _out(record: files.File) -> FileOut:
    return FileOut.model_validate(record.model_dump())


@agent_route("POST", "/v1/files", body=FileFromUrl, response=FileOut, status=201,
           summary="Upload a file for media messages (multipart), or have Utio fetch one",
           tag="files", errors=(413,),
           multipart={"file": {"type": "string", "format": "binary",
                               "description": "The file; its type is taken from the bytes."},
                      "filename": {"type": "string", "description": "Overrides the name of "
                                   "the uploaded part."}})
def upload_file(p: Principal, body: FileFromUrl | None):
    """Stores a file for media messages: either upload it (multipart/form-data, field `file`)
    or give a public `url` for Utio to fetch. Then send it with `POST /v1/messages` and
    `media.file`, as often as you like, without uploading it again. The type is read from the
    file's bytes; plan limits per type apply when it is sent (on Professional: images 2 MB,
    audio 8 MB, video and documents 12 MB).

    Errors: 400 `file_required` when the multipart body has no file; 413 when the file is
    larger than any plan sends; 422 for an empty file, an unsupported type, or a URL that
    cannot be fetched (with the reason in `code`, such as `media_url_timeout`)."""
    c = p.c
    if body is not None:
        try:
            record = files.fetch_file(c.store, c.storage, c.fetcher, c.clock, p.account_id,
                                      body.url, max_bytes=files.MAX_UPLOAD,
                                      timeout=c.settings.media_fetch_timeout)
        except files.TooLarge as exc:
            raise PayloadTooLarge(f"url: the file is larger than {exc.limit} bytes, the "
                                  "largest any plan sends", code="file_too_large") from exc
        return _out(record)
    request.max_content_length = files.MAX_UPLOAD + FORM_OVERHEAD
    part = request.files.get("file")
    if part is None:
        raise BadRequest("multipart body without a `file` part", code="file_required",
                         details={"field": "file"})
    data = part.read(files.MAX_UPLOAD + 1)
    if len(data) > files.MAX_UPLOAD:
        raise PayloadTooLarge(f"file: larger than {files.MAX_UPLOAD} bytes, the largest any "
                              "plan sends", code="file_too_large")
    name = request.form.get("filename") or part.filename
    return _out(files.store_file(c.store, c.storage, c.clock, p.account_id, data, filename=name))


@agent_route("GET", "/v1/files/{file_id}", response=FileOut, summary="Get a file's record",
             tag="files", errors=(404,))
def get_file(p: Principal, file_id: str):
    """A stored file's record: its type, size, name and checksum. Its id goes in
    `media.file` of `POST /v1/messages`.

    Errors: 404 when the file is not in this account."""
    return _out(files.get_file(p.c.store, p.account_id, file_id))


@agent_route("GET", "/v1/files/{file_id}/content", summary="Download a stored file",
             tag="files", errors=(404,), content_type="application/octet-stream")
def file_content(p: Principal, file_id: str):
    """The bytes of a file uploaded with `POST /v1/files` (or fetched from a URL for a
    message), with its type: how the web chat shows the media it sent. Files are kept 30
    days after their last use.

    Errors: 404 when the file is not in this account or its bytes have expired."""
    record = files.get_file(p.c.store, p.account_id, file_id)
    data = files.read_bytes(p.c.storage, record.stored(), p.account_id)
    if data is None:
        raise NotFound(f"file {file_id} not found (its bytes expired)")
    return Response(data, mimetype=record.mime,
                    headers={"Cache-Control": "private, max-age=86400"})


@agent_route("GET", "/v1/devices/{device_id}/usage", response=UsageOut, tag="devices",
             summary="A device's use of its plan this month", errors=(404,))
def device_usage(p: Principal, device_id: str):
    """How much of its plan the device used this calendar month (UTC): messages queued or sent
    against the plan's monthly limit (failed and cancelled ones do not count), when the
    counter resets, the media size limits, its delivery speed and today's daily cap
    (`daily`: the warm-up of a newly linked number, or `daily_limit`).

    Errors: 404 when the device is not in this account."""
    device = devices.get_device(p.c, p.account_id, device_id)
    plan = quotas.plan_of(device)
    period = quotas.period_of(p.c.clock.now())
    used = quotas.used(p.c.store, device.id, period)
    return UsageOut(
        device=device.id, plan=plan.id, plan_name=plan.name, period=period,
        resets_at=quotas.period_end(period),
        messages=Count(used=used, limit=plan.messages_per_month,
                       remaining=max(0, plan.messages_per_month - used)),
        media_limits=plan.media.model_dump(),
        delivery_speed=SpeedOut(configured=device.settings.delivery_speed,
                                plan_max=plan.max_delivery_speed,
                                effective=quotas.effective_speed(device)),
        daily=DailyUsage(**vars(daily_caps.today(p.c.store, device, p.c.clock.now()))))
