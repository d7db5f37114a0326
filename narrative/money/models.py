"""What a user decided about a money action (or a growth opportunity): open, done, dismissed, snoozed.

Findings are computed on every call (narrative.money.actions), never stored; only the user's
decision is, keyed by the finding's stable id, so the next listing can honour it.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

OPEN = "open"
DONE = "done"
DISMISSED = "dismissed"
SNOOZED = "snoozed"
STATUSES = (OPEN, DONE, DISMISSED, SNOOZED)


class MoneyActionStatus(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "money_action_statuses"
    __display_name__ = "Money action status"
    __table_args__ = (
        sa.UniqueConstraint(
            "workspace_id", "user_id", "action_id", name="uq_money_action_statuses_workspace_user_action"
        ),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # The finding's stable id (act_... or opp_..., narrative.money.findings).
    action_id: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=OPEN)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)
