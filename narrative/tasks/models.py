"""The `tasks` table: one row per task of a workspace, whatever it is attached to.

Statuses and priorities are the seed's words (core Tasks section): status todo | in_progress |
blocked | completed | cancelled, priority low | medium | high | urgent. `position` orders tasks in
a list or a kanban column (a float, so a task dropped between two others takes the midpoint and
nothing else is renumbered). `details` holds what one family adds without a migration (a kanban
column, a goal's key result, a verification state).
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

TODO = "todo"
IN_PROGRESS = "in_progress"
BLOCKED = "blocked"
COMPLETED = "completed"
CANCELLED = "cancelled"
STATUSES = (TODO, IN_PROGRESS, BLOCKED, COMPLETED, CANCELLED)
OPEN_STATUSES = (TODO, IN_PROGRESS, BLOCKED)
CLOSED_STATUSES = (COMPLETED, CANCELLED)
# Other spellings clients send (the studio's "done", American "canceled").
STATUS_ALIASES = {"done": COMPLETED, "complete": COMPLETED, "canceled": CANCELLED, "open": TODO}

PRIORITIES = ("low", "medium", "high", "urgent")
DEFAULT_PRIORITY = "medium"


def _user_fk(**kwargs):
    return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"), **kwargs)


class Task(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "tasks"
    __display_name__ = "Task"
    __table_args__ = (
        sa.Index("ix_tasks_subject", "workspace_id", "subject_type", "subject_id"),
        sa.Index("ix_tasks_workspace_status_due", "workspace_id", "status", "due_at"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    title: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=TODO)
    priority: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=DEFAULT_PRIORITY)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee_id: Mapped[uuid.UUID | None] = _user_fk(index=True)
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[uuid.UUID | None] = _user_fk()
    completion_note: Mapped[str | None] = mapped_column(sa.Text)
    # What the task is about: ("record", record id), later ("channel", id), ("goal", id)...
    subject_type: Mapped[str | None] = mapped_column(sa.String(40))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    position: Mapped[float] = mapped_column(sa.Float, nullable=False, default=0.0)
    tags: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    details: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)

    @property
    def is_open(self):
        return self.status in OPEN_STATUSES
