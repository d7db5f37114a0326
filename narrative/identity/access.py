"""Who may call what: the credential resolver, the one `require` decorator and the current_* helpers.

Credentials (resolved once per request by `resolve_caller`, registered with the platform):

- `Authorization: Bearer <access JWT>` -> Caller(kind "user", user_id, workspace_id, role,
  credential_id=jti). The workspace is the token's, or the `x-workspace-id` header's after a
  membership check. Any workspace the caller is not an active member of (existing or not, or a
  malformed id) is the same 403 `not_a_member`, so the answer never reveals whether it exists.
  The role is re-read from the membership on every request, so a role change or a removal takes
  effect at once, not when the access token expires.
- `Authorization: Bearer sk_...` or `X-API-Key: sk_...` -> Caller(kind "api_key", user_id=the
  key's owner, workspace_id=the key's workspace, role=the owner's role, scopes,
  credential_id=key id). `sxt_` tokens belong to the API proxy's resolver.

`require(permission)` goes above the flask-smorest argument/response decorators, so it runs
before the body is parsed and before any work::

    @blp.route("/api/v1/teams", methods=["POST"])
    @blp.operation("core.teams.create")
    @require("teams.manage")
    @blp.arguments(TeamCreateSchema)
    @blp.response(201, TeamSchema)
    def create_team(payload): ...

No credential: 401. A user: active membership of the caller's workspace and the role's grant.
An API key: its scopes ("*", the permission, or "<module>.*") AND its owner's role must allow it,
so a key never does more than the person who made it.
"""

import dataclasses
import uuid
from copy import deepcopy
from functools import wraps

from flask import request

from narrative.extensions import db, jwt
from narrative.identity import permissions
from narrative.identity.credential_models import ApiKey
from narrative.identity.models import Member, User, Workspace
from narrative.identity.tokens import (
    InvalidToken,
    TokenExpired,
    TokenRevoked,
    check_access_claims,
    decode_jwt,
    hash_secret,
)
from narrative.platform.caller import API_KEY, USER, Caller, current_caller, register_resolver, set_caller
from narrative.platform.errors import Forbidden, Unauthorized, error_response
from narrative.platform.models import parse_uuid, utcnow
from narrative.platform.redis import get_redis
from narrative.platform.tenancy import WorkspaceRequired, all_workspaces

API_KEY_PREFIX = "sk_"
EXECUTION_TOKEN_PREFIX = "sxt_"
WORKSPACE_HEADER = "X-Workspace-Id"
API_KEY_TOUCH_KEY = "identity:api-key-touched:"
API_KEY_TOUCH_SECONDS = 60

_MEMBER_CACHE = "_identity_member"
_USER_CACHE = "_identity_user"


def _request_cache():
    """Per-request memo of the user and member (on the request: an app context may span requests)."""
    return request.environ.setdefault("narrative.identity", {})


class NotAMember(Forbidden):
    code = "not_a_member"
    message = "You are not a member of this workspace."


class InvalidApiKey(Unauthorized):
    code = "invalid_api_key"
    message = "The API key is not valid, or has been revoked or disabled."


class MissingPermission(Forbidden):
    def __init__(self, permission, *, api_key=False):
        whose = "This API key's scopes do not" if api_key else "Your role does not"
        super().__init__(
            f"{whose} include the '{permission}' permission.", extra={"required_permission": permission}
        )


# --- resolving the caller -----------------------------------------------------------------------


def _presented_credential():
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    api_key = request.headers.get("X-API-Key", "").strip()
    return api_key or None


def resolve_caller():
    """The platform's resolver for JWTs and `sk_` keys (None when neither is presented)."""
    raw = _presented_credential()
    if raw is None or raw.startswith(EXECUTION_TOKEN_PREFIX):
        return None
    if raw.startswith(API_KEY_PREFIX):
        return _api_key_caller(raw)
    return _jwt_caller(raw)


