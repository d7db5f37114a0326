"""The records import's bulk writer: records and their "created" history entries written block by
block in the session's transaction, through COPY (text format) on PostgreSQL and executemany
INSERTs on SQLite.

What is written is derived from the tables' SQLAlchemy metadata, not from hand-kept column lists,
so a column added to `records` or `record_history` is imported right without touching this module:

- the values that differ per row (ids, the values JSON, coordinates, history changes) come from
  the prepared blocks (narrative.records.service), already in the form the database stores: ids
  as 32 hex digits, JSON as its compact text, numbers as numbers;
- the values that are the same on every row of a write (workspace, recordset, people, time,
  status, version, action) are encoded once per write through the column's own type, as the ORM
  would encode them;
- every other column gets its Python-side default, like the ORM gives it: a scalar, or an empty
  container (`default=dict`), once per write; any other zero-argument callable once per row;
- what is left is left to the database: server defaults, generated columns (computed ones, and
  PostGIS' unmapped `geography`, narrative.records.postgis), NULL for nullable columns. Such
  columns are not named in the statement at all.

A column the writer cannot fill (NOT NULL with no default, a SQL-expression or context-sensitive
default) raises `BulkWriteError` on the first write, before any row is sent.

Which columns, in which order, with which encoding depends only on the table, the dialect and the
names given, so that plan is made once and cached (`column_plan`); per row, writing formats one
line (COPY) or makes one tuple (INSERT).
"""

import weakref

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import new_id, parse_uuid
from narrative.records.models import ACTIVE, Record, RecordHistory

RECORD_ROW_COLUMNS = ("id", "values", "latitude", "longitude")
HISTORY_ROW_COLUMNS = ("id", "record_id", "changes", "values")

COPY_NULL = "\\N"

# Zero-argument defaults that always make the same (empty) value: made once per write, not per row.
_CONSTANT_FACTORIES = frozenset({dict, list, set, frozenset, tuple, str, bytes, int, float, bool})

# How a per-row column's stored-form values become COPY text.
_TEXT, _JSON, _NUMBER, _STRING, _OTHER = "text", "json", "number", "string", "other"

_plans = weakref.WeakKeyDictionary()  # table -> {(dialect name, row names, fixed names): ColumnPlan}


class BulkWriteError(TypeError):
    """A table has a column the bulk writer cannot fill (a programming error, not bad data)."""


def new_id_texts(count):
    """`count` new ids (narrative.platform.models.new_id) as 32 hex digits, accepted by both databases."""
    return [new_id().hex for _ in range(count)]


# --- records and history ---------------------------------------------------------------------------


def write_records(context, blocks, count, progress=None, *, tables=None):
    """Write the prepared blocks' records, then their "created" history entries; returns the
    blocks, as a list. `context` is the insert's shared part (service._BulkContext), each block's
    `ids`, `values`, `latitudes`, `longitudes` and `changes` are its good rows. `tables` (records,
    history) defaults to the models' tables. `progress(rows_done)` is called between blocks on
    PostgreSQL only: on SQLite a progress report from another connection would wait for this
    transaction's write lock."""
    records, history = tables or (Record.__table__, RecordHistory.__table__)
    connection = db.session.connection()
    record_fixed, history_fixed = _fixed_values(context)
    record_rows = rows_writer(records, connection, RECORD_ROW_COLUMNS, record_fixed)
    history_rows = rows_writer(history, connection, HISTORY_ROW_COLUMNS, history_fixed)
    if connection.dialect.name == "postgresql":
        return _copy_blocks(connection, record_rows, history_rows, blocks, count, progress)
    return _insert_blocks(connection, record_rows, history_rows, blocks)


def _fixed_values(context):
    """What every record and history entry of this insert shares, as the ORM would be given it."""
    workspace, recordset = parse_uuid(context.workspace_id), parse_uuid(context.recordset_id)
    user, owner = parse_uuid(context.user_id), parse_uuid(context.owner_id)
    record = {
        "workspace_id": workspace,
        "recordset_id": recordset,
        "status": ACTIVE,
        "version": 1,
        "owner_id": owner,
        "created_by_id": user,
        "updated_by_id": user,
        "created_at": context.now,
        "updated_at": context.now,
    }
    history = {
        "workspace_id": workspace,
        "recordset_id": recordset,
        "version": 1,
        "action": "created",
        "user_id": user,
        "created_at": context.now,
    }
    return record, history


def _record_columns(block):
    return [block.ids, block.values, block.latitudes, block.longitudes]


def _history_columns(block):
    return [new_id_texts(len(block.ids)), block.ids, block.changes, block.values]


