"""The proxy's hot path: `POST /x/{action_id}` with `Authorization: Bearer sxt_...`.

Per call, in order:

1. Authenticate the token for this action. The token's grant (the action's target, encrypted
   headers, limits, plan quota) is cached in Redis under the token's hash for `GRANT_TTL` seconds,
   so a call costs one Redis GET instead of a database query. A revocation or an action update
   writes a tombstone over the cached grant after its commit; while the tombstone lives the
   database is asked every time, and the fill (`SET NX`) can never overwrite it, so a stale grant
   cannot come back after a revocation. Unknown tokens are cached as such too (a hash that did not
   exist never comes to exist: new tokens are random). A missing action, another action's token
   and a bad token all get the same 401.
2. The action's per-minute and per-hour limits (`narrative.platform.ratelimit.check`, atomic).
3. The plan's monthly execution quota: one Lua script on a per-workspace-month counter (check and
   INCR in one step); when the counter is missing (expired, Redis emptied) it is rebuilt from the
   executions table, which is the record.
4. Forward over the app's pooled keep-alive `SafeClient`: the body is streamed up (or sent at once
   when small) with a size cap (413), the response streamed back (or returned at once when small).
5. Record one execution per call, whatever happened, through the recorder (off the request path).
"""

import calendar
import functools
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from flask import Response, current_app, g, request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.wsgi import get_input_stream

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.caller import EXECUTION_TOKEN, Caller, current_caller
from narrative.platform.crypto import hash_secret
from narrative.platform.errors import ApiError, Forbidden, Unauthorized
from narrative.platform.models import new_id, utcnow
from narrative.platform.outbound import UnsafeUrl, UpstreamTimeout, UpstreamUnreachable, safe_client
from narrative.platform.ratelimit import MOVING_WINDOWS_LUA, enforce, moving_windows
from narrative.platform.redis import get_redis
from narrative.platform.tenancy import all_workspaces
from narrative.proxy.models import DEFAULT_PLANS, Action, Execution, ExecutionToken, Plan
from narrative.proxy.recorder import recorder_for
from narrative.proxy.service import ExecutionLimitReached, decrypt_headers

ENDPOINT = "proxy.execute_action"
TOKEN_PREFIX = "sxt_"
GRANT_KEY = "proxy:grant:"
GRANT_TTL = 30
TOMBSTONE = "revoked"
TOMBSTONE_TTL = 120
UNKNOWN = "unknown"
QUOTA_KEY = "proxy:executions:"
CHUNK = 64 * 1024
SMALL_BODY = 256 * 1024
DEFAULT_MAX_BODY = 64 * 1024 * 1024
DEFAULT_LOGGED_BODY = 2048

# Request headers passed on to the upstream (the caller's Authorization never is: it is our token).
FORWARDED_REQUEST_HEADERS = (
    "accept",
    "accept-encoding",
    "accept-language",
    "content-encoding",
    "content-type",
    "idempotency-key",
    "user-agent",
)
# Upstream response headers passed back; hop-by-hop and cookies stay with the upstream.
FORWARDED_RESPONSE_HEADERS = (
    "cache-control",
    "content-encoding",
    "content-language",
    "etag",
    "last-modified",
    "location",
    "retry-after",
)

UNAUTHORIZED_MESSAGE = "The execution token is missing or not valid for this action."


class ActionInactive(Forbidden):
    code = "action_inactive"
    message = "This action is paused; its owner can re-activate it."


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class UpstreamResponseTooLarge(ApiError):
    status = 502
    code = "upstream_response_too_large"


class TargetRefused(ApiError):
    status = 502
    code = "upstream_unreachable"
    message = "The action's target address is not allowed."


class _BodyTooLarge(Exception):
    """Raised from inside the upstream request body when the caller sends too much."""


