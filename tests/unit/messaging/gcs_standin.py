"""A stand-in for the few Cloud Storage JSON API calls GcsStorage makes (upload, download,
delete), served on loopback for the real google-cloud-storage client through
STORAGE_EMULATOR_HOST."""

from __future__ import annotations

import json
import threading
from email import message_from_bytes
from email.policy import HTTP

from flask import Flask, Response, request
from werkzeug.serving import make_server


def _json(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _missing(name: str) -> Response:
    return _json({"error": {"code": 404, "message": f"No such object: {name}"}}, 404)


class GcsStandin:
    def __init__(self):
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}
        app = Flask("gcs-standin")

        @app.get("/storage/v1/b/<bucket>")
        def bucket(bucket):
            return _json({"kind": "storage#bucket", "name": bucket})

        @app.post("/upload/storage/v1/b/<bucket>/o")
        def upload(bucket):
            raw = b"Content-Type: " + request.content_type.encode() + b"\r\n\r\n" + request.get_data()
            parts = message_from_bytes(raw, policy=HTTP).get_payload()
            meta = json.loads(parts[0].get_payload(decode=True))
            data = parts[1].get_payload(decode=True)
            content_type = meta.get("contentType") or parts[1].get_content_type()
            self.objects[(bucket, meta["name"])] = (data, content_type)
            return _json({"kind": "storage#object", "bucket": bucket, "name": meta["name"],
                          "size": str(len(data)), "contentType": content_type})

        @app.get("/download/storage/v1/b/<bucket>/o/<path:name>")
        def download(bucket, name):
            if (bucket, name) not in self.objects:
                return _missing(name)
            data, content_type = self.objects[(bucket, name)]
            return Response(data, mimetype=content_type)

        @app.delete("/storage/v1/b/<bucket>/o/<path:name>")
        def delete(bucket, name):
            if self.objects.pop((bucket, name), None) is None:
                return _missing(name)
            return Response(status=204)

        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
