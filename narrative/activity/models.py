"""The activity feed's rows: one per domain event that a person caused."""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped


class Activity(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "activities"
    __table_args__ = (
        sa.Index("ix_activities_workspace_created", "workspace_id", "created_at"),
        sa.Index("ix_activities_workspace_actor", "workspace_id", "actor_id"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False
    )
    actor_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    # "team.member_added" -> object_type "team", verb "member_added"
    event_type: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    object_type: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    verb: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    object_id: Mapped[str | None] = mapped_column(sa.String(64))
    summary: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    data: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    # Unique: the consumer may see an event twice.
    event_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
