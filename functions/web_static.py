"""The web app's built files (web/dist), served by the api process on the API's own origin
when UTIO_WEB_DIR is set: what the load balancer and Cloud CDN do in production (Terraform
serves the same files from a Cloud Storage bucket). `/v1/...` stays the API; any other
path is a file of the build, or, for an app route (a path whose last part has no dot),
index.html, so that a console URL can be reloaded or opened in another tab. The
documentation under `/docs` is static pages: a path that names a folder of the build with
an index.html (`/docs`, `/docs/guides/quick-start`) answers that page.

Every answer carries the security headers of SECURITY_HEADERS: a Content-Security-Policy
that allows scripts, styles, images and connections only from our own origin (no inline
scripts), and no framing."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, abort, send_from_directory
from werkzeug.security import safe_join

# The same policy terraform/modules/web sets on the load balancer's answers.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
# The API reference (Scalar) injects its stylesheet as a <style> element at run time, so the
# /docs pages also allow inline styles; scripts stay files of our own origin only.
DOCS_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
IMMUTABLE = "public, max-age=31536000, immutable"  # hashed names under assets/


# Locally the browser's Firebase Auth SDK talks to the Auth emulator through our own origin
# (connectAuthEmulator(auth, location.origin)), so the policy stays 'self' there too.
EMULATOR_PREFIXES = ("identitytoolkit.googleapis.com", "securetoken.googleapis.com", "emulator")


def install(app: Flask, web_dir: str | Path, auth_emulator_host: str = "") -> None:
    root = Path(web_dir).resolve()
    if auth_emulator_host:
        _install_emulator_proxy(app, auth_emulator_host)

    def serve(path: str) -> Response:
        if path == "v1" or path.startswith("v1/"):
            abort(404)  # an unknown API path: the API's JSON 404, never the app
        last = path.rsplit("/", 1)[-1]
        file = safe_join(str(root), path) if path else None
        folder_index = safe_join(str(root), path, "index.html") if path else None
        if file and Path(file).is_file():
            response = send_from_directory(root, path)
            response.headers["Cache-Control"] = (IMMUTABLE if path.startswith("assets/")
                                                 else "public, max-age=300")
        elif "." in last:
            abort(404)
        elif folder_index and Path(folder_index).is_file():
            response = send_from_directory(root, f"{path.rstrip('/')}/index.html")
            response.headers["Cache-Control"] = "no-cache"
        else:
            if not (root / "index.html").is_file():
                abort(404)
            response = send_from_directory(root, "index.html")
            response.headers["Cache-Control"] = "no-cache"
        response.headers.update(SECURITY_HEADERS)
        if path == "docs" or path.startswith("docs/"):
            response.headers["Content-Security-Policy"] = DOCS_CONTENT_SECURITY_POLICY
        return response

    app.add_url_rule("/", "web_index", lambda: serve(""), methods=["GET", "HEAD"])
    app.add_url_rule("/<path:path>", "web_file", serve, methods=["GET", "HEAD"])


def _install_emulator_proxy(app: Flask, host: str) -> None:
    import requests
    from flask import request

    def forward(prefix: str, rest: str) -> Response:
        upstream = requests.request(
            request.method, f"http://{host}/{prefix}/{rest}", params=request.args,
            data=request.get_data(),
            headers={k: v for k, v in request.headers.items()
                     if k.lower() in ("content-type", "authorization", "accept")},
            timeout=30)
        response = Response(upstream.content, status=upstream.status_code,
                            content_type=upstream.headers.get("content-type"))
        response.headers.update(SECURITY_HEADERS)
        return response

    for prefix in EMULATOR_PREFIXES:
        app.add_url_rule(f"/{prefix}/<path:rest>", f"auth_emulator_{prefix}",
                         lambda rest, prefix=prefix: forward(prefix, rest),
                         methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
