"""Applied licences: one row per signed licence key an organisation applied.

The row keeps the verified claims (tier, licensee, features, limits, validity) and a SHA-256 of
the key, never the key itself. At most one row per workspace is in force: applying another key
retires the previous one (`revoked_reason = "replaced"`), reverting to Community retires it
(`"reverted"`), and the vendor's revocation push retires it (`"revoked"`).
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

REPLACED = "replaced"
REVERTED = "reverted"
REVOKED = "revoked"


class License(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "licenses"
    __display_name__ = "Licence"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    # The key's `jti` (the vendor's licence number); a SHA-256 of the key when it has none.
    license_id: Mapped[str] = mapped_column(sa.String(200), index=True, nullable=False)
    tier: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    licensee: Mapped[str | None] = mapped_column(sa.String(300))
    # Extra features and limit overrides the key grants beyond its tier's table.
    features: Mapped[list] = mapped_column(JSONType, default=list, nullable=False)
    limits: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    token_sha256: Mapped[str] = mapped_column(sa.String(64), nullable=False)
    applied_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(20))
