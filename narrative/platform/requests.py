"""Per-request bookkeeping: the request id, the access log line, the HTTP metrics; no cookie session."""

import logging
import re
import secrets
import time

from flask import g, request
from flask.sessions import SessionInterface

from narrative.platform import metrics

log = logging.getLogger("narrative.access")

# An incoming id is kept only when it is short and plain, so logs cannot be forged through it.
_WELL_FORMED_ID = re.compile(r"^[A-Za-z0-9._:\-]{8,128}$")


def new_request_id():
    return "req_" + secrets.token_hex(12)


def _start_request():
    g.started_at = time.perf_counter()
    g.user_id = g.workspace_id = None
    incoming = request.headers.get("X-Request-Id", "")
    g.request_id = incoming if _WELL_FORMED_ID.match(incoming) else new_request_id()


def _finish_request(response):
    response.headers["X-Request-Id"] = g.get("request_id") or new_request_id()
    duration = time.perf_counter() - g.get("started_at", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else "<unmatched>"
    metrics.observe_request(request.method, endpoint, response.status_code, duration)
    fields = {
        "request_id": g.get("request_id"),
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 2),
    }
    for key in ("user_id", "workspace_id"):
        if g.get(key):
            fields[key] = str(g.get(key))
    log.info("%s %s %s", request.method, request.path, response.status_code, extra={"fields": fields})
    return response


class NoCookieSession(SessionInterface):
    """The API keeps no cookie session (every caller presents a token), so none is read or signed."""

    def open_session(self, app, request):
        return None  # Flask falls back to a read-only null session

    def save_session(self, app, session, response):
        return None


def register_request_hooks(app):
    app.session_interface = NoCookieSession()
    app.before_request(_start_request)
    app.after_request(_finish_request)
