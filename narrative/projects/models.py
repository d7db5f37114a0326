"""The workspace's projects: work a team carries out, started by hand or from an insight.

Other families build on this one model: the SDK turns a growth opportunity into a project (source
`growth_opportunity`, source id the opportunity's id); the studio's enterprise projects will link a
client (`client_id`). A source makes a project unique: one project per (workspace, source type,
source id), so turning the same opportunity into a project twice finds the first one. Projects
without a source (source columns NULL) are not constrained (NULLs are distinct in the index).
"""

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, TimestampMixin
from narrative.platform.tenancy import WorkspaceScoped

ACTIVE = "active"
ON_HOLD = "on_hold"
COMPLETED = "completed"
ARCHIVED = "archived"
STATUSES = (ACTIVE, ON_HOLD, COMPLETED, ARCHIVED)

GROWTH_OPPORTUNITY = "growth_opportunity"


class Project(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "projects"
    __display_name__ = "Project"
    __table_args__ = (
        sa.UniqueConstraint("workspace_id", "source_type", "source_id", name="uq_projects_workspace_source"),
        sa.Index("ix_projects_workspace_status", "workspace_id", "status"),
    )

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=ACTIVE)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    # The studio's enterprise client this project is for (a string id: the clients model comes later).
    client_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    # Where the project came from, e.g. ("growth_opportunity", "opp_1f2e...").
    source_type: Mapped[str | None] = mapped_column(sa.String(40))
    source_id: Mapped[str | None] = mapped_column(sa.String(64))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
