"""Business rules of the API proxy's management side: actions, execution tokens, plan limits.

Services take keyword arguments and never commit: the request's unit of work does. Anything that
changes what the proxy may do with a token (an update, a deactivation, a revocation) drops the
proxy's cached view of that token once the transaction commits (`proxy.forget_tokens`).
"""

import json
import secrets
import urllib.parse
from functools import lru_cache

import sqlalchemy as sa
from cryptography.fernet import InvalidToken
from flask import current_app

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.crypto import fernet_for, hash_secret, mask_secret
from narrative.platform.errors import Forbidden, NotFound, ValidationFailed
from narrative.platform.models import utcnow
from narrative.platform.outbound import private_urls_allowed, validate_url
from narrative.platform.tenancy import get_or_404, resolve_reference
from narrative.platform.transactions import on_commit
from narrative.proxy.models import DEFAULT_PLANS, Action, ExecutionToken, Plan

TOKEN_PREFIX = "sxt_"
# Headers the proxy sets itself or that describe one hop: an action may not override them.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    }
)


class ActionLimitReached(Forbidden):
    code = "action_limit_reached"


class ExecutionLimitReached(Forbidden):
    code = "execution_limit_reached"


# ---- upstream headers: encrypted at rest, masked on the way out ---------------------------------


def _fernet():
    """Fernet key derived from SECRET_KEY (HMAC-SHA256 with a purpose label: the stored data's scheme)."""
    return fernet_for("narrative.proxy.upstream-headers", kdf="hmac")


def encrypt_headers(headers):
    if not headers:
        return None
    return _fernet().encrypt(json.dumps(headers, separators=(",", ":")).encode()).decode()


def decrypt_headers(ciphertext):
    if not ciphertext:
        return {}
    return dict(_decrypted(current_app.config["SECRET_KEY"], ciphertext))


@lru_cache(maxsize=1024)
def _decrypted(secret, ciphertext):
    """Decrypted once per process and ciphertext (the proxy's hot path asks on every call)."""
    try:
        return tuple(json.loads(_fernet().decrypt(ciphertext.encode())).items())
    except InvalidToken:
        # SECRET_KEY changed since the headers were saved: the action must be given them again.
        current_app.logger.error("proxy upstream headers cannot be decrypted (SECRET_KEY changed?)")
        return ()


def _validated_headers(headers):
    details = []
    for name, value in headers.items():
        if name.lower() in RESERVED_HEADERS:
            details.append({"field": f"headers.{name}", "message": "This header is set by the proxy."})
        elif value is not None and ("\n" in str(value) or "\r" in str(value)):
            details.append({"field": f"headers.{name}", "message": "A header value is one line."})
    if details:
        raise ValidationFailed(details=details)


def _write_headers(action, headers):
    action.headers_encrypted = encrypt_headers(headers)
    action.headers_preview = {name: mask_secret(value) for name, value in headers.items()}


def _merge_headers(action, changes):
    """PATCH semantics: a name set to null is removed; a masked value sent back keeps the secret."""
    current = decrypt_headers(action.headers_encrypted)
    preview = action.headers_preview or {}
    for name, value in changes.items():
        existing = next((key for key in current if key.lower() == name.lower()), None)
        if value is None:
            current.pop(existing, None)
            continue
        if existing is not None and value == preview.get(existing):
            continue  # a client echoed the masked preview back: not a new secret
        if existing is not None:
            current.pop(existing)
        current[name] = value
    return current


# ---- target URLs --------------------------------------------------------------------------------


def check_target_url(url, *, field="target_url"):
    """HTTPS only (http:// too when private URLs are allowed), and never an internal address."""
    scheme = urllib.parse.urlsplit(url or "").scheme.lower()
    if scheme != "https" and not (scheme == "http" and private_urls_allowed()):
        raise ValidationFailed(details=[{"field": field, "message": "must be a valid HTTPS URL"}])
    validate_url(url, field=field)
    return url


# ---- plans --------------------------------------------------------------------------------------


def plan_limits(workspace_id):
    """{"key", "max_active_actions", "monthly_executions"} of the workspace's plan."""
    plan_key = db.session.scalar(sa.select(Workspace.plan).where(Workspace.id == workspace_id)) or "free"
    row = db.session.get(Plan, plan_key)
    if row is None and plan_key not in DEFAULT_PLANS:
        plan_key, row = "free", db.session.get(Plan, "free")
    if row is not None:
        return {
            "key": row.key,
            "max_active_actions": row.max_active_actions,
            "monthly_executions": row.monthly_executions,
        }
    defaults = DEFAULT_PLANS[plan_key]
    return {"key": plan_key, **{k: v for k, v in defaults.items() if k != "name"}}


def ensure_default_plans():
    """Write the built-in plan rows if missing (idempotent; used by the demo seed)."""
    for key, values in DEFAULT_PLANS.items():
        if db.session.get(Plan, key) is None:
            db.session.add(Plan(key=key, **values))


