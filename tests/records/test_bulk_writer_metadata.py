"""The import's bulk writer takes its columns from the tables' metadata: a column added to the
records or history table is written with its default (or NULL, or the server's default), generated
columns are left to the database, and the other values stay right, through COPY on PostgreSQL and
executemany on SQLite.

The added columns live on scratch copies of the two tables (own names, no foreign keys), created
for the test and dropped after it, so the shared test database keeps its schema.
"""

import uuid

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import JSONType, new_id
from narrative.records import bulk_writer, service
from narrative.records.models import ACTIVE, Record, RecordHistory

LABEL = "tab\there, back\\slash, 100% sure"  # COPY escapes and %-formatting both matter here


def _scratch_table(source, metadata, name, *extra):
    """`source`'s columns (types, defaults, nullability; no foreign keys) plus `extra`."""
    return sa.Table(name, metadata, *(column._copy() for column in source.columns), *extra)


def _record_extras():
    return (
        sa.Column("note", sa.String(40)),
        sa.Column("source", sa.String(20), nullable=False, default="import"),
        sa.Column("label", sa.Text, nullable=False, default=LABEL),
        sa.Column("blank", sa.String(10), nullable=False, default=""),
        sa.Column("flags", JSONType, nullable=False, default=dict),
        sa.Column("token", sa.Uuid, nullable=False, default=new_id),
        sa.Column("priority", sa.Integer, nullable=False, server_default="5"),
        sa.Column("doubled", sa.Float, sa.Computed("latitude * 2", persisted=True)),
    )


@pytest.fixture
def scratch(app):
    """Scratch records and history tables; the records one also has a generated column the
    metadata does not know (as PostGIS' geography is)."""
    metadata = sa.MetaData()
    suffix = uuid.uuid4().hex[:8]
    records = _scratch_table(Record.__table__, metadata, f"scratch_records_{suffix}", *_record_extras())
    history = _scratch_table(
        RecordHistory.__table__,
        metadata,
        f"scratch_record_history_{suffix}",
        sa.Column("note", sa.Text),
        sa.Column("origin", sa.String(20), nullable=False, default="import"),
    )
    connection = db.session.connection()
    metadata.create_all(connection)
    stored = "STORED" if connection.dialect.name == "postgresql" else "VIRTUAL"
    connection.execute(
        sa.text(
            f"ALTER TABLE {records.name} ADD COLUMN far FLOAT GENERATED ALWAYS AS (longitude * 2) {stored}"
        )
    )
    db.session.commit()
    yield records, history
    db.session.rollback()
    metadata.drop_all(db.session.connection())
    db.session.commit()


@pytest.fixture
def places(owner, workspace):
    recordset = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Places",
        fields=[
            {"name": "Name", "type": "text", "required": True},
            {"name": "Amount", "type": "number"},
            {"name": "At", "type": "geo_point"},
        ],
    )
    db.session.commit()
    return recordset


COLUMNS = {
    "name": ["Plain", 'quote " and back\\slash', "tab\tinside", "", "Nowhere"],
    "amount": ["12.5", "7", None, "3", "abc"],
    "at": [{"lat": 48.5, "lng": 2.25}, {"lat": -10.0, "lng": 100.5}, None, None, None],
}


def _write(recordset, owner, tables):
    prepared = service.prepare_records_from_columns(
        recordset=recordset, columns=COLUMNS, count=len(COLUMNS["name"]), user_id=owner.id
    )
    blocks = bulk_writer.write_records(prepared.context, prepared.blocks, prepared.count, tables=tables)
    return prepared.context, blocks


class _Row:
    """A result row read by attribute, whatever its column names ("values", "count"...)."""

    def __init__(self, mapping):
        self.__dict__.update(mapping)


def _rows(table):
    return [_Row(row) for row in db.session.execute(sa.select(table)).mappings()]


def test_added_columns_get_defaults_nulls_and_generated_values(scratch, places, owner):
    records, history = scratch
    context, blocks = _write(places, owner, scratch)
    errors = [error for block in blocks for error in block.errors]
    assert sorted((error["row"], error["field"]) for error in errors) == [(3, "name"), (4, "amount")]
    ids = [uuid.UUID(record_id) for block in blocks for record_id in block.ids]

    rows = {row.id: row for row in _rows(records)}
    assert set(rows) == set(ids)
    by_name = {row.values["name"]: row for row in rows.values()}
    assert set(by_name) == {"Plain", 'quote " and back\\slash', "tab\tinside"}
    plain = by_name["Plain"]
    assert plain.values == {"name": "Plain", "amount": 12.5, "at": {"lat": 48.5, "lng": 2.25}}
    assert (plain.latitude, plain.longitude, plain.doubled) == (48.5, 2.25, 97.0)
    assert by_name["tab\tinside"].values == {"name": "tab\tinside"}
    assert by_name["tab\tinside"].latitude is None and by_name["tab\tinside"].doubled is None
    for row in rows.values():
        assert (row.workspace_id, row.recordset_id) == (places.workspace_id, places.id)
        assert (row.status, row.version, row.tags, row.tool_statuses) == (ACTIVE, 1, [], {})
        assert row.owner_id == row.created_by_id == row.updated_by_id == owner.id
        assert row.created_at == row.updated_at == context.now
        assert (row.external_id, row.deleted_at, row.note) == (None, None, None)
        assert (row.source, row.label, row.blank, row.flags, row.priority) == ("import", LABEL, "", {}, 5)
    assert len({row.token for row in rows.values()}) == len(rows)  # a callable default runs per row
    far = dict(db.session.execute(sa.text(f"SELECT id, far FROM {records.name}")).all())
    assert sorted(value for value in far.values() if value is not None) == [4.5, 201.0]

    entries = _rows(history)
    assert sorted(entry.record_id for entry in entries) == sorted(ids)
    for entry in entries:
        record = rows[entry.record_id]
        assert (entry.workspace_id, entry.recordset_id) == (places.workspace_id, places.id)
        assert (entry.version, entry.action, entry.user_id) == (1, "created", owner.id)
        assert entry.values == record.values
        assert entry.changes == {key: {"old": None, "new": value} for key, value in record.values.items()}
        assert (entry.created_at, entry.note, entry.origin) == (context.now, None, "import")
    assert not {entry.id for entry in entries} & set(ids)


def test_left_to_the_database_means_not_named(scratch, app):
    records, _ = scratch
    dialect = db.session.get_bind().dialect
    fixed = ("workspace_id", "recordset_id", "status")
    plan = bulk_writer.column_plan(records, dialect, bulk_writer.RECORD_ROW_COLUMNS, fixed)
    assert plan is bulk_writer.column_plan(records, dialect, bulk_writer.RECORD_ROW_COLUMNS, fixed)
    named = {column.name for column in plan.columns}
    assert not named & {"doubled", "far", "priority", "note", "external_id", "deleted_at"}
    assert {"source", "label", "blank", "flags", "token", "tags", "tool_statuses"} <= named
    with pytest.raises(bulk_writer.BulkWriteError, match="generated"):
        bulk_writer.column_plan(records, dialect, ("id", "doubled"), ())


def test_a_column_nothing_can_fill_stops_the_write_before_any_row(scratch, places, owner):
    records, history = scratch
    strict = sa.Table(
        f"{records.name}_strict",
        sa.MetaData(),
        *(column._copy() for column in records.columns),
        sa.Column("required", sa.String(10), nullable=False),
    )
    with pytest.raises(bulk_writer.BulkWriteError, match="required is NOT NULL"):
        _write(places, owner, (strict, history))
    assert db.session.execute(sa.select(sa.func.count()).select_from(history)).scalar() == 0
