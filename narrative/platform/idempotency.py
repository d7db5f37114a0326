"""Idempotency-Key on POST: a retried request gets the first response instead of running twice.

Applied to the whole app by `register_idempotency_hooks` (a before/after request pair), so
every POST that carries an ``Idempotency-Key`` header gets the behaviour, on every family; a view
opts out with `@idempotency_exempt`. Keys are per caller (`caller_key()`: the user, API key or execution token,
or the client address for anonymous requests) and per method and path, so two callers never see
each other's responses.

- First request: a lock is taken in Redis and the view runs. Its response (status, body and the
  headers worth keeping: Content-Type, Location, ETag) is stored for 24 hours with a fingerprint,
  SHA-256 of method, path, query string and body bytes (for multipart bodies: the parts' names,
  values and file contents, since a client picks a new boundary on every retry).
- Same key and same fingerprint: the stored response is replayed with ``Idempotent-Replayed: true``
  and the view does not run again (no second row, no second email).
- Same key and another fingerprint: 422 ``idempotency_key_reused``.
- Same key while the first request still runs: 409 ``idempotency_in_progress``.
- Malformed key (empty, longer than 255, not printable ASCII): 400.

What is stored: every response below 500 except 409 and 429, which are transient (the retry
should run again); 5xx are not stored either, so a client's retry after a server error runs the
request again. Streamed responses (SSE, files) are never stored: they pass through and a retry runs
again. The lock is released when the response is ready, or at teardown when anything failed first;
it also expires after ``IDEMPOTENCY_LOCK_SECONDS`` (default 300) should the process die.

A replay is only ever sent to a request with the same caller and the same bytes, so an anonymous
caller (keyed by address) cannot read another's stored response without knowing its exact body.
"""

import base64
import hashlib
import json
import re
import secrets
from dataclasses import dataclass

from flask import Response, current_app, g, request

from narrative.platform.caller import caller_key
from narrative.platform.errors import BadRequest, Conflict, ValidationFailed
from narrative.platform.redis import get_redis

__all__ = ["HEADER", "REPLAYED_HEADER", "idempotency_exempt", "register_idempotency_hooks"]

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Content-Type", "Location", "ETag")
RESPONSE_TTL_SECONDS = 24 * 3600
LOCK_TTL_SECONDS = 300
TRANSIENT_STATUSES = frozenset({409, 429})

_WELL_FORMED_KEY = re.compile(r"^[\x20-\x7e]{1,255}$")

# Deletes the lock only when it is still ours (it may have expired and been taken by a retry).
_RELEASE_LOCK = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""


def idempotency_exempt(view):
    """Opt a view out: its POSTs run every time even with an Idempotency-Key."""
    view.idempotency_exempt = True
    return view


def register_idempotency_hooks(app):
    app.before_request(_replay_or_claim)
    app.after_request(_store_response)
    app.teardown_request(_release_leftover_claim)


@dataclass(frozen=True)
class _Claim:
    lock_key: str
    response_key: str
    fingerprint: str
    lock_value: str


def _replay_or_claim():
    if request.method != "POST" or HEADER not in request.headers:
        return None
    if request.url_rule is None or _is_exempt():
        return None
    idempotency_key = _validated_key(request.headers[HEADER])
    lock_key, response_key = _redis_keys(idempotency_key)
    fingerprint = _fingerprint()
    redis = get_redis()

    stored = _stored_response(redis, response_key)
    if stored is not None:
        return _replay(stored, fingerprint)
    lock_value = json.dumps({"token": secrets.token_hex(16), "fingerprint": fingerprint})
    if not redis.set(lock_key, lock_value, nx=True, ex=_lock_ttl()):
        return _answer_while_locked(redis, lock_key, response_key, fingerprint)
    claim = _Claim(lock_key, response_key, fingerprint, lock_value)
    # The first request may have finished between our read and our lock.
    stored = _stored_response(redis, response_key)
    if stored is not None:
        _release(claim)
        return _replay(stored, fingerprint)
    g._idempotency_claim = claim
    return None


