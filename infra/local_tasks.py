"""The local task dispatcher as an HTTP service, for processes of the local stack."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

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


def main() -> None:
    import argparse
    import logging

    from werkzeug.serving import run_simple

    from shared.bootstrap import Container

    parser = argparse.ArgumentParser(description="The local Cloud Tasks stand-in.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--journal", type=Path, default=None,
                        help="file that keeps pending tasks across restarts")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s tasks %(levelname)s %(message)s")
    dispatcher = LocalDispatcher(Container().task_urls(), journal=args.journal).start()
    run_simple(args.host, args.port, create_app(dispatcher), threaded=True)


if __name__ == "__main__":
    main()