@dataclass(frozen=True)
class Grant:
    """What a valid token may do: everything the proxy needs, without touching the database."""

    token_id: str
    action_id: str
    workspace_id: str
    target_url: str
    method: str
    headers_encrypted: str | None
    timeout_seconds: float
    rate_limit_rpm: int
    rate_limit_rph: int | None
    is_active: bool
    log_bodies: bool
    monthly_executions: int | None
    expires_at: float | None

    @property
    def rate_limit(self):
        limit = f"{self.rate_limit_rpm}/minute"
        return f"{limit};{self.rate_limit_rph}/hour" if self.rate_limit_rph else limit


# ---- authentication -----------------------------------------------------------------------------


def _bearer():
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value.startswith(TOKEN_PREFIX):
        return value
    return None


def resolve_execution_token():
    """The platform caller resolver for `sxt_` tokens; they are only valid on the proxy route."""
    raw = _bearer()
    if raw is None or request.endpoint != ENDPOINT:
        return None
    token_hash = hash_secret(raw)
    grant, cached = authenticate((request.view_args or {}).get("action_id"), token_hash)
    return Caller(
        kind=EXECUTION_TOKEN,
        workspace_id=uuid.UUID(grant.workspace_id),
        credential_id=grant.token_id,
        extra={"grant": grant, "cached": cached, "token_hash": token_hash},
    )


# Grants this process has seen, by token hash, with the exact text cached in Redis. Using one costs
# no round trip: the admission script compares that text with Redis' copy before it counts
# anything, so a revocation (tombstone) or an expired cache entry is noticed on the same call.
_known_grants = {}
_KNOWN_GRANTS_MAX = 4096


def authenticate(action_id, token_hash):
    """(Grant, its cached text or None) of the token with this hash for `action_id`; one 401 for
    every kind of refusal.

    The text is what the admission script checks; None means the grant was read from the database
    on this call (so there is nothing to check).
    """
    try:
        wanted = str(uuid.UUID(str(action_id)))
    except ValueError:
        raise Unauthorized(UNAUTHORIZED_MESSAGE) from None
    known = _known_grants.get(token_hash)
    if known is not None:
        grant, cached = known
    else:
        grant, cached = _grant_from_redis_or_database(token_hash)
    _check_usable(grant, wanted)
    return grant, cached


def _check_usable(grant, action_id):
    if grant is None or grant.action_id != action_id:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    if grant.expires_at is not None and grant.expires_at <= time.time():
        raise Unauthorized(UNAUTHORIZED_MESSAGE)


def _grant_from_redis_or_database(token_hash):
    redis = get_redis()
    key = GRANT_KEY + token_hash
    cached = redis.get(key)
    if cached == UNKNOWN:
        return None, None
    if cached and cached != TOMBSTONE:
        grant = Grant(**json.loads(cached))
        _remember(token_hash, grant, cached)
        return grant, cached
    grant = _load_grant(token_hash)
    if cached is None:
        # NX: never overwrite a tombstone written by a revocation meanwhile.
        value = UNKNOWN if grant is None else json.dumps(grant.__dict__)
        if redis.set(key, value, nx=True, ex=GRANT_TTL) and grant is not None:
            _remember(token_hash, grant, value)
    return grant, None


def _remember(token_hash, grant, cached):
    if len(_known_grants) >= _KNOWN_GRANTS_MAX:
        _known_grants.clear()
    _known_grants[token_hash] = (grant, cached)


def _forget(token_hash):
    _known_grants.pop(token_hash, None)


