"""Sessions: short-lived access JWTs, rotating refresh tokens, revocation, single-use tokens.

A session is a *family* of refresh tokens (the family id travels in every access token as `sid`).

- Access token (flask-jwt-extended): `sub` user id, `workspace`, `role`, `sid`, `jti`; lives
  `JWT_ACCESS_TOKEN_EXPIRES` seconds.
- Refresh token: a JWT of type "refresh" whose `jti` keys a `RefreshToken` row. Every use rotates
  it (the row gets `used_at` and `replaced_by`, a new row joins the family). Presenting a used
  token again means it was stolen: the whole family is revoked, access tokens included.
- Revocation lives in Redis, keys expiring when the tokens they refuse would have expired anyway:
  `identity:revoked:jti:<jti>` (one access token, e.g. after logout) and
  `identity:revoked:sid:<family>` (every access token of a session). Checking an access token is
  one MGET, no database query.
- Revoking every session of a user (password change or reset, disabling) revokes each of their
  live families and stamps `User.sessions_valid_after`, which refresh also checks.

Single-use tokens (activation, invitation, password reset, impersonation...) are random strings;
only their SHA-256 is stored (`OneTimeToken`), they expire and `consume_one_time_token` spends
them once.
"""

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt as pyjwt
from flask import current_app, has_request_context, request
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from narrative.extensions import db
from narrative.identity.credential_models import TOKEN_PURPOSES, OneTimeToken, RefreshToken
from narrative.platform import unit_of_work
from narrative.platform.crypto import hash_secret
from narrative.platform.errors import ApiError, Unauthorized
from narrative.platform.models import utcnow
from narrative.platform.redis import get_redis

REVOKED_JTI = "identity:revoked:jti:"
REVOKED_SESSION = "identity:revoked:sid:"
# Clocks of web nodes differ a little; revocation keys outlive the tokens by this margin.
REVOCATION_MARGIN_SECONDS = 60


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "The token has expired."


class InvalidToken(Unauthorized):
    code = "invalid_token"
    message = "The token is not valid."


class TokenRevoked(Unauthorized):
    code = "token_revoked"
    message = "The token has been revoked."


class InvalidOneTimeToken(ApiError):
    """A link token that is unknown, used or expired: one answer for all three."""

    status = 400
    code = "invalid_token"
    message = "This link is invalid or has expired."


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    session_id: str
    user_id: uuid.UUID
    workspace_id: uuid.UUID | None
    role: str | None
    token_type: str = "bearer"


def _access_lifetime():
    value = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def _refresh_lifetime():
    value = current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    return int(value.total_seconds()) if isinstance(value, timedelta) else int(value)


def _client_details():
    if not has_request_context():
        return None, None
    return (request.user_agent.string or "")[:300] or None, request.remote_addr


def issue_tokens(*, user, workspace_id=None, role=None, family_id=None, impersonator_id=None):
    """A new access + refresh token pair; a new session unless `family_id` continues one."""
    family_id = family_id or uuid.uuid4().hex
    claims = {"workspace": str(workspace_id) if workspace_id else None, "role": role, "sid": family_id}
    if impersonator_id is not None:
        claims["act"] = str(impersonator_id)
    access_token = create_access_token(identity=str(user.id), additional_claims=claims)
    refresh_token = create_refresh_token(identity=str(user.id), additional_claims={"sid": family_id})
    user_agent, ip_address = _client_details()
    db.session.add(
        RefreshToken(
            jti=_unverified_jti(refresh_token),
            family_id=family_id,
            user_id=user.id,
            workspace_id=workspace_id,
            access_jti=_unverified_jti(access_token),
            expires_at=utcnow() + timedelta(seconds=_refresh_lifetime()),
            impersonator_id=impersonator_id,
            user_agent=user_agent,
            ip_address=ip_address,
        )
    )
    db.session.flush()
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=_access_lifetime(),
        session_id=family_id,
        user_id=user.id,
        workspace_id=workspace_id,
        role=role,
    )


def _unverified_jti(token):
    # Only for tokens we have just signed ourselves.
    return pyjwt.decode(token, options={"verify_signature": False})["jti"]


# Claims every token we issue carries. pyjwt checks `exp` only when it is present and
# flask-jwt-extended fills a missing `jti` with None, so without this a token signed with our key
# but lacking them would never expire (or could not be revoked).
REQUIRED_CLAIMS = ("exp", "jti")


def decode_jwt(token, *, expected_type):
    """Verify signature, expiry, required claims and type; raise TokenExpired / InvalidToken."""
    try:
        claims = decode_token(token)
    except pyjwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except Exception:  # any decoding problem: bad signature, malformed, missing claims
        raise InvalidToken() from None
    if any(claims.get(name) is None for name in REQUIRED_CLAIMS):
        raise InvalidToken()
    if claims.get("type") != expected_type:
        raise InvalidToken()
    return claims


def check_access_claims(claims):
    """Refuse an access token whose own jti or whole session has been revoked."""
    revoked = get_redis().mget(REVOKED_JTI + claims["jti"], REVOKED_SESSION + str(claims.get("sid")))
    if any(value is not None for value in revoked):
        raise TokenRevoked()


