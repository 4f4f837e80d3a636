"""Media types taken from the bytes (filetype), and the rules of what WhatsApp accepts
as an image, a video, an audio, a GIF or a document."""

from __future__ import annotations

import mimetypes

from shared.content import MediaKind
from shared.errors import ValidationFailed

OCTET_STREAM = "application/octet-stream"
HTML = "text/html"

ACCEPTED: dict[MediaKind, frozenset[str]] = {
    MediaKind.image: frozenset({"image/jpeg", "image/png", "image/webp"}),
    MediaKind.video: frozenset({"video/mp4", "video/3gpp", "video/x-m4v"}),
    MediaKind.gif: frozenset({"video/mp4", "video/x-m4v"}),  # WhatsApp GIFs are MP4 videos
    # MP4 audio often carries a video brand, so video/mp4 bytes may be sent as audio
    MediaKind.audio: frozenset({"audio/mpeg", "audio/ogg", "audio/mp4", "audio/aac", "video/mp4"}),
}
VOICE = frozenset({"audio/ogg"})
_NAMES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP", "video/mp4": "MP4",
          "video/3gpp": "3GPP", "video/x-m4v": "M4V", "audio/mpeg": "MP3", "audio/ogg": "OGG",
          "audio/mp4": "MP4 audio", "audio/aac": "AAC", "application/pdf": "PDF",
          "image/gif": "GIF", HTML: "an HTML page", OCTET_STREAM: "unrecognised binary data"}
_FIX = {MediaKind.image: "images are JPEG, PNG or WEBP",
        MediaKind.video: "videos are MP4 or 3GPP",
        MediaKind.gif: "GIFs are sent as MP4 videos: convert the GIF to MP4",
        MediaKind.audio: "audio is MP3, OGG, MP4 or AAC"}


def describe(mime: str) -> str:
    return _NAMES.get(mime, mime)


def family(mime: str) -> str:
    head = mime.split("/", 1)[0]
    return head if head in ("image", "video", "audio") else "document"


# ISO base media files (MP4 and kin) by their major brand, where filetype's matchers
# fall short (its 3GPP matcher never matches a real file; MOV and 3GPP files that list
# "isom" among their brands pass for MP4).
_BRANDS = {b"3gp": "video/3gpp", b"3g2": "video/3gpp2", b"qt ": "video/quicktime",
           b"M4A": "audio/mp4", b"M4V": "video/x-m4v"}


def _iso_brand(data: bytes) -> str | None:
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return _BRANDS.get(data[8:11])
    return None


def sniff(data: bytes, filename: str | None = None) -> str:
    """The MIME type of the bytes. Bytes no signature matches are a document; their name
    may then tell which (text/csv, say), never an image, video or audio type."""
    if not data:
        raise ValidationFailed("media: the file is empty", code="empty_file",
                               details={"field": "media"})
    import filetype  # its matchers load on the first sniffed file, not at the API's cold start

    mime = _iso_brand(data) or filetype.guess_mime(data)
    if mime:
        return mime
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return HTML
    guessed = mimetypes.guess_type(filename or "")[0]
    if guessed and family(guessed) == "document" and guessed != HTML:
        return guessed
    return OCTET_STREAM


def _fail(code: str, message: str, **details) -> ValidationFailed:
    return ValidationFailed(f"media: {message}", code=code, details={"field": "media", **details})


def kind_for(mime: str, declared: MediaKind | None, *, voice: bool = False) -> MediaKind:
    """The kind to send bytes of type `mime` as: the declared one if the bytes fit it,
    else a 422 that says why; without a declaration, the kind the bytes are."""
    if mime == HTML:
        raise _fail("unsupported_media_type", "the file is an HTML page, not media; check "
                    "that the URL points at the file itself", mime=mime)
    if declared is None:
        for kind in (MediaKind.image, MediaKind.video, MediaKind.audio):
            if mime in ACCEPTED[kind] and family(mime) == kind.value:
                declared = kind
                break
        else:
            if family(mime) != "document":
                raise _fail("unsupported_media_type",
                            f"{describe(mime)} cannot be sent as {family(mime)} on WhatsApp "
                            f"({_FIX[MediaKind(family(mime))]}); set type \"document\" to send "
                            "it as a file", mime=mime)
            declared = MediaKind.document
    if declared is not MediaKind.document and mime not in ACCEPTED[declared]:
        if family(mime) == declared.limit_name or (declared is MediaKind.gif and mime == "image/gif"):
            raise _fail("unsupported_media_type", f"{describe(mime)} is not supported: "
                        f"{_FIX[declared]}", mime=mime, type=declared.value)
        raise _fail("media_type_mismatch", f"type is {declared.value} but the file is "
                    f"{describe(mime)}", mime=mime, type=declared.value)
    if voice and (declared is not MediaKind.audio or mime not in VOICE):
        raise _fail("unsupported_media_type", "a voice note is an OGG (Opus) audio; this is "
                    f"{describe(mime)} sent as {declared.value}", mime=mime, type=declared.value)
    return declared


def _compatible(named: str, mime: str) -> bool:
    if named == mime:
        return True
    named_family, mime_family = family(named), family(mime)
    if {named_family, mime_family} <= {"audio", "video"}:
        return True  # .mp4 and .3gp hold either
    if named_family != mime_family:
        return False
    if named_family == "image":
        return True  # photo.png holding a JPEG: common, and harmless
    return mime in (OCTET_STREAM, "application/zip")  # unrecognised, or a zip-based format


def check_name(filename: str | None, mime: str) -> None:
    """A file name whose extension says another kind of file than the bytes is a 422
    (photo.jpg holding a PDF, report.pdf holding a Word file)."""
    if not filename:
        return
    named = mimetypes.guess_type(filename)[0]
    if named is not None and not _compatible(named, mime):
        raise _fail("media_type_mismatch", f"the name {filename!r} says {describe(named)} but "
                    f"the file is {describe(mime)}", mime=mime, filename=filename)
