"""Webhook endpoints, the messages queued for them, and every attempt to deliver a message.

- `WebhookEndpoint` (table "webhooks"): where to send which event types, with an encrypted secret.
- `WebhookDelivery` (a message): one event for one endpoint. Its id is the Standard Webhooks
  `webhook-id` (`msg_<id>`), the same on every retry, so receivers can drop duplicates.
- `WebhookAttempt`: one try at sending a message. The row is written *before* the request goes
  out ("scheduled", then "sending"), so a worker that dies mid-request leaves a trace the sweep
  finds and sends again; nothing is lost silently.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

# WebhookDelivery.status
PENDING = "pending"  # an attempt is scheduled or running
SUCCEEDED = "succeeded"
FAILED = "failed"  # every scheduled attempt failed (a recorded final failure)
DELIVERY_STATUSES = (PENDING, SUCCEEDED, FAILED)

# WebhookAttempt.status
SCHEDULED = "scheduled"
SENDING = "sending"
ATTEMPT_SUCCEEDED = "succeeded"
ATTEMPT_FAILED = "failed"
ATTEMPT_STATUSES = (SCHEDULED, SENDING, ATTEMPT_SUCCEEDED, ATTEMPT_FAILED)


class WebhookEndpoint(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "webhooks"
    __display_name__ = "Webhook"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # Who is told when the endpoint is disabled for failing; kept when they leave.
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    url: Mapped[str] = mapped_column(sa.String(2000), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.String(500))
    # Registered event type names, or ["*"] for every type.
    events: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    # Extra request headers the receiver asked for (e.g. an API key of theirs).
    headers: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # Encrypted at rest (see narrative.webhooks.signing); never returned after creation/rotation.
    secret_encrypted: Mapped[str] = mapped_column(sa.Text, nullable=False)
    secret_last4: Mapped[str] = mapped_column(sa.String(8), nullable=False)
    # After a rotation the old secret also signs until this instant (several signatures per header).
    previous_secret_encrypted: Mapped[str | None] = mapped_column(sa.Text)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Start of the current run of failed attempts; cleared by a success. Five days -> disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(sa.String(500))


class WebhookDelivery(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "webhook_deliveries"
    __display_name__ = "Delivery"
    __table_args__ = (
        # The consumer may see an event twice (at-least-once dispatch): one message per endpoint.
        sa.UniqueConstraint("webhook_id", "event_id"),
        sa.Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False
    )
    # The outbox event it carries; None for test messages. Not a foreign key: the outbox is pruned.
    event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    event_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    # The exact JSON body sent (the signature covers these bytes).
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)
    is_test: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=PENDING)
    attempt_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def message_id(self):
        return f"msg_{self.id.hex}"


class WebhookAttempt(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "webhook_delivery_attempts"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", "attempt_number"),
        sa.Index("ix_webhook_delivery_attempts_status_due", "status", "scheduled_for"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    webhook_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False, index=True
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False
    )
    attempt_number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # Manual redeliveries and test sends are single attempts outside the retry schedule.
    trigger: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="event")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=SCHEDULED)
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(sa.Integer)
    duration_ms: Mapped[int | None] = mapped_column(sa.Integer)
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    error: Mapped[str | None] = mapped_column(sa.String(1000))
    # When the following attempt is due (set when this one failed and the schedule goes on).
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
