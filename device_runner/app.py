"""The runner's HTTP face: task endpoints for Cloud Tasks, calls from the API (rpc), and
health. Every device-bound request is routed to the runner holding the device
(device_runner/forwarding.py)."""

from __future__ import annotations

from collections import Counter

from flask import Flask, jsonify, request
from pydantic import BaseModel, ValidationError

from device_runner import rpc
from device_runner.forwarding import FORWARDED_HEADER, Forwarder, locate
from device_runner.runner import Runner
from shared.errors import BadRequest, Conflict, UtioError, error_response
from shared.oidc import verify_push
from shared.runner_rpc import RPC_CALLS, RunnerUnavailable
from shared.runner_tasks import DeviceAction, DeviceTask, MessageTask


def create_app(runner: Runner, forwarder: Forwarder | None = None, keeper=None) -> Flask:
    """`keeper`: the shard's ShardKeeper; /healthz fails when it no longer runs."""
    app = Flask("device_runner")

    def body() -> dict:
        verify_push(runner.c.settings, request.headers.get("Authorization"), request.base_url)
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("expected a JSON object")
        return data

    def parsed(model: type[BaseModel], data: dict):
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"])
            raise BadRequest(f"{where + ': ' if where else ''}{first['msg']}") from exc

    def routed(device_id: str | None, data: dict, handle):
        """Handle here if this runner holds the device, else hand it to the holder."""
        if device_id is None:
            return handle()
        place = locate(runner, device_id)
        if place.kind == "local":
            return handle()
        if request.headers.get(FORWARDED_HEADER):
            raise Conflict(f"runner {runner.shard} does not hold device {device_id}",
                           code="not_holder")  # one hop only: the sender answers 503
        if place.kind == "forward" and forwarder is not None:
            try:
                status, answer = forwarder.forward(place.url, request.path, data, runner.shard)
            except OSError as exc:
                raise RunnerUnavailable(f"the runner holding {device_id} is unreachable: {exc}") from exc
            if status < 300 or (400 <= status < 500 and status != 409):
                return jsonify(answer), status
            raise RunnerUnavailable(f"the runner holding {device_id} answered {status}; retry")
        raise RunnerUnavailable(f"no runner can take device {device_id} now; retry")

    @app.post("/tasks/messages")
    def message_task():
        data = body()
        task = parsed(MessageTask, data)
        device_id = task.device_id
        if device_id is None:
            doc = runner.c.repos.messages.doc(task.message_id)
            device_id = doc["device_id"] if doc else None

        def handle():
            runner.handle_message_task(task.message_id, task.message, task.version)
            return jsonify({"ok": True})

        return routed(device_id, data, handle)

    @app.post("/tasks/devices")
    def device_task():
        data = body()
        task = parsed(DeviceTask, data)

        def handle():
            runner.handle_device_task(task)
            return jsonify({"ok": True})

        if task.action == DeviceAction.stop:  # a deleted device: its document is gone, so
            response = handle()               # tell every live shard; whoever has a session
            if forwarder is not None and runner.leases is not None \
                    and not request.headers.get(FORWARDED_HEADER):  # ends it
                for url in runner.leases.peer_urls():
                    try:
                        forwarder.forward(url, request.path, data, runner.shard)
                    except OSError:
                        pass  # a dead shard holds no session
            return response
        return routed(task.device_id, data, handle)

    @app.post("/rpc/<action>")
    def call(action: str):
        data = body()
        model = RPC_CALLS.get(action)
        if model is None:
            raise BadRequest(f"unknown call {action!r}; the calls are {', '.join(RPC_CALLS)}")
        args = parsed(model, data)
        return routed(args.device_id, data, lambda: jsonify(rpc.handle(runner, args)))

    @app.get("/healthz")
    def health():
        """Liveness: fails when the thread keeping the shard's lease has died, so that
        Cloud Run (or make dev) restarts a runner that would otherwise hold nothing."""
        alive = keeper is None or keeper.running()
        return jsonify({"ok": alive, "shard": runner.shard,
                        "devices": len(runner.sessions)}), 200 if alive else 503

    @app.get("/health")
    def details():
        """For operators: the devices held, live sessions, waiting messages and what the
        stranded-work sweep found; 503 when the runner holds devices it has no session
        for, or does not hold its lease."""
        sessions = dict(runner.sessions)
        statuses = Counter(runner.statuses.get(d, "unknown") for d in sessions)
        leases = runner.leases
        held = leases.held() if leases is not None else list(sessions)
        without = sorted(set(held) - set(sessions) | runner.to_resume)
        queues = {device_id: session.pending() for device_id, session in sessions.items()}
        ok = (leases is None or leases.valid()) and not without
        return jsonify({
            "ok": ok,
            "shard": runner.shard,
            "lease": None if leases is None else {
                "instance": leases.instance, "epoch": leases.epoch, "valid": leases.valid(),
                "late": leases.late(), "capacity": leases.capacity, "held": len(held)},
            "devices": {"held": len(held), "without_session": without},
            "sessions": {"total": len(sessions),
                         "live": sum(s == "connected" for s in statuses.elements()),
                         "by_status": dict(statuses)},
            "messages": {"waiting": sum(queues.values())},
            "sweep": runner.sweep_report.as_dict(),
            "queues": queues,
        }), 200 if ok else 503

    @app.errorhandler(500)
    def bug(exc):
        """A bug (Flask has logged it with its traceback): 500, never a 4xx that hides it."""
        return error_response(UtioError("the runner failed; the error is in its log",
                                        code="internal_error", status=500))

    @app.errorhandler(UtioError)
    def error(exc: UtioError):
        return error_response(exc, retry_unavailable_after=5)

    return app
