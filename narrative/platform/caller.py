"""Who is calling: the one question every layer asks of a request, answered once per request.

Identity (JWTs, `sk_` API keys) and the API proxy (`sxt_` execution tokens) register resolvers;
platform services (idempotency, rate limits, jobs, logs) only read `current_caller()`, so the
platform never imports a domain. A resolver returns a `Caller` when the request carries its kind
of credential, `None` when it carries none, and raises `Unauthorized` when the credential is
present but invalid (expired, revoked, malformed).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import g, has_request_context, request

USER = "user"
API_KEY = "api_key"
EXECUTION_TOKEN = "execution_token"


@dataclass(frozen=True)
class Caller:
    kind: str
    user_id: uuid.UUID | None = None
    workspace_id: uuid.UUID | None = None
    role: str | None = None
    credential_id: str | None = None  # the JWT's jti, the API key's or execution token's id
    scopes: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def key(self):
        """A stable name for this caller across its requests (idempotency and rate-limit keys)."""
        if self.kind == USER and self.user_id is not None:
            return f"user:{self.user_id}"
        return f"{self.kind}:{self.credential_id}"


Resolver = Callable[[], Caller | None]
_resolvers: list[Resolver] = []


def register_resolver(resolver):
    """Add a credential resolver (idempotent, so app factories can run more than once)."""
    if resolver not in _resolvers:
        _resolvers.append(resolver)
    return resolver


_UNRESOLVED = object()
_RESOLVING = object()
_ENVIRON_KEY = "narrative.caller"


def current_caller():
    """The authenticated caller of this request, or None for an anonymous one (cached per request)."""
    if not has_request_context():
        return None
    # Cached on the request, not on `g`: an app context (and its `g`) can outlive one request.
    cached = request.environ.get(_ENVIRON_KEY, _UNRESOLVED)
    if cached is _RESOLVING:
        raise RuntimeError(
            "a credential resolver asked for the caller: look credentials up in all_workspaces()"
        )
    if cached is not _UNRESOLVED:
        return cached
    request.environ[_ENVIRON_KEY] = _RESOLVING
    caller = None
    try:
        for resolver in _resolvers:
            caller = resolver()
            if caller is not None:
                break
    except BaseException:
        request.environ.pop(_ENVIRON_KEY, None)
        raise
    set_caller(caller)
    return caller


def set_caller(caller):
    """Make `caller` this request's caller (identity uses it when a request switches workspace)."""
    request.environ[_ENVIRON_KEY] = caller
    if caller is not None:
        # The access log line names the user and workspace of every request.
        g.user_id = caller.user_id
        g.workspace_id = caller.workspace_id


def caller_key():
    """The caller's key, or the client address for anonymous requests."""
    caller = current_caller()
    if caller is not None:
        return caller.key
    return f"ip:{request.remote_addr or 'unknown'}"