def _load_grant(token_hash):
    """One SELECT (token, action, workspace plan, plan limits); None for unusable tokens."""
    token, action = ExecutionToken.__table__.c, Action.__table__.c
    plan = Plan.__table__.c
    query = (
        sa.select(
            token.id,
            token.action_id,
            token.workspace_id,
            token.expires_at,
            token.revoked_at,
            action.target_url,
            action.method,
            action.headers_encrypted,
            action.timeout_seconds,
            action.rate_limit_rpm,
            action.rate_limit_rph,
            action.is_active,
            action.log_bodies,
            action.deleted_at,
            Workspace.plan,
            plan.key.label("plan_row"),
            plan.monthly_executions,
        )
        .join(Action.__table__, action.id == token.action_id)
        .join(Workspace, Workspace.id == token.workspace_id)
        .outerjoin(Plan.__table__, plan.key == Workspace.plan)
        .where(token.token_hash == token_hash)
    )
    # A credential lookup: the token names its workspace, which is not known before this query;
    # from then on the caller, and so the request's scope, is the token's workspace.
    with all_workspaces():
        row = db.session.execute(query).first()
    if row is None or row.revoked_at is not None or row.deleted_at is not None:
        return None
    if row.plan_row is not None:
        monthly = row.monthly_executions
    else:
        monthly = DEFAULT_PLANS.get(row.plan, DEFAULT_PLANS["free"])["monthly_executions"]
    return Grant(
        token_id=str(row.id),
        action_id=str(row.action_id),
        workspace_id=str(row.workspace_id),
        target_url=row.target_url,
        method=row.method,
        headers_encrypted=row.headers_encrypted,
        timeout_seconds=row.timeout_seconds,
        rate_limit_rpm=row.rate_limit_rpm,
        rate_limit_rph=row.rate_limit_rph,
        is_active=row.is_active,
        log_bodies=row.log_bodies,
        monthly_executions=monthly,
        expires_at=row.expires_at.timestamp() if row.expires_at else None,
    )


def forget_tokens(token_hashes):
    """After a revocation or an action change: tombstone the cached grants of these tokens."""
    redis = get_redis()
    pipe = redis.pipeline(transaction=False)
    for token_hash in token_hashes:
        pipe.set(GRANT_KEY + token_hash, TOMBSTONE, ex=TOMBSTONE_TTL)
    pipe.execute()


# ---- the monthly quota --------------------------------------------------------------------------

# A Lua function: count one execution on the month's counter KEYS unless it reached `ceiling`.
# Returns -2 when there is no counter yet (rebuilt from the executions table), -1 when the quota
# is used up, else the new count.
_TAKE_ONE_LUA = """
local function take_one(counter, ceiling)
  local current = redis.call('GET', counter)
  if not current then return -2 end
  if tonumber(current) >= tonumber(ceiling) then return -1 end
  return redis.call('INCR', counter)
end
"""

_TAKE_ONE = _TAKE_ONE_LUA + "return take_one(KEYS[1], ARGV[1])"

# The whole admission of a call in one round trip, atomically: the grant this process holds is
# still the cached one (else -3: stale, ask again), the action's rate limits have room, and the
# month's quota has room.
# KEYS: the grant's cache key, the month's counter, then the action's rate-limit windows.
# ARGV: the grant's cached text ("" to skip the check), the quota ceiling, now, then the windows'
# amount and seconds. Returns {admitted (1|0|-3), window stats, quota count (see take_one)}.
_ADMIT = (
    MOVING_WINDOWS_LUA
    + _TAKE_ONE_LUA
    + """
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-3, {}, 0} end
local windows, limits = {}, {}
for i = 3, #KEYS do windows[#windows + 1] = KEYS[i] end
for i = 4, #ARGV do limits[#limits + 1] = tonumber(ARGV[i]) end
local admitted, stats = 1, {}
if #windows > 0 then admitted, stats = moving_windows(windows, ARGV[3], limits) end
if admitted == 0 then return {0, stats, 0} end
return {1, stats, take_one(KEYS[2], ARGV[2])}
"""
)
STALE = -3


def _month_bounds(now):
    start = datetime(now.year, now.month, 1, tzinfo=UTC)
    days = calendar.monthrange(now.year, now.month)[1]
    end = start.timestamp() + days * 86400
    return start, int(end)


def quota_key(workspace_id, now=None):
    now = now or utcnow()
    return f"{QUOTA_KEY}{workspace_id}:{now:%Y-%m}"


