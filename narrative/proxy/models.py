"""The API proxy's tables: plans, actions, execution tokens and the executions log.

An action is one upstream endpoint a workspace exposes through `/x/{action_id}`; an execution
token (`sxt_...`, stored only as its SHA-256) lets a third party call exactly that action; every
call through the proxy leaves one execution row. Plans hold the limits (active actions, monthly
executions) so a paid plan raises them by data, not by code.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, new_id, utcnow
from narrative.platform.tenancy import WorkspaceScoped

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# What the free plan allows when no plan row says otherwise (the seed's numbers).
DEFAULT_PLANS = {
    "free": {"name": "Free", "max_active_actions": 5, "monthly_executions": 300},
}


class Plan(TimestampMixin, db.Model):
    """Limits of one plan, keyed like `Workspace.plan`; a NULL limit means unlimited."""

    __tablename__ = "proxy_plans"

    key: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    max_active_actions: Mapped[int | None] = mapped_column(sa.Integer)
    monthly_executions: Mapped[int | None] = mapped_column(sa.Integer)


class Action(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """One upstream endpoint, its secret headers (encrypted) and its rate limits."""

    __tablename__ = "proxy_actions"
    __display_name__ = "Action"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    target_url: Mapped[str] = mapped_column(sa.String(2048), nullable=False)
    method: Mapped[str] = mapped_column(sa.String(10), default="POST", nullable=False)
    # Fernet token of the JSON {name: value}; the clear values never leave the service layer.
    headers_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    # {name: masked value}, computed when the headers are written, so reads never decrypt.
    headers_preview: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    timeout_seconds: Mapped[float] = mapped_column(sa.Float, default=30.0, nullable=False)
    rate_limit_rpm: Mapped[int] = mapped_column(sa.Integer, default=60, nullable=False)
    rate_limit_rph: Mapped[int | None] = mapped_column(sa.Integer)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, default=True, nullable=False)
    # Off for sensitive actions: the executions log then keeps sizes and statuses, no bodies.
    log_bodies: Mapped[bool] = mapped_column(sa.Boolean, default=True, nullable=False)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (sa.Index("ix_proxy_actions_workspace_live", "workspace_id", "deleted_at", "is_active"),)


class ExecutionToken(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """A bearer credential for one action; shown once, kept as a hash, revocable at once."""

    __tablename__ = "proxy_execution_tokens"
    __display_name__ = "Token"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    action_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("proxy_actions.id", ondelete="CASCADE"), index=True, nullable=False
    )
    label: Mapped[str | None] = mapped_column(sa.String(200))
    prefix: Mapped[str] = mapped_column(sa.String(16), nullable=False)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True, nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rotated_from_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def status(self):
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utcnow():
            return "expired"
        return "active"


class Execution(WorkspaceScoped, db.Model):
    """One call through the proxy: admitted, limited or failed, with its timings and sizes.

    No foreign keys on purpose: rows are written in batches off the request path, and an
    execution must outlive the token it names.
    """

    __tablename__ = "proxy_executions"
    __display_name__ = "Execution"

    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    action_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    token_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    method: Mapped[str] = mapped_column(sa.String(10), nullable=False)
    status_code: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # success | upstream_error | rate_limited | execution_limit_reached | payload_too_large |
    # upstream_timeout | upstream_unreachable | upstream_response_too_large | client_disconnected
    outcome: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    # Whether the call used the monthly quota (it reached the upstream, or tried to).
    counted: Mapped[bool] = mapped_column(sa.Boolean, default=False, nullable=False)
    duration_ms: Mapped[float] = mapped_column(sa.Float, nullable=False)
    upstream_ms: Mapped[float | None] = mapped_column(sa.Float)
    request_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    response_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0, nullable=False)
    request_body: Mapped[str | None] = mapped_column(sa.Text)
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.Text)
    request_id: Mapped[str | None] = mapped_column(sa.String(140))

    __table_args__ = (
        sa.Index("ix_proxy_executions_action_created", "action_id", "created_at", "id"),
        sa.Index("ix_proxy_executions_workspace_created", "workspace_id", "created_at"),
    )
