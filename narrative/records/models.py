"""Recordsets (typed tables a workspace defines) and their records, views, comments, history,
relationships, attachments and access grants.

- `Recordset`: slug unique per workspace, ordered field specs in `fields` (see
  narrative.records.fields for the spec format), a default view, an optional pipeline link, a
  trash state (`deleted_at`, `is_active`).
- `Record`: the values of one row in one JSON column (`values`, JSONB on PostgreSQL) keyed by
  field key, plus first-class columns the platform queries directly: owner, creator, status,
  tags, coordinates (latitude/longitude with an index: the portable geometry; PostGIS is optional).
- `RecordHistory`: one entry per write (create, update, delete, restore): who changed which field
  from what to what, and the values after the write (what a restore copies back).
- `RecordRelationship`: a typed link from one record to another, listed from both ends.
- `RecordAttachment`: a stored file (narrative.platform.storage) attached to a record.
- `RecordsetGrant`: view/edit/admin access on one recordset for a member or a team.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime
from narrative.platform.tenancy import WorkspaceScoped

# Record.status
ACTIVE = "active"
DELETED = "deleted"

# RecordsetGrant.level, weakest first
VIEW = "view"
EDIT = "edit"
ADMIN = "admin"
GRANT_LEVELS = (VIEW, EDIT, ADMIN)


def _workspace_fk():
    return mapped_column(sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False, index=True)


def _user_fk():
    return mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))


class Recordset(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "recordsets"
    __display_name__ = "Recordset"
    __table_args__ = (sa.UniqueConstraint("workspace_id", "slug", name="uq_recordsets_workspace_slug"),)

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    slug: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    icon: Mapped[str | None] = mapped_column(sa.String(60))
    description: Mapped[str | None] = mapped_column(sa.Text)
    # What kind of data the recordset holds ("standard", "crm", "integration", "map"...).
    type: Mapped[str] = mapped_column(sa.String(40), nullable=False, default="standard")
    # Ordered field specs: [{"key", "name", "type", "required", "options", ...}].
    fields: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    # The key of the field whose value titles a record (map pins, relation pickers).
    title_field: Mapped[str | None] = mapped_column(sa.String(120))
    default_view_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    pipeline_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # Free-form configuration: GIS field mapping, display mode, promoted fields.
    settings: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    is_active: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=True)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_id: Mapped[uuid.UUID | None] = _user_fk()
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()
    # Cached count of active records; the truth is a COUNT (see service.sync_record_counts).
    record_count: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)

    def field(self, key):
        return next((spec for spec in self.fields or [] if spec["key"] == key), None)


class Record(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "records"
    __display_name__ = "Record"
    __table_args__ = (
        sa.Index("ix_records_recordset_status", "recordset_id", "status"),
        sa.Index("ix_records_recordset_coordinates", "recordset_id", "latitude", "longitude"),
        sa.Index("ix_records_recordset_external", "recordset_id", "external_id"),
        # No index on `values` as a whole: filters compare one field's value (`values->>'key'`)
        # within a recordset, which a whole-document GIN index cannot serve, and maintaining one
        # made every record write (and imports) about 2.5 times slower.
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    recordset_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("recordsets.id", ondelete="CASCADE"), nullable=False
    )
    values: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=ACTIVE)
    tags: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    # Per-tool state ({"follow_up": "recommended"}): what a tool shows; dismissing clears one key.
    tool_statuses: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    # The id of the row in the system it came from (imports, integrations), for de-duplication.
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=1)
    owner_id: Mapped[uuid.UUID | None] = _user_fk()
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()
    updated_by_id: Mapped[uuid.UUID | None] = _user_fk()
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    recordset = relationship(Recordset, lazy="joined", innerjoin=True)


@sa.event.listens_for(Record.__table__, "after_create")
def _add_postgis_geography(table, connection, **kw):
    """Databases made with create_all get what migration 0011 gives migrated ones."""
    from narrative.records import postgis

    postgis.install(connection)


class RecordView(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_views"
    __display_name__ = "View"

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    recordset_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("recordsets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200), nullable=False)
    # "grid", "kanban", "map", "calendar": how a client lays the records out.
    layout: Mapped[str] = mapped_column(sa.String(30), nullable=False, default="grid")
    filters: Mapped[dict | list | None] = mapped_column(JSONType)
    sorts: Mapped[list] = mapped_column(JSONType, nullable=False, default=list)
    visible_fields: Mapped[list | None] = mapped_column(JSONType)
    group_by: Mapped[str | None] = mapped_column(sa.String(120))
    is_default: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()


class RecordComment(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_comments"
    __display_name__ = "Comment"

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    record_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("record_comments.id", ondelete="CASCADE")
    )
    body: Mapped[str] = mapped_column(sa.Text, nullable=False)


class RecordHistory(WorkspaceScoped, IdMixin, db.Model):
    __tablename__ = "record_history"
    __display_name__ = "History entry"
    __table_args__ = (sa.Index("ix_record_history_record_version", "record_id", "version"),)

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    record_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False
    )
    recordset_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, nullable=False)
    version: Mapped[int] = mapped_column(sa.Integer, nullable=False)
    # created | updated | deleted | restored | migrated (a field change rewrote the value)
    action: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    # {field_key: {"old": ..., "new": ...}} for the fields this write changed.
    changes: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    # The record's values after the write.
    values: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    user_id: Mapped[uuid.UUID | None] = _user_fk()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class RecordRelationship(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_relationships"
    __display_name__ = "Relationship"
    __table_args__ = (
        sa.UniqueConstraint(
            "source_record_id", "target_record_id", "relationship_type", name="uq_record_relationships_link"
        ),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    source_record_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    target_record_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # How the source sees the target ("parent_of"), and how the target sees the source ("child_of").
    relationship_type: Mapped[str] = mapped_column(sa.String(60), nullable=False)
    inverse_type: Mapped[str | None] = mapped_column(sa.String(60))
    details: Mapped[dict] = mapped_column(JSONType, nullable=False, default=dict)
    created_by_id: Mapped[uuid.UUID | None] = _user_fk()


class RecordAttachment(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "record_attachments"
    __display_name__ = "Attachment"

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    record_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("records.id", ondelete="CASCADE"), nullable=False, index=True
    )
    file_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("stored_files.id", ondelete="CASCADE"), nullable=False
    )
    uploaded_by_id: Mapped[uuid.UUID | None] = _user_fk()

    file = relationship("StoredFile", lazy="joined")


class RecordsetGrant(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "recordset_grants"
    __display_name__ = "Grant"
    __table_args__ = (
        sa.CheckConstraint(
            "(member_id IS NULL) != (team_id IS NULL)", name="ck_recordset_grants_member_xor_team"
        ),
    )

    workspace_id: Mapped[uuid.UUID] = _workspace_fk()
    recordset_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("recordsets.id", ondelete="CASCADE"), nullable=False, index=True
    )
    member_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("members.id", ondelete="CASCADE"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("teams.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=VIEW)
    granted_by_id: Mapped[uuid.UUID | None] = _user_fk()
