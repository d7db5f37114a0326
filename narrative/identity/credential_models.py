"""Credentials: refresh tokens (one row per issued token), single-use tokens and API keys.

Secrets are never stored: single-use tokens and API keys keep a SHA-256 of the raw value (they
carry 256 random bits, so a fast hash is right: there is nothing to brute-force). Refresh tokens
are signed JWTs; their row is keyed by the token's `jti` and records the rotation chain.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

# OneTimeToken.purpose
ACTIVATION = "activation"
INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
SESSION = "session"
IMPERSONATION = "impersonation"
MFA_CHALLENGE = "mfa_challenge"
TOKEN_PURPOSES = (ACTIVATION, INVITATION, PASSWORD_RESET, SESSION, IMPERSONATION, MFA_CHALLENGE)


class RefreshToken(IdMixin, db.Model):
    """One refresh token of a session. A session is a family: every rotation adds a row to it.

    Using a token sets `used_at` and `replaced_by`; presenting a token that is already used means
    it leaked, and the whole family is revoked (`revoked_at` on every row).
    """

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    family_id: Mapped[str] = mapped_column(sa.String(64), index=True, nullable=False)
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"))
    # The access token issued together with this refresh token (revoked with the family).
    access_jti: Mapped[str | None] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replaced_by: Mapped[str | None] = mapped_column(sa.String(64))
    # Who started the session as whom: set on impersonation sessions.
    impersonator_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    user_agent: Mapped[str | None] = mapped_column(sa.String(300))
    ip_address: Mapped[str | None] = mapped_column(sa.String(64))


class OneTimeToken(IdMixin, db.Model):
    """A single-use secret sent to someone (activation, invitation, reset, impersonation...)."""

    __tablename__ = "one_time_tokens"

    purpose: Mapped[str] = mapped_column(sa.String(30), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    data: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """An `sk_` key: only its SHA-256 is stored; `prefix` is what lists show to tell keys apart."""

    __tablename__ = "api_keys"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    # Permission names, module wildcards ("crm.*") or "*"; see narrative.identity.access.
    scopes: Mapped[list] = mapped_column(JSONType, default=list, nullable=False)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The key this one replaced (rotation); the old key is revoked when this one is created.
    rotated_from_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("api_keys.id", ondelete="SET NULL")
    )

    @property
    def is_usable(self):
        """Active, not revoked, not expired."""
        if not self.is_active or self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > utcnow()