def admit(grant, cached, token_hash):
    """Check the action's rate limits and take one execution of the month's quota, in one round trip.

    Returns the grant the call runs under: the one given, or a fresh one when the one this process
    held had gone stale (a revoked token is then refused with the one 401). Raises 403
    action_inactive, 429 rate_limited or 403 execution_limit_reached.
    """
    if not grant.is_active:
        raise ActionInactive()
    now = utcnow()
    counter = quota_key(grant.workspace_id, now)
    windows = moving_windows("proxy.action", grant.action_id, grant.rate_limit)
    keys = [GRANT_KEY + token_hash, counter] + (windows.keys if windows else [])
    arguments = [cached or "", _ceiling(grant)] + (windows.arguments if windows else [repr(time.time())])
    script = _script("narrative_proxy_admit", _ADMIT)
    admitted, stats, taken = script(keys=keys, args=arguments)
    if admitted == STALE:
        _forget(token_hash)
        fresh, _ = _grant_from_redis_or_database(token_hash)
        _check_usable(fresh, grant.action_id)
        # Read just now, so the second run skips the comparison (no loop if it changes again).
        return admit(fresh, None, token_hash)
    if windows is not None:
        enforce(windows.decision(admitted, stats))
    if taken == -2:
        taken = _take_after_rebuilding_counter(grant, counter, now)
    if taken < 0:
        raise ExecutionLimitReached(
            f"This workspace has used its {grant.monthly_executions} executions for this month.",
            extra={"limit": grant.monthly_executions},
        )
    return grant


def _ceiling(grant):
    return grant.monthly_executions if grant.monthly_executions is not None else 2**62


def _take_after_rebuilding_counter(grant, counter, now):
    """The month's counter was missing (expired, Redis emptied): rebuild it from the executions."""
    start, end = _month_bounds(now)
    # The request is scoped to the token's workspace, so this counts that workspace's executions.
    used = db.session.scalar(
        sa.select(sa.func.count()).where(Execution.counted.is_(True), Execution.created_at >= start)
    )
    redis = get_redis()
    # A week past the month's end: late readers still find it; then it goes by itself.
    redis.set(counter, used, nx=True, exat=end + 7 * 86400)
    return _script("narrative_proxy_quota", _TAKE_ONE)(keys=[counter], args=[_ceiling(grant)])


def _script(name, source):
    app = current_app._get_current_object()
    script = app.extensions.get(name)
    if script is None:
        script = app.extensions.setdefault(name, get_redis().register_script(source))
    return script


# ---- forwarding ---------------------------------------------------------------------------------


def _client():
    """The app's pooled keep-alive client for upstreams (one per process, thread-safe)."""
    app = current_app._get_current_object()
    client = app.extensions.get("narrative_proxy_client")
    if client is None or client.is_closed:
        client = safe_client(
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=200, keepalive_expiry=30)
        )
        app.extensions["narrative_proxy_client"] = client
    return client


@dataclass
class _Record:
    """The execution being recorded; becomes one row."""

    grant: Grant
    started: float
    method: str
    request_id: str | None
    created_at: datetime = field(default_factory=utcnow)
    counted: bool = False
    request_bytes: int = 0
    response_bytes: int = 0
    request_head: bytearray = field(default_factory=bytearray)
    response_head: bytearray = field(default_factory=bytearray)
    upstream_started: float | None = None
    upstream_ms: float | None = None

    def row(self, *, status_code, outcome, error=None):
        logged = self.grant.log_bodies
        return {
            "id": new_id(),
            "workspace_id": uuid.UUID(self.grant.workspace_id),
            "action_id": uuid.UUID(self.grant.action_id),
            "token_id": uuid.UUID(self.grant.token_id),
            "created_at": self.created_at,
            "method": self.method,
            "status_code": status_code,
            "outcome": outcome,
            "counted": self.counted,
            "duration_ms": round((time.perf_counter() - self.started) * 1000, 3),
            "upstream_ms": self.upstream_ms,
            "request_bytes": self.request_bytes,
            "response_bytes": self.response_bytes,
            "request_body": _text(self.request_head) if logged and self.request_head else None,
            "response_body": _text(self.response_head) if logged and self.response_head else None,
            "error": error,
            "request_id": self.request_id,
        }

    def keep(self, buffer, chunk, limit):
        if self.grant.log_bodies and len(buffer) < limit:
            buffer += chunk[: limit - len(buffer)]


