"""The local task dispatcher as an HTTP service, for processes of the local stack."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, jsonify, request

from shared.adapters.local_dispatcher import LocalDispatcher


def create_app(dispatcher: LocalDispatcher) -> Flask:
    app = Flask("local_tasks")

    @app.post("/tasks")
    def enqueue():
        body = request.get_json(force=True)
        schedule_at = body.get("schedule_at")
        dispatcher.enqueue(
            body["queue"], body["target"], body["payload"], name=body.get("name"),
            schedule_at=datetime.fromisoformat(schedule_at) if schedule_at else None,
        )
        return jsonify({"ok": True}), 201

    @app.get("/healthz")
    def health():
        return jsonify({"ok": True, "pending": dispatcher.pending()})

    return app
