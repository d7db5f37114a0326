"""Record tracking tables: insights about a record and the log of interactions with it.

- `RecordInsight`: one observation (stale, missing fields, follow-up due, overdue tasks) computed
  from the record's data, history, interactions and tasks, worded by the AI layer. Open until a
  person marks the action taken or dismisses it. `fingerprint` identifies the situation it
  describes (the same staleness episode, the same missing fields...), so regenerating updates the
  open insight of a type instead of adding another, and a situation someone already handled is not
  raised again.
- `RecordInteraction`: a call, email, meeting, note or message with the record's contact, the
  record's timeline. `follow_up_at` is when someone should get back in touch.

Tasks of a record are `narrative.tasks.models.Task` rows with subject ("record", record id).
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

# RecordInsight.insight_type
STALE = "stale"
MISSING_FIELDS = "missing_fields"
FOLLOW_UP_DUE = "follow_up_due"
OVERDUE_TASK = "overdue_task"
INSIGHT_TYPES = (STALE, MISSING_FIELDS, FOLLOW_UP_DUE, OVERDUE_TASK)

# RecordInsight.status
OPEN = "open"
ACTION_TAKEN = "action_taken"
DISMISSED = "dismissed"
INSIGHT_STATUSES = (OPEN, ACTION_TAKEN, DISMISSED)

PRIORITIES = ("low", "medium", "high", "urgent")

# RecordInteraction.interaction_type and .direction
INTERACTION_TYPES = ("call", "email", "meeting", "note", "message")
DIRECTIONS = ("inbound", "outbound", "internal")


def _workspace_fk():
    return mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True)


def _record_fk():
    return mapped_column(sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False)


def _recordset_fk():
    return mapped_column(sa.ForeignKey("recordsets.id", ondelete="CASCADE"), nullable=False)


def _user_fk():
    return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class RecordInsight(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_insights"
    __display_name__ = "Insight"
    __table_args__ = (
        sa.Index("ix_record_insights_record_status_type", "record_id", "status", "insight_type"),
        sa.Index("ix_record_insights_recordset_status", "recordset_id", "status"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    record_id: Mapped[uuid.UUID] = _record_fk()
    recordset_id: Mapped[uuid.UUID] = _recordset_fk()
    insight_type: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    title: Mapped[str] = mapped_column(sa.String(300), nullable=False)
    # The provider's wording of the facts.
    body: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    priority: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="medium")
    # The computed facts the body words ({"days_since_activity": 45, ...}).
    facts: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    fingerprint: Mapped[str] = mapped_column(sa.String(64), nullable=False, default="")
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=OPEN)
    action_note: Mapped[str | None] = mapped_column(sa.Text)
    acted_by_id: Mapped[uuid.UUID | None] = _user_fk()
    acted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider: Mapped[str | None] = mapped_column(sa.String(40))
    model: Mapped[str | None] = mapped_column(sa.String(120))
    generated_by_id: Mapped[uuid.UUID | None] = _user_fk()


class RecordInteraction(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_interactions"
    __display_name__ = "Interaction"
    __table_args__ = (
        sa.Index("ix_record_interactions_record_occurred", "record_id", "occurred_at"),
        sa.Index("ix_record_interactions_recordset_occurred", "recordset_id", "occurred_at"),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    record_id: Mapped[uuid.UUID] = _record_fk()
    recordset_id: Mapped[uuid.UUID] = _recordset_fk()
    interaction_type: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    direction: Mapped[str | None] = mapped_column(sa.String(20))
    subject: Mapped[str | None] = mapped_column(sa.String(300))
    summary: Mapped[str | None] = mapped_column(sa.Text)
    body: Mapped[str | None] = mapped_column(sa.Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    duration_minutes: Mapped[int | None] = mapped_column(sa.Integer)
    # How it went ("connected", "left_voicemail", "positive"...): free text, the team's words.
    outcome: Mapped[str | None] = mapped_column(sa.String(60))
    # [{"name": ..., "email": ..., "user_id": ...}]
    participants: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()