def rotate_refresh_token(*, refresh_token, resolve_role):
    """Spend a refresh token and return the next pair of the same session.

    `resolve_role(user, workspace_id) -> (workspace_id, role)` re-reads the membership, so a new
    access token carries the current role (or drops a workspace the user has left).
    """
    from narrative.identity.models import User

    claims = decode_jwt(refresh_token, expected_type="refresh")
    row = db.session.scalar(db.select(RefreshToken).filter_by(jti=claims["jti"]))
    if row is None:
        raise InvalidToken()
    if row.revoked_at is not None:
        raise TokenRevoked()
    if row.used_at is not None:
        # A spent token came back: someone else holds a copy. End the whole session.
        _revoke_refused_family(row.family_id)
        raise TokenRevoked("This refresh token was already used; the session has been ended for safety.")
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or _before(row.created_at, user.sessions_valid_after):
        _revoke_refused_family(row.family_id)
        raise TokenRevoked()
    # Spent with a conditional UPDATE, so of two concurrent uses only one wins; the other is a reuse.
    spent = db.session.execute(
        db.update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None), RefreshToken.revoked_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        _revoke_refused_family(row.family_id)
        raise TokenRevoked("This refresh token was already used; the session has been ended for safety.")
    workspace_id, role = resolve_role(user, row.workspace_id)
    pair = issue_tokens(
        user=user,
        workspace_id=workspace_id,
        role=role,
        family_id=row.family_id,
        impersonator_id=row.impersonator_id,
    )
    row.replaced_by = _unverified_jti(pair.refresh_token)
    # The access token of the spent pair retires with it.
    _block_jti(row.access_jti)
    return pair


def _revoke_refused_family(family_id):
    """Revoke a session while refusing the request: the revocation must outlive its rollback."""
    with unit_of_work.independent_transaction() as session:
        revoke_family(family_id=family_id, session=session)


def _before(moment, limit):
    return limit is not None and moment < limit


def _block_jti(jti, ttl=None):
    if jti:
        get_redis().set(REVOKED_JTI + jti, "1", ex=ttl or _access_lifetime() + REVOCATION_MARGIN_SECONDS)


def revoke_family(*, family_id, session=None):
    """End one session: every refresh token of the family, every access token carrying its sid.

    `session`: another session than the request's (an independent transaction).
    """
    now = utcnow()
    (session or db.session).execute(
        db.update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    get_redis().set(REVOKED_SESSION + family_id, "1", ex=_access_lifetime() + REVOCATION_MARGIN_SECONDS)


def revoke_access_token(*, jti, expires_at=None):
    """Refuse one access token from now on (TTL: its remaining life)."""
    ttl = None
    if expires_at is not None:
        ttl = max(1, int(expires_at - utcnow().timestamp())) + REVOCATION_MARGIN_SECONDS
    _block_jti(jti, ttl)


def revoke_all_sessions(*, user):
    """Every session of the user ends now; tokens issued before this instant are refused."""
    user.sessions_valid_after = utcnow()
    families = db.session.scalars(
        db.select(RefreshToken.family_id)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .distinct()
    ).all()
    for family_id in families:
        revoke_family(family_id=family_id)


def active_session_ids(*, user_id):
    """Family ids of the user's sessions that can still be refreshed."""
    return set(
        db.session.scalars(
            db.select(RefreshToken.family_id).where(
                RefreshToken.user_id == user_id,
                RefreshToken.revoked_at.is_(None),
                RefreshToken.used_at.is_(None),
                RefreshToken.expires_at > utcnow(),
            )
        ).all()
    )


# --- single-use tokens --------------------------------------------------------------------------


def create_one_time_token(
    *, purpose, expires_in, user_id=None, workspace_id=None, data=None, created_by_id=None, session=None
):
    """Returns (row, raw token); the raw token goes in a link and is never stored.

    `session`: another session than the request's (an independent transaction).
    """
    if purpose not in TOKEN_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    raw = secrets.token_urlsafe(32)
    row = OneTimeToken(
        purpose=purpose,
        token_hash=hash_secret(raw),
        user_id=user_id,
        workspace_id=workspace_id,
        created_by_id=created_by_id,
        data=dict(data or {}),
        expires_at=utcnow() + timedelta(seconds=expires_in),
    )
    session = session or db.session
    session.add(row)
    session.flush()
    return row, raw


def peek_one_time_token(*, purpose, raw):
    """The valid (unused, unexpired) token row for `raw`, without spending it; else raises 400."""
    if not raw or not isinstance(raw, str):
        raise InvalidOneTimeToken()
    row = db.session.scalar(db.select(OneTimeToken).filter_by(token_hash=hash_secret(raw), purpose=purpose))
    if row is None or row.used_at is not None or row.expires_at <= utcnow():
        raise InvalidOneTimeToken()
    return row


def consume_one_time_token(*, purpose, raw):
    """Spend a token exactly once (a conditional UPDATE, so two concurrent uses cannot both win)."""
    row = peek_one_time_token(purpose=purpose, raw=raw)
    spent = db.session.execute(
        db.update(OneTimeToken)
        .where(OneTimeToken.id == row.id, OneTimeToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise InvalidOneTimeToken()
    db.session.refresh(row)
    return row


def expire_one_time_tokens(*, purpose, user_id):
    """Spend every outstanding token of a purpose for a user (a new reset link voids older ones)."""
    db.session.execute(
        db.update(OneTimeToken)
        .where(
            OneTimeToken.purpose == purpose,
            OneTimeToken.user_id == user_id,
            OneTimeToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
