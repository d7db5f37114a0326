"""Probe routes for rate limits and idempotency: limited views and POSTs with visible side effects."""

import threading

import marshmallow as ma
from flask import Response, request, url_for

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.api import Blueprint
from narrative.platform.idempotency import idempotency_exempt
from narrative.platform.ratelimit import by_ip, rate_limit
from narrative.platform.redis import get_redis
from narrative.platform.tenancy import all_workspaces_for_this_request

blp = Blueprint("probe_limits", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)

# The slow probe waits here until the test lets it finish, so a second request overlaps it.
slow_started = threading.Event()
slow_release = threading.Event()


def client_header():
    return request.headers.get("X-Probe-Client", "anonymous")


def count_execution(name):
    """Each run of a probe view adds one, so a test sees whether the view ran again."""
    return get_redis().incr(f"probe:executions:{name}")


@blp.route("/_probe/limits/login", methods=["POST"])
@rate_limit("5/minute", key=by_ip, scope="login")
def login():
    return {"ok": True}


@blp.route("/_probe/limits/burst", methods=["POST"])
@rate_limit("10/minute", key=client_header)
def burst():
    return {"ok": True}


class WorkspaceProbeSchema(ma.Schema):
    id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True)
    slug = ma.fields.String(required=True)


@blp.route("/_probe/idempotency/workspaces", methods=["POST"])
@blp.arguments(WorkspaceProbeSchema)
@blp.response(201, WorkspaceProbeSchema)
def create_workspace(payload):
    workspace = Workspace(**payload)
    db.session.add(workspace)
    db.session.commit()
    return (
        workspace,
        201,
        {"Location": url_for("probe_limits.create_workspace", _external=False) + f"/{workspace.id}"},
    )


@blp.route("/_probe/idempotency/count", methods=["POST"])
def count():
    return {"executions": count_execution("count")}, 201


@blp.route("/_probe/idempotency/exempt", methods=["POST"])
@idempotency_exempt
def exempt():
    return {"executions": count_execution("exempt")}, 201


@blp.route("/_probe/idempotency/fail", methods=["POST"])
def fail():
    count_execution("fail")
    raise RuntimeError("the first attempt fails on our side")


@blp.route("/_probe/idempotency/stream", methods=["POST"])
def stream():
    executions = count_execution("stream")

    def frames():
        yield f"data: {executions}\n\n"

    return Response(frames(), mimetype="text/event-stream")


@blp.route("/_probe/idempotency/slow", methods=["POST"])
def slow():
    slow_started.set()
    slow_release.wait(timeout=5)
    return {"executions": count_execution("slow")}, 201


@blp.route("/_probe/idempotency/upload", methods=["POST"])
def upload():
    """The fingerprint reads the raw body first; the view must still see the parsed form."""
    upload = request.files["file"]
    return {
        "title": request.form["title"],
        "size": len(upload.read()),
        "executions": count_execution("upload"),
    }, 201
