"""Tables of imports and geocoding: an import's checkpoint and row errors, and the geocoding cache.

- `RecordImport`: one import of a stored file into a recordset. `rows_committed` is the checkpoint:
  the last file row whose chunk (records, errors and this counter) committed in one transaction,
  so a re-run skips every row at or below it and neither loses nor duplicates rows.
- `RecordImportError`: one bad cell or row (row number, column, value, reason); the error report
  CSV is written from these rows at the end.
- `GeocodeCacheEntry`: one normalised address and what a provider answered (also "not found").
"""

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin
from narrative.platform.tenancy import WorkspaceScoped


class RecordImport(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_imports"
    __display_name__ = "Import"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True
    )
    job_id: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    recordset_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False, index=True)
    file_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # File column -> recordset field key, and the field types the cells are parsed as.
    field_mappings: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    rows_committed: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rows_imported: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rows_failed: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    rows_total: Mapped[int | None] = mapped_column(sa.Integer)
    report_file_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class RecordImportError(IdMixin, db.Model):
    __tablename__ = "record_import_errors"

    import_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("record_imports.id", ondelete="CASCADE"), nullable=False, index=True
    )
    row_number: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    column: Mapped[str | None] = mapped_column(sa.String(255))
    value: Mapped[str | None] = mapped_column(sa.Text)
    reason: Mapped[str] = mapped_column(sa.Text, nullable=False)


class GeocodeCacheEntry(IdMixin, TimestampMixin, db.Model):
    __tablename__ = "geocode_cache"
    __table_args__ = (sa.UniqueConstraint("provider", "address_key"),)

    provider: Mapped[str] = mapped_column(sa.String(40), nullable=False)
    address_key: Mapped[str] = mapped_column(sa.String(500), nullable=False)
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    label: Mapped[str | None] = mapped_column(sa.String(500))
    precision: Mapped[str | None] = mapped_column(sa.String(20))
