"""One row per module a workspace has configured; a module without a row has the registry defaults."""

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin
from narrative.platform.tenancy import WorkspaceScoped


class ModuleSetting(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "module_settings"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "module"),)
    __display_name__ = "Module"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    module: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True, nullable=False)
    settings: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