def _check_active_action_room(workspace_id, *, excluding=None):
    # Lock the workspace row so two concurrent creates cannot both take the last slot (PostgreSQL).
    db.session.execute(sa.select(Workspace.id).where(Workspace.id == workspace_id).with_for_update())
    limit = plan_limits(workspace_id)["max_active_actions"]
    if limit is None:
        return
    query = (
        sa.select(sa.func.count())
        .select_from(Action)
        .where(Action.is_active.is_(True), Action.deleted_at.is_(None))
    )
    if excluding is not None:
        query = query.where(Action.id != excluding)
    if db.session.scalar(query) >= limit:
        raise ActionLimitReached(
            f"Your plan allows {limit} active actions; deactivate or delete one, or upgrade.",
            extra={"limit": limit},
        )


# ---- actions ------------------------------------------------------------------------------------


def create_action(*, workspace_id, created_by_id, data):
    check_target_url(data["target_url"])
    headers = data.get("headers") or {}
    _validated_headers(headers)
    is_active = data.get("is_active", True)
    if is_active:
        _check_active_action_room(workspace_id)
    action = Action(
        workspace_id=workspace_id,
        created_by_id=created_by_id,
        name=data["name"],
        description=data.get("description"),
        target_url=data["target_url"],
        method=data.get("method", "POST"),
        timeout_seconds=data.get("timeout_seconds", 30.0),
        rate_limit_rpm=data.get("rate_limit_rpm", 60),
        rate_limit_rph=data.get("rate_limit_rph"),
        is_active=is_active,
        log_bodies=data.get("log_bodies", True),
    )
    _write_headers(action, headers)
    db.session.add(action)
    db.session.flush()
    return action


def update_action(*, action, changes):
    if "target_url" in changes:
        check_target_url(changes["target_url"])
    if "headers" in changes:
        headers = changes.pop("headers") or {}
        _validated_headers(headers)
        _write_headers(action, _merge_headers(action, headers))
    if changes.get("is_active") and not action.is_active:
        _check_active_action_room(action.workspace_id, excluding=action.id)
    for name, value in changes.items():
        setattr(action, name, value)
    db.session.flush()
    _forget_action_tokens(action.id)
    return action


def delete_action(*, action):
    """Soft delete: the action stops answering and leaves lists; its executions stay readable."""
    action.deleted_at = utcnow()
    action.is_active = False
    now = utcnow()
    for token in _live_tokens(action.id):
        token.revoked_at = now
    db.session.flush()
    _forget_action_tokens(action.id)


def get_live_action_or_404(action_id, *, include_deleted=False):
    """The path's action in the current workspace; a deleted one is 404 unless `include_deleted`."""
    action = get_or_404(Action, action_id, message="Action not found.")
    if action.deleted_at is not None and not include_deleted:
        raise NotFound("Action not found.")
    return action


def live_action_reference(action_id, *, field="action_id"):
    """An action named in a payload: 422 naming the field when unknown, foreign or deleted."""
    message = f"Action {action_id} does not exist in this workspace."
    action = resolve_reference(Action, action_id, field=field, message=message)
    if action.deleted_at is not None:
        raise ValidationFailed(details=[{"field": field, "message": message}])
    return action


# ---- execution tokens ---------------------------------------------------------------------------


def new_raw_token():
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(*, action, created_by_id=None, label=None, expires_at=None, rotated_from_id=None):
    """A new token for `action`; returns (row, raw). The raw value is never stored."""
    if action.deleted_at is not None:
        raise NotFound("Action not found.")
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed(details=[{"field": "expires_at", "message": "must be in the future"}])
    raw = new_raw_token()
    token = ExecutionToken(
        workspace_id=action.workspace_id,
        action_id=action.id,
        label=label,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=hash_secret(raw),
        expires_at=expires_at,
        rotated_from_id=rotated_from_id,
        created_by_id=created_by_id,
    )
    db.session.add(token)
    db.session.flush()
    return token, raw


def revoke_token(*, token):
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.flush()
    _forget_hashes([token.token_hash])
    return token


def rotate_token(*, action, created_by_id=None, token_id=None, label=None, expires_at=None):
    """Revoke the action's live token(s) (or just `token_id`) and issue one new token.

    Returns (new row, raw, [revoked ids]).
    """
    live = _live_tokens(action.id)
    if token_id is not None:
        message = f"Token {token_id} is not a live token of this action."
        chosen = resolve_reference(ExecutionToken, token_id, field="token_id", message=message)
        live = [token for token in live if token.id == chosen.id]
        if not live:
            raise ValidationFailed(details=[{"field": "token_id", "message": message}])
    now = utcnow()
    for token in live:
        token.revoked_at = now
    previous = live[0] if live else None
    token, raw = create_token(
        action=action,
        created_by_id=created_by_id,
        label=label if label is not None else (previous.label if previous else None),
        expires_at=expires_at,
        rotated_from_id=previous.id if previous else None,
    )
    _forget_hashes([t.token_hash for t in live])
    return token, raw, [t.id for t in live]


def _live_tokens(action_id):
    return db.session.scalars(
        sa.select(ExecutionToken).where(
            ExecutionToken.action_id == action_id, ExecutionToken.revoked_at.is_(None)
        )
    ).all()


def _forget_action_tokens(action_id):
    hashes = db.session.scalars(
        sa.select(ExecutionToken.token_hash).where(ExecutionToken.action_id == action_id)
    ).all()
    _forget_hashes(hashes)


def _forget_hashes(hashes):
    from narrative.proxy.proxy import forget_tokens

    hashes = list(hashes)
    if hashes:
        on_commit(lambda: forget_tokens(hashes))
