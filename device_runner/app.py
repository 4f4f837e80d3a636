"""The runner's HTTP face: task endpoints for Cloud Tasks and a health check."""

from __future__ import annotations

from flask import Flask, jsonify, request

from device_runner.runner import Runner
from shared.errors import BadRequest, UtioError
from shared.oidc import verify_push


def create_app(runner: Runner) -> Flask:
    app = Flask("device_runner")

    def body() -> dict:
        verify_push(runner.c.settings, request.headers.get("Authorization"), request.base_url)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object")
        return data

    @app.post("/tasks/messages")
    def message_task():
        data = body()
        if not isinstance(data.get("message_id"), str):
            raise BadRequest("expected {\"message_id\": \"...\"}")
        runner.handle_message_task(data["message_id"])
        return jsonify({"ok": True})

    @app.post("/tasks/devices")
    def device_task():
        data = body()
        if not isinstance(data.get("device_id"), str) or not isinstance(data.get("action"), str):
            raise BadRequest("expected {\"device_id\": \"...\", \"action\": \"...\"}")
        try:
            runner.handle_device_task(data)
        except (LookupError, ValueError) as exc:
            raise BadRequest(str(exc)) from exc
        return jsonify({"ok": True})

    @app.get("/healthz")
    def health():
        return jsonify({"ok": True, "shard": runner.shard, "devices": len(runner.sessions)})

    @app.errorhandler(UtioError)
    def error(exc: UtioError):
        return jsonify(exc.body()), exc.status

    return app
