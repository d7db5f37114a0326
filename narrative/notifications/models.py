"""Notifications (per user, or broadcast to a workspace), their per-user receipts, and preferences."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

INSTANT = "instant"
DIGEST = "digest"
EMAIL_MODES = (INSTANT, DIGEST)
DIGEST_FREQUENCIES = (30, 60)


class Notification(WorkspaceScoped, IdMixin, db.Model):
    """`user_id` None = a broadcast every member of the workspace sees (their read/delete state is a
    `NotificationReceipt`); otherwise the recipient's own row (read_at/deleted here)."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index("ix_notifications_user_created", "workspace_id", "user_id", "created_at"),
        # An event consumer may run twice for one event: one notification per recipient.
        sa.UniqueConstraint("event_id", "user_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    category: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    body: Mapped[str | None] = mapped_column(sa.Text)
    data: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Digest mode: email-eligible notifications wait here until the next digest goes out.
    email_pending: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class NotificationReceipt(db.Model):
    """One member's state of a broadcast: read and/or deleted (hidden) for them."""

    __tablename__ = "notification_receipts"

    notification_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """A user's choice for one notification type in one workspace; absent = the type's defaults."""

    __tablename__ = "notification_preferences"
    __display_name__ = "Preference"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "user_id", "event_type"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    event_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    inapp_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    email_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # Stored for clients that show it; no WhatsApp provider is wired, so nothing is sent there.
    whatsapp_enabled: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    muted: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)


class EmailDeliverySetting(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "notification_email_settings"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "user_id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    email_delivery_mode: Mapped[str] = mapped_column(sa.String(10), nullable=False, default=INSTANT)
    digest_frequency_minutes: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=60)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