def _copy_blocks(connection, record_rows, history_rows, blocks, count, progress):
    """COPY each block's records as it comes (the server stores one block while the next is
    prepared), then all their history entries, through the session's connection."""
    written, done = [], 0
    cursor = connection.connection.driver_connection.cursor()
    with cursor:
        with cursor.copy(record_rows.statement) as copy:
            for block in blocks:
                if block.ids:
                    copy.write(record_rows.text(_record_columns(block)))
                written.append(block)
                done += len(block.ids) + len(block.errors)
                if progress is not None:
                    progress(done * 2 // 3)
        with cursor.copy(history_rows.statement) as copy:
            for number, block in enumerate(written, start=1):
                if block.ids:
                    copy.write(history_rows.text(_history_columns(block)))
                if progress is not None:
                    progress(count * 2 // 3 + count * number // (3 * len(written)))
    return written


def _insert_blocks(connection, record_rows, history_rows, blocks):
    """One executemany per table and block straight through the driver (SQLite)."""
    written = []
    for block in blocks:
        written.append(block)
        if block.ids:
            connection.exec_driver_sql(record_rows.statement, record_rows.params(_record_columns(block)))
            connection.exec_driver_sql(history_rows.statement, history_rows.params(_history_columns(block)))
    return written


# --- the column plan ---------------------------------------------------------------------------


class ColumnPlan:
    """The columns a bulk write of `table` names, in statement order, and how each gets its value.

    Order: the per-row columns (`row_names`, as given), the per-row defaults, then the columns
    the same on every row (`fixed_names`, then constant defaults): a row is then its per-row
    values followed by one shared tail, with no per-row interleaving.
    """

    def __init__(self, table, dialect, row_names, fixed_names):
        if not row_names:
            raise ValueError("a bulk write needs at least one per-row column")
        self.table = table
        self.row_columns = tuple(_given(table, name) for name in row_names)
        self.fixed_columns = tuple(_given(table, name) for name in fixed_names)
        self.row_defaults, self.constant_defaults = [], []  # [(column, callable)], [(column, value)]
        given = {*row_names, *fixed_names}
        for column in table.columns:
            if column.name in given:
                continue
            made = _default_of(column)
            if made is not None:
                (self.row_defaults if made[0] else self.constant_defaults).append((column, made[1]))
        self.row_kinds = tuple(_row_kind(column, dialect) for column in self.row_columns)
        self.columns = (
            *self.row_columns,
            *(column for column, _ in self.row_defaults),
            *self.fixed_columns,
            *(column for column, _ in self.constant_defaults),
        )
        preparer = dialect.identifier_preparer
        # Always quoted: "values" is a keyword on both databases.
        names = ", ".join(preparer.quote_identifier(column.name) for column in self.columns)
        target = preparer.format_table(table)
        self.copy_statement = f"COPY {target} ({names}) FROM STDIN"
        marks = ", ".join("?" * len(self.columns))
        self.insert_statement = f"INSERT INTO {target} ({names}) VALUES ({marks})"


def column_plan(table, dialect, row_names, fixed_names):
    """The cached `ColumnPlan` of a write of `table` on `dialect` with these columns given."""
    key = (dialect.name, tuple(row_names), tuple(fixed_names))
    by_key = _plans.setdefault(table, {})
    plan = by_key.get(key)
    if plan is None:
        plan = by_key[key] = ColumnPlan(table, dialect, key[1], key[2])
    return plan


def _given(table, name):
    column = table.c[name]  # a KeyError names a column the table does not have
    if column.computed is not None:
        raise BulkWriteError(f"{table.name}.{name} is generated by the database and cannot be written")
    return column


def _default_of(column):
    """What a column given no value gets from Python: (True, callable) made per row, (False,
    value) the same on every row, or None when the database fills it (left out of the statement)."""
    if column.computed is not None:
        return None
    default = column.default
    if default is not None:
        if default.is_scalar:
            return False, default.arg
        # SQLAlchemy wraps a zero-argument callable in `lambda context: fn()` and keeps `fn` as
        # `__wrapped__`; one taking the execution context has no such attribute.
        made_by = getattr(default.arg, "__wrapped__", None) if default.is_callable else None
        if made_by in _CONSTANT_FACTORIES:
            return False, made_by()
        if made_by is not None:
            return True, made_by
        raise BulkWriteError(
            f"{column.table.name}.{column.name}: the bulk writer cannot apply this default "
            "(SQL expression, sequence or context-sensitive callable); give the column a value, "
            "a scalar or zero-argument default, or a server default"
        )
    table = column.table
    if (
        column.server_default is not None
        or column.identity is not None
        or column is table.autoincrement_column
        or column.nullable
    ):
        return None
    raise BulkWriteError(
        f"{table.name}.{column.name} is NOT NULL with no default: give it a value, a default or a "
        "server default"
    )


def _row_kind(column, dialect):
    """How this column's per-row values (in stored form) become COPY text; _OTHER means through
    the column's type, one value at a time."""
    kind = column.type.dialect_impl(dialect)
    if isinstance(kind, sa.types.TypeDecorator):
        return _OTHER
    if isinstance(kind, sa.JSON):
        return _JSON
    if isinstance(kind, sa.Uuid):
        return _TEXT
    if isinstance(kind, sa.Boolean):
        return _OTHER
    if isinstance(kind, sa.Integer | sa.Numeric):
        return _NUMBER
    if isinstance(kind, sa.String):
        return _STRING
    return _OTHER


# --- one write's rows ------------------------------------------------------------------------------


def rows_writer(table, connection, row_names, fixed):
    """A writer of `table`'s rows on `connection` (a SQLAlchemy connection): `row_names` are the
    columns given per row, `fixed` ({name: value}) the values of every row."""
    plan = column_plan(table, connection.dialect, row_names, tuple(fixed))
    if connection.dialect.name == "postgresql":
        return CopyRows(plan, connection, fixed)
    return InsertRows(plan, connection, fixed)


class CopyRows:
    """COPY text of one write's rows: the constant part encoded once, each row one line."""

    def __init__(self, plan, connection, fixed):
        encode = _copy_value_encoder(connection)
        self.statement = plan.copy_statement
        self.encoders = [
            _copy_column_encoder(kind, column, encode)
            for kind, column in zip(plan.row_kinds, plan.row_columns, strict=True)
        ]
        self.row_defaults = [(make, _per_value(column, encode)) for column, make in plan.row_defaults]
        constants = [encode(column, fixed[column.name]) for column in plan.fixed_columns]
        constants += [encode(column, value) for column, value in plan.constant_defaults]
        slots = len(plan.row_columns) + len(plan.row_defaults)
        tail = "".join(f"\t{text}" for text in constants).replace("%", "%%")
        self.line = "\t".join(["%s"] * slots) + tail + "\n"

    def text(self, columns):
        """The COPY text of the rows given as columns (lists in `row_names` order)."""
        encoded = [encode(values) for encode, values in zip(self.encoders, columns, strict=True)]
        count = len(columns[0])
        encoded += [[encode(make()) for _ in range(count)] for make, encode in self.row_defaults]
        return "".join(map(self.line.__mod__, zip(*encoded, strict=True)))


class InsertRows:
    """executemany parameters of one write's rows: the constant tail made once, each row a tuple."""

    def __init__(self, plan, connection, fixed):
        dialect = connection.dialect
        self.statement = plan.insert_statement
        # Ids and JSON arrive as the text SQLite stores (their types' processors would encode them
        # again); other values go through their type's processor when it has one.
        self.encoders = [
            None if kind in (_TEXT, _JSON) else _bind_processor(column, dialect)
            for kind, column in zip(plan.row_kinds, plan.row_columns, strict=True)
        ]
        self.row_defaults = [
            (make, _bind_processor(column, dialect) or _same) for column, make in plan.row_defaults
        ]
        constants = [(column, fixed[column.name]) for column in plan.fixed_columns]
        constants += plan.constant_defaults
        self.tail = tuple(_driver_value(column, value, dialect) for column, value in constants)

    def params(self, columns):
        """One tuple per row given as columns (lists in `row_names` order)."""
        encoded = [
            values if encode is None else list(map(encode, values))
            for encode, values in zip(self.encoders, columns, strict=True)
        ]
        count = len(columns[0])
        encoded += [[encode(make()) for _ in range(count)] for make, encode in self.row_defaults]
        tail = self.tail
        return [row + tail for row in zip(*encoded, strict=True)]


def _same(value):
    return value


def _bind_processor(column, dialect):
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _driver_value(column, value, dialect):
    """`value` as the column's type hands it to the driver (what the ORM would send)."""
    process = _bind_processor(column, dialect)
    return value if process is None else process(value)


# --- COPY text -------------------------------------------------------------------------------------


def _copy_value_encoder(connection):
    """encode(column, value) -> COPY text: the column type's bind processing, then psycopg's own
    text dumper (the text the server would receive as a parameter), escaped for COPY."""
    from psycopg.adapt import PyFormat, Transformer

    driver = connection.connection.driver_connection
    transformer, dialect, encoding = Transformer(driver), connection.dialect, driver.info.encoding

    def encode(column, value):
        value = _driver_value(column, value, dialect)
        if value is None:
            return COPY_NULL
        dumped = transformer.get_dumper(value, PyFormat.TEXT).dump(value)
        return _copy_escape(bytes(dumped).decode(encoding))

    return encode


def _per_value(column, encode):
    return lambda value: encode(column, value)


def _copy_column_encoder(kind, column, encode):
    if kind == _TEXT:
        return _copy_texts
    if kind == _JSON:
        return _copy_json_texts
    if kind == _NUMBER:
        return _copy_numbers
    if kind == _STRING:
        return _copy_strings
    one = _per_value(column, encode)
    return lambda values: list(map(one, values))


def _copy_escape(text):
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy_texts(values):
    """Text COPY takes as it is (ids as hex digits)."""
    return values if None not in values else [COPY_NULL if value is None else value for value in values]


def _copy_json_texts(values):
    """Compact JSON text: its only character COPY escapes is the backslash (JSON text has no raw
    control characters), doubled in one pass over the whole column instead of once per value."""
    try:
        joined = "\0".join(values)  # NUL is in no JSON text nor any PostgreSQL text
    except TypeError:  # a NULL among them
        return [COPY_NULL if value is None else value.replace("\\", "\\\\") for value in values]
    if "\\" not in joined:
        return values
    return joined.replace("\\", "\\\\").split("\0")


def _copy_numbers(values):
    return [COPY_NULL if value is None else str(value) for value in values]


def _copy_strings(values):
    return [COPY_NULL if value is None else _copy_escape(value) for value in values]