def _jwt_caller(raw):
    claims = decode_jwt(raw, expected_type="access")
    check_access_claims(claims)
    try:
        user_id = uuid.UUID(claims["sub"])
    except (KeyError, ValueError):
        raise InvalidToken() from None
    workspace_id = parse_uuid(claims.get("workspace"))
    requested = request.headers.get(WORKSPACE_HEADER)
    if requested:
        member = _active_member(parse_uuid(requested), user_id)
        if member is None:
            raise NotAMember()
    else:
        member = _active_member(workspace_id, user_id) if workspace_id else None
    _request_cache().setdefault(_MEMBER_CACHE, member)
    return Caller(
        kind=USER,
        user_id=user_id,
        workspace_id=member.workspace_id if member else None,
        role=member.role if member else None,
        credential_id=claims["jti"],
        scopes=("*",),
        extra={
            "session_id": claims.get("sid"),
            "expires_at": claims.get("exp"),
            "impersonator": claims.get("act"),
        },
    )


def _api_key_caller(raw):
    with all_workspaces():  # the key names its workspace: it is not known before this lookup
        key = db.session.scalar(db.select(ApiKey).filter_by(key_hash=hash_secret(raw)))
    if key is None or not key.is_usable:
        raise InvalidApiKey()
    member = _active_member(key.workspace_id, key.user_id)
    if member is None or not member.user.is_active:
        raise InvalidApiKey()
    requested = request.headers.get(WORKSPACE_HEADER)
    if requested and parse_uuid(requested) != key.workspace_id:
        raise NotAMember("This API key belongs to another workspace.")
    _request_cache().setdefault(_MEMBER_CACHE, member)
    _touch_api_key(key)
    return Caller(
        kind=API_KEY,
        user_id=key.user_id,
        workspace_id=key.workspace_id,
        role=member.role,
        credential_id=str(key.id),
        scopes=tuple(key.scopes or ()),
    )


def _touch_api_key(key):
    """Record last use at most once a minute per key (a Redis flag spares the database)."""
    if not get_redis().set(API_KEY_TOUCH_KEY + str(key.id), "1", nx=True, ex=API_KEY_TOUCH_SECONDS):
        return
    # Its own short transaction: the request's session may never commit (a GET).
    with db.engine.begin() as connection:
        connection.execute(db.update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=utcnow()))


def _active_member(workspace_id, user_id):
    if workspace_id is None or user_id is None:
        return None
    # Resolving the caller: the membership decides which workspace is in scope.
    with all_workspaces():
        return db.session.scalar(
            db.select(Member)
            .join(Workspace, Workspace.id == Member.workspace_id)
            .where(
                Member.workspace_id == workspace_id,
                Member.user_id == user_id,
                Member.status == "active",
                Workspace.deleted_at.is_(None),
            )
        )


def switch_workspace(workspace_id):
    """Make `workspace_id` (e.g. a `workspace_id` query argument) the request's workspace.

    Same rule as the header: a membership check, 403 `not_a_member` otherwise. API keys keep
    their own workspace. Returns the updated Caller.
    """
    caller = require_caller()
    target = parse_uuid(workspace_id)
    if target == caller.workspace_id:
        return caller
    if caller.kind != USER:
        raise NotAMember("This API key belongs to another workspace.")
    member = _active_member(target, caller.user_id)
    if member is None:
        raise NotAMember()
    caller = dataclasses.replace(caller, workspace_id=member.workspace_id, role=member.role)
    set_caller(caller)
    _request_cache()[_MEMBER_CACHE] = member
    return caller


# --- current_* helpers --------------------------------------------------------------------------


def current_caller_or_none():
    return current_caller()


def require_caller():
    caller = current_caller()
    if caller is None:
        raise Unauthorized()
    return caller


def current_user():
    """The User behind the request (an API key's owner for keys), or None when anonymous."""
    caller = current_caller()
    if caller is None or caller.user_id is None:
        return None
    user = _request_cache().get(_USER_CACHE)
    if user is None or user.id != caller.user_id:
        user = db.session.get(User, caller.user_id)
        _request_cache()[_USER_CACHE] = user
    return user


def current_user_id():
    """The id of the user behind the request (an API key's owner for keys), None when anonymous.

    Read from the caller: no need to load the User row for its id.
    """
    caller = current_caller()
    return caller.user_id if caller is not None else None


def current_workspace():
    caller = current_caller()
    if caller is None or caller.workspace_id is None:
        return None
    return db.session.get(Workspace, caller.workspace_id)