def _store_response(response):
    claim = g.pop("_idempotency_claim", None)
    if claim is None:
        return response
    try:
        if _worth_storing(response):
            get_redis().set(claim.response_key, _serialise(response, claim.fingerprint), ex=_response_ttl())
    finally:
        _release(claim)
    return response


def _release_leftover_claim(_error=None):
    claim = g.pop("_idempotency_claim", None)
    if claim is not None:
        _release(claim)


def _is_exempt():
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "idempotency_exempt", False):
        return True
    view_class = getattr(view, "view_class", None)  # a MethodView: its post method may opt out
    return getattr(getattr(view_class, "post", None), "idempotency_exempt", False)


def _validated_key(value):
    if not _WELL_FORMED_KEY.match(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable ASCII characters.",
            details=[
                {"field": HEADER, "message": "1 to 255 printable ASCII characters", "location": "headers"}
            ],
        )
    return value


def _redis_keys(idempotency_key):
    scope = "\0".join((caller_key(), request.method, request.path, idempotency_key))
    digest = hashlib.sha256(scope.encode()).hexdigest()
    return f"idempotency:{digest}:lock", f"idempotency:{digest}:response"


def _fingerprint():
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.path}?".encode())
    digest.update(request.query_string)
    digest.update(b"\n")
    if request.mimetype == "multipart/form-data":
        digest.update(_multipart_digest())
    else:
        # cache=True keeps the bytes for the view's own parsing.
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _multipart_digest():
    """The parts' names, values and file contents: clients pick a new boundary on every retry."""
    parts = [["form", name, value] for name, value in request.form.items(multi=True)]
    for name, upload in request.files.items(multi=True):
        content = hashlib.sha256()
        for chunk in iter(lambda upload=upload: upload.stream.read(1 << 16), b""):
            content.update(chunk)
        upload.stream.seek(0)  # the view reads the file after us
        parts.append(["file", name, upload.filename, upload.mimetype, content.hexdigest()])
    return json.dumps(parts).encode()


def _stored_response(redis, response_key):
    raw = redis.get(response_key)
    return json.loads(raw) if raw else None


def _replay(stored, fingerprint):
    if stored["fingerprint"] != fingerprint:
        raise _key_reused()
    response = Response(base64.b64decode(stored["body"]), status=stored["status"], headers=stored["headers"])
    response.headers[REPLAYED_HEADER] = "true"
    return response


def _answer_while_locked(redis, lock_key, response_key, fingerprint):
    stored = _stored_response(redis, response_key)
    if stored is not None:  # finished between our two reads
        return _replay(stored, fingerprint)
    holder = redis.get(lock_key)
    if holder and json.loads(holder)["fingerprint"] != fingerprint:
        raise _key_reused()
    raise Conflict(
        "A request with this Idempotency-Key is still being processed; retry once it has finished.",
        code="idempotency_in_progress",
    )


def _key_reused():
    return ValidationFailed(
        "This Idempotency-Key was already used with a different request; use a new key for a new request.",
        code="idempotency_key_reused",
    )


def _worth_storing(response):
    if response.is_streamed or response.direct_passthrough:
        return False
    return response.status_code < 500 and response.status_code not in TRANSIENT_STATUSES


def _serialise(response, fingerprint):
    headers = [[name, response.headers[name]] for name in KEPT_HEADERS if name in response.headers]
    return json.dumps(
        {
            "status": response.status_code,
            "headers": headers,
            "body": base64.b64encode(response.get_data()).decode("ascii"),
            "fingerprint": fingerprint,
        }
    )


def _release(claim):
    get_redis().eval(_RELEASE_LOCK, 1, claim.lock_key, claim.lock_value)


def _lock_ttl():
    return int(current_app.config.get("IDEMPOTENCY_LOCK_SECONDS", LOCK_TTL_SECONDS))


def _response_ttl():
    return int(current_app.config.get("IDEMPOTENCY_TTL_SECONDS", RESPONSE_TTL_SECONDS))
