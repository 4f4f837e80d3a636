"""The api serving the built web app on its own origin (UTIO_WEB_DIR, local mode)."""

from __future__ import annotations

import subprocess

import pytest

from functions.api.app import create_app
from functions.web_static import SECURITY_HEADERS
from shared.bootstrap import Container
from shared.settings import Settings
from tests.infra.tools import ROOT


@pytest.fixture
def client(tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Utio</title>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    (dist / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("not served")
    return create_app(Container(Settings(web_dir=str(dist)))).test_client()


@pytest.mark.parametrize("path", ["/", "/devices", "/devices/dev_1", "/login", "/s/messages/create"])
def test_app_routes_answer_index_html_with_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert b"<title>Utio</title>" in response.data
    assert response.headers["Cache-Control"] == "no-cache"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_files_are_served_and_hashed_assets_cached_for_good(client):
    asset = client.get("/assets/index-abc.js")
    assert asset.status_code == 200 and asset.data == b"console.log(1)"
    assert "immutable" in asset.headers["Cache-Control"]
    assert client.get("/favicon.svg").status_code == 200


@pytest.mark.parametrize("path", ["/assets/missing.js", "/missing.png", "/../secret.txt",
                                  "/%2e%2e/secret.txt", "/assets/../../secret.txt"])
def test_missing_files_and_escapes_are_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"not served" not in response.data


@pytest.mark.parametrize("path", ["/v1", "/v1/", "/v1/nothing-here", "/v1/devices/x/nope"])
def test_unknown_api_paths_stay_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_the_api_still_answers(client):
    assert client.get("/v1/health").get_json()["status"] == "ok"


def test_without_web_dir_every_other_path_is_the_api_404():
    client = create_app(Container(Settings())).test_client()
    response = client.get("/devices")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_node_modules_and_the_build_are_never_tracked():
    tracked = subprocess.run(["git", "ls-files", "web/node_modules", "web/dist",
                              "web/src/api/schema.d.ts"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert tracked == ""


@pytest.fixture
def docs_client(tmp_path):
    dist = tmp_path / "dist"
    (dist / "docs" / "guides" / "quick-start").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>Utio</title>")
    (dist / "docs" / "index.html").write_text("<title>Utio API reference</title>")
    (dist / "docs" / "guides" / "quick-start" / "index.html").write_text("<title>Quick</title>")
    return create_app(Container(Settings(web_dir=str(dist)))).test_client()


@pytest.mark.parametrize("path, title", [
    ("/docs", b"Utio API reference"), ("/docs/", b"Utio API reference"),
    ("/docs/guides/quick-start", b"Quick"), ("/docs/guides/quick-start/", b"Quick")])
def test_docs_folders_answer_their_index_page(docs_client, path, title):
    response = docs_client.get(path)
    assert response.status_code == 200 and title in response.data


def test_docs_pages_allow_inline_styles_but_never_inline_scripts(docs_client):
    csp = docs_client.get("/docs").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp
    assert "unsafe-inline" not in docs_client.get("/devices").headers["Content-Security-Policy"]


def test_a_missing_guide_is_the_app_not_a_file_listing(docs_client):
    response = docs_client.get("/docs/guides/nope")
    assert response.status_code == 200 and b"<title>Utio</title>" in response.data


def test_the_vite_dev_server_forwards_what_the_apis_origin_forwards_to_the_auth_emulator():
    # (`npm run dev` forwarded /v1 only: signing in there found no emulator)
    import re
    from pathlib import Path

    from functions.web_static import EMULATOR_PREFIXES

    config = (Path(__file__).resolve().parents[2] / "web" / "vite.config.ts").read_text()
    proxied = re.search(r"const proxied = \[([^\]]*)\]", config)
    assert proxied is not None
    assert set(re.findall(r'"/([^"]+)"', proxied.group(1))) == {"v1", *EMULATOR_PREFIXES}