def _text(data):
    # PostgreSQL text cannot hold NUL; a binary body is kept as readable as it gets.
    return bytes(data).decode("utf-8", errors="replace").replace("\x00", "\ufffd")


def handle(action_id):
    """The proxy view's body (see the module docstring)."""
    started = time.perf_counter()
    caller = current_caller()
    if caller is None or caller.kind != EXECUTION_TOKEN:
        raise Unauthorized(UNAUTHORIZED_MESSAGE)
    grant = caller.extra["grant"]
    config = current_app.config
    recorder = recorder_for(current_app._get_current_object())
    record = _Record(grant=grant, started=started, method=request.method, request_id=g.get("request_id"))
    try:
        max_body = config.get("PROXY_MAX_BODY_BYTES", DEFAULT_MAX_BODY)
        if (request.content_length or 0) > max_body:
            raise PayloadTooLarge(f"The request body is larger than {max_body} bytes.")
        grant = record.grant = admit(grant, caller.extra["cached"], caller.extra["token_hash"])
        record.counted = True
        return _forward(grant, record, recorder, config, max_body)
    except ApiError as error:
        if error.status == 413:
            record.request_bytes = max(record.request_bytes, request.content_length or 0)
        recorder.submit(record.row(status_code=error.status, outcome=error.code, error=error.message))
        raise


def _upstream_request(grant, record, config, max_body):
    headers = {name: request.headers[name] for name in FORWARDED_REQUEST_HEADERS if name in request.headers}
    headers["x-request-id"] = record.request_id or ""
    headers.update(decrypt_headers(grant.headers_encrypted))
    url = _parsed_url(grant.target_url)
    if request.query_string:
        url = grant.target_url + ("&" if "?" in grant.target_url else "?")
        url += request.query_string.decode("latin-1")
    logged = config.get("PROXY_LOGGED_BODY_BYTES", DEFAULT_LOGGED_BODY)
    length = request.content_length
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if length is None and chunked and not request.environ.get("wsgi.input_terminated"):
        # This server cannot tell where a chunked body ends; refusing beats forwarding nothing.
        raise ApiError("Send a Content-Length with the body.", status=411)
    stream = get_input_stream(request.environ, safe_fallback=True, max_content_length=None)
    if length is not None and length <= SMALL_BODY:
        content = _read_exactly(stream, length)
        record.request_bytes = len(content)
        record.keep(record.request_head, content, logged)
        if length:
            headers["content-length"] = str(len(content))
    else:
        if length is not None:
            headers["content-length"] = str(length)
        content = _stream_body(stream, record, max_body, logged)
    return url, headers, content, _timeouts(grant.timeout_seconds)


@functools.lru_cache(maxsize=1024)
def _parsed_url(url):
    """Targets are parsed once per process (httpx URLs are immutable, so sharing one is safe)."""
    return httpx.URL(url)


@functools.cache
def _timeouts(seconds):
    """httpcore's timeout extension for an action's timeout (connecting never waits over 5 s)."""
    return httpx.Timeout(seconds, connect=min(5.0, seconds)).as_dict()


def _read_exactly(stream, length):
    parts, remaining = [], length
    while remaining > 0:
        chunk = stream.read(min(remaining, CHUNK))
        if not chunk:
            break
        parts.append(chunk)
        remaining -= len(chunk)
    return b"".join(parts)


def _stream_body(stream, record, max_body, logged):
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            return
        record.request_bytes += len(chunk)
        if record.request_bytes > max_body:
            raise _BodyTooLarge()
        record.keep(record.request_head, chunk, logged)
        yield chunk


