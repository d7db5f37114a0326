"""The outbox tables: one row per emitted event, one row per (event, consumer) delivery."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped


class OutboxEvent(WorkspaceScoped, IdMixin, db.Model):
    """An event written in the transaction of the change it describes.

    Pending while both `dispatched_at` and `abandoned_at` are empty. Per workspace, events are
    delivered in `id` order (time-ordered UUIDv7, monotonic within a process).
    """

    __tablename__ = "outbox_events"
    __table_args__ = (sa.Index("ix_outbox_events_workspace_pending", "workspace_id", "dispatched_at", "id"),)

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    event_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    payload: Mapped[dict] = mapped_column(JSONType, nullable=False)
    # A user, an API key's owner or None for the system; not a foreign key, the event outlives them.
    actor_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Failed delivery rounds; the next round waits until next_attempt_at (exponential backoff).
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when a consumer kept failing for OUTBOX_MAX_ATTEMPTS rounds: the workspace moves on.
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OutboxDelivery(db.Model):
    """What one consumer did with one event: delivered (once is enough) or its latest failure."""

    __tablename__ = "outbox_deliveries"

    event_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("outbox_events.id", ondelete="CASCADE"), primary_key=True
    )
    consumer: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0, nullable=False)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