def current_member():
    """The caller's active membership of the request's workspace, or None."""
    caller = current_caller()
    if caller is None or caller.workspace_id is None:
        return None
    member = _request_cache().get(_MEMBER_CACHE)
    if member is None or member.workspace_id != caller.workspace_id or member.user_id != caller.user_id:
        member = _active_member(caller.workspace_id, caller.user_id)
        _request_cache()[_MEMBER_CACHE] = member
    return member


def current_permissions():
    """Permission names the caller holds in the request's workspace (keys: scopes applied)."""
    caller = current_caller()
    member = current_member()
    if caller is None or member is None:
        return frozenset()
    granted = permissions.role_permissions(workspace_id=member.workspace_id, role=member.role)
    if caller.kind == API_KEY:
        granted = frozenset(p for p in granted if permissions.scope_allows(caller.scopes, p))
    return granted


def has_permission(permission):
    caller = current_caller()
    member = current_member()
    if caller is None or member is None:
        return False
    if caller.kind == API_KEY and not permissions.scope_allows(caller.scopes, permission):
        return False
    return permissions.role_has(workspace_id=member.workspace_id, role=member.role, permission=permission)


def check_permission(permission):
    """Raise 401/403 unless the caller holds `permission` in the request's workspace."""
    caller = require_caller()
    if caller.workspace_id is None:
        raise WorkspaceRequired()
    member = current_member()
    if member is None:
        raise NotAMember()
    if caller.kind == API_KEY and not permissions.scope_allows(caller.scopes, permission):
        raise MissingPermission(permission, api_key=True)
    if not permissions.role_has(workspace_id=member.workspace_id, role=member.role, permission=permission):
        raise MissingPermission(permission)
    return caller


# --- the decorator ------------------------------------------------------------------------------

_SECURED = [{"bearerAuth": []}, {"apiKey": []}]


def require(permission=None, *, public=False, platform_admin=False):
    """The one access decorator of every endpoint (see the module docstring).

    - `public=True`: anyone (still resolves a credential if one is sent; an invalid one is a 401).
    - `permission=None`: any authenticated caller (user or API key).
    - `platform_admin=True`: a platform administrator's user session.
    """

    def decorator(view):
        @wraps(view)
        def guarded(*args, **kwargs):
            if public:
                return view(*args, **kwargs)
            caller = require_caller()
            if platform_admin:
                user = current_user()
                if caller.kind != USER or user is None or not user.is_platform_admin:
                    raise Forbidden("Only platform administrators may do this.")
            if permission is not None:
                check_permission(permission)
            return view(*args, **kwargs)

        guarded._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        _document(guarded._apidoc, permission=permission, public=public, platform_admin=platform_admin)
        guarded._required_permission = permission
        guarded._public = public
        return guarded

    return decorator


def _document(apidoc, *, permission, public, platform_admin):
    manual = apidoc.setdefault("manual_doc", {})
    if public:
        manual["security"] = []
        return
    manual["security"] = [{"bearerAuth": []}] if platform_admin else list(_SECURED)
    if permission:
        manual["x-permission"] = permission
    responses = apidoc.setdefault("response", {}).setdefault("responses", {})
    responses.setdefault(401, []).append("UNAUTHORIZED")
    if permission or platform_admin:
        responses.setdefault(403, []).append("FORBIDDEN")


# --- flask-jwt-extended's own callbacks, in the one error format --------------------------------


@jwt.expired_token_loader
def _expired(_header, _payload):
    return error_response(401, TokenExpired.code, TokenExpired.message)


@jwt.invalid_token_loader
def _invalid(_reason):
    return error_response(401, InvalidToken.code, InvalidToken.message)


@jwt.revoked_token_loader
def _revoked(_header, _payload):
    return error_response(401, TokenRevoked.code, TokenRevoked.message)


@jwt.unauthorized_loader
def _missing(_reason):
    return error_response(401, "unauthorized", Unauthorized.message)


@jwt.token_in_blocklist_loader
def _is_revoked(_header, payload):
    try:
        check_access_claims(payload)
    except TokenRevoked:
        return True
    return False


def register():
    """Wire identity's credential resolver into the platform (idempotent)."""
    register_resolver(resolve_caller)