def _forward(grant, record, recorder, config, max_body):
    url, headers, content, timeout = _upstream_request(grant, record, config, max_body)
    client = _client()
    record.upstream_started = time.perf_counter()
    try:
        upstream = client.send_through(
            httpx.Request(
                grant.method, url, headers=headers, content=content, extensions={"timeout": timeout}
            )
        )
    except httpx.TimeoutException:
        raise UpstreamTimeout() from None
    except _BodyTooLarge:
        raise PayloadTooLarge(f"The request body is larger than {max_body} bytes.") from None
    except UnsafeUrl:
        raise TargetRefused() from None
    except ClientDisconnected:
        raise ApiError("The request body ended early.", status=400, code="client_disconnected") from None
    except (httpx.TransportError, UpstreamUnreachable):
        raise UpstreamUnreachable() from None
    return _respond(upstream, record, recorder, config)


def _response_headers(upstream):
    headers = [
        (name, upstream.headers[name]) for name in FORWARDED_RESPONSE_HEADERS if name in upstream.headers
    ]
    length = upstream.headers.get("content-length")
    if length is not None:
        headers.append(("Content-Length", length))
    return headers


def _respond(upstream, record, recorder, config):
    max_response = config.get("PROXY_MAX_RESPONSE_BYTES", DEFAULT_MAX_BODY)
    logged = config.get("PROXY_LOGGED_BODY_BYTES", DEFAULT_LOGGED_BODY)
    try:
        declared = int(upstream.headers.get("content-length", "-1"))
    except ValueError:
        declared = -1
    if declared > max_response:
        upstream.close()
        record.upstream_ms = _elapsed_ms(record.upstream_started)
        raise UpstreamResponseTooLarge(f"The upstream answered with more than {max_response} bytes.")
    outcome = "success" if upstream.status_code < 400 else "upstream_error"
    content_type = upstream.headers.get("content-type")
    if 0 <= declared <= SMALL_BODY:
        # Small answers (the common case) are read at once: no generator, one write. Raw bytes:
        # an encoded answer goes back as encoded, with its Content-Encoding.
        try:
            body = b"".join(upstream.iter_raw())
        except httpx.TimeoutException:
            raise UpstreamTimeout() from None
        except httpx.TransportError:
            raise UpstreamUnreachable("The upstream closed the connection mid-response.") from None
        finally:
            upstream.close()
        record.upstream_ms = _elapsed_ms(record.upstream_started)
        record.response_bytes = len(body)
        record.keep(record.response_head, body, logged)
        response = Response(body, status=upstream.status_code, headers=_response_headers(upstream))
        _set_content_type(response, content_type)
        recorder.submit(record.row(status_code=upstream.status_code, outcome=outcome))
        return response
    response = Response(
        _stream_response(upstream, record, recorder, outcome, max_response, logged),
        status=upstream.status_code,
        headers=_response_headers(upstream),
        direct_passthrough=True,
    )
    _set_content_type(response, content_type)
    return response


def _set_content_type(response, content_type):
    if content_type:
        response.headers["Content-Type"] = content_type
    else:
        response.headers.pop("Content-Type", None)


def _stream_response(upstream, record, recorder, outcome, max_response, logged):
    """Runs after the view returned (no app context): plain data and the recorder only."""
    error = None
    try:
        for chunk in upstream.iter_raw(CHUNK):
            record.response_bytes += len(chunk)
            if record.response_bytes > max_response:
                outcome, error = "upstream_response_too_large", "The upstream answer passed the size cap."
                return
            record.keep(record.response_head, chunk, logged)
            yield chunk
    except httpx.TimeoutException:
        outcome, error = "upstream_timeout", "The upstream stopped sending mid-response."
    except httpx.TransportError:
        outcome, error = "upstream_unreachable", "The upstream closed the connection mid-response."
    except GeneratorExit:
        outcome, error = "client_disconnected", "The caller went away before the end of the response."
        raise
    finally:
        upstream.close()
        record.upstream_ms = _elapsed_ms(record.upstream_started)
        recorder.submit(record.row(status_code=upstream.status_code, outcome=outcome, error=error))


def _elapsed_ms(since):
    return round((time.perf_counter() - since) * 1000, 3) if since is not None else None
