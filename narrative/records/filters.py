"""The record filter language: one JSON shape for list endpoints (query parameter ``filter``),
saved views (``RecordView.filters``) and services (``query_records``), compiled to SQL on the JSON
values: ``json_extract`` on SQLite, ``->>`` / ``->`` with casts (numeric, date, timestamptz,
boolean) on PostgreSQL.

A filter is a condition or a group::

    {"field": "amount", "op": "gte", "value": 1000}
    {"and": [cond_or_group, ...]}      {"or": [...]}      {"not": cond_or_group}
    [cond, cond]                       # a list is an "and"
    {"stage": "won", "amount": {"gte": 1000, "lt": 5000}}   # shorthand: field -> value (equals)
                                                            #   or field -> {op: value, ...}

Operators (aliases in brackets):

==============  ======================================================================
equals (eq)     same stored value; on a multi-valued field (multi_select, multiple
                users/relations/files, tags) the list holds the value
not_equals (ne) anything else, including records without a value
contains        text: case-insensitive substring; multi-valued: holds the value
not_contains    the negation of contains (records without a value included)
starts_with     text: case-insensitive prefix
gt gte lt lte   ranges on numbers, currency, percent, dates, datetimes (and text)
between         [low, high], both included
in / not_in     value is a list; stored value is one of them (multi-valued: any of them)
is_empty        no value ("" and [] count as empty); value ignored
not_empty       has a value
==============  ======================================================================

Values are normalised by the field's type before comparison ("1,200" -> 1200, "2024-01-31",
"yes" -> true, a select's label -> its value), so a filter means what the field means.
Besides the recordset's field keys, these record columns can be filtered and sorted on:
id, created_at, updated_at, owner_id, created_by_id, updated_by_id, status, external_id,
version, latitude, longitude, tags (multi-valued).

Sorts: ``[{"field": "amount", "direction": "desc"}, "name", "-created_at"]`` (a leading "-" is
descending); NULLs (no value) sort last either way; the record id breaks ties.
"""

import json
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.records.fields import (
    NUMERIC_TYPES,
    REFERENCE_TYPES,
    FieldError,
    normalise_value,
    parse_datetime,
)
from narrative.records.models import ACTIVE, Record

OPERATORS = {
    "equals": "equals",
    "eq": "equals",
    "=": "equals",
    "==": "equals",
    "is": "equals",
    "not_equals": "not_equals",
    "ne": "not_equals",
    "neq": "not_equals",
    "!=": "not_equals",
    "is_not": "not_equals",
    "contains": "contains",
    "not_contains": "not_contains",
    "starts_with": "starts_with",
    "gt": "gt",
    ">": "gt",
    "gte": "gte",
    ">=": "gte",
    "lt": "lt",
    "<": "lt",
    "lte": "lte",
    "<=": "lte",
    "between": "between",
    "in": "in",
    "not_in": "not_in",
    "is_empty": "is_empty",
    "empty": "is_empty",
    "not_empty": "not_empty",
    "is_not_empty": "not_empty",
}
SYSTEM_COLUMNS = {
    "id": "uuid",
    "created_at": "datetime",
    "updated_at": "datetime",
    "owner_id": "uuid",
    "created_by_id": "uuid",
    "updated_by_id": "uuid",
    "status": "text",
    "external_id": "text",
    "version": "number",
    "latitude": "number",
    "longitude": "number",
    "tags": "tags",
}


class FilterError(ValidationFailed):
    def __init__(self, message, *, where="filter"):
        super().__init__(f"Invalid filter: {message}", details=[{"field": where, "message": message}])


def _dialect():
    return db.session.get_bind().dialect.name


def parse_json_argument(text, *, name="filter"):
    """A JSON query argument (filter, sort, column_filters...) or a 422 naming it."""
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        raise FilterError(f"{name} must be JSON", where=name) from None


class _Field:
    """How one filterable thing (a field of the recordset or a record column) reads in SQL."""

    def __init__(self, recordset, key, dialect):
        self.key = key
        self.dialect = dialect
        self.spec = recordset.field(key) if recordset is not None else None
        if self.spec is None and key not in SYSTEM_COLUMNS:
            raise FilterError(f"unknown field {key!r}")
        self.column = getattr(Record, key) if self.spec is None else None
        self.type = self.spec["type"] if self.spec else SYSTEM_COLUMNS[key]
        options = (self.spec or {}).get("options") or {}
        self.multi = self.type in ("multi_select", "tags") or (
            self.type in REFERENCE_TYPES and bool(options.get("multiple"))
        )

    # --- SQL expressions

    def text(self):
        """The value as text (PostgreSQL) / as stored (SQLite): emptiness and text operators."""
        if self.column is not None:
            return (
                sa.cast(self.column, sa.String)
                if self.type == "uuid" and self.dialect == "postgresql"
                else self.column
            )
        if self.dialect == "postgresql":
            return Record.values.op("->>")(self.key)
        return sa.func.json_extract(Record.values, f'$."{self.key}"')

    def typed(self):
        """The value in its own SQL type, for ranges, equality and sorting."""
        if self.column is not None or self.dialect != "postgresql":
            return self.text()
        text = self.text()
        if self.type in NUMERIC_TYPES:
            return sa.cast(text, sa.Numeric)
        if self.type == "date":
            return sa.cast(text, sa.Date)
        if self.type == "datetime":
            return sa.cast(text, sa.DateTime(timezone=True))
        if self.type == "boolean":
            return sa.cast(text, sa.Boolean)
        return text

    def holds(self, value):
        """A multi-valued field's list contains `value`."""
        if self.type == "tags":
            source, path = Record.tags, "$"
        else:
            source, path = Record.values, f'$."{self.key}"'
        if self.dialect == "postgresql":
            array = source if self.type == "tags" else Record.values.op("->")(self.key)
            return sa.cast(array, JSONB).op("@>")(sa.type_coerce([value], JSONB))
        items = sa.func.json_each(source, path).table_valued("value")
        return sa.exists(sa.select(sa.literal(1)).select_from(items).where(items.c.value == value))

    # --- values

    def value(self, raw):
        """`raw` in the stored form of this field, ready to bind for comparison with typed()."""
        if raw is None:
            raise FilterError(f"{self.key}: a value is required")
        try:
            if self.type == "datetime":
                moment = parse_datetime(raw)
                if self.column is not None or self.dialect == "postgresql":
                    return moment
                return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            if self.type == "uuid":
                return uuid.UUID(str(raw)) if self.dialect != "postgresql" else str(uuid.UUID(str(raw)))
            if self.type in ("number",) and self.column is not None:
                return float(raw)
            if self.type in ("text", "tags") and self.column is not None:
                return str(raw)
            spec = (
                dict(self.spec, options={**self.spec["options"], "multiple": False})
                if self.multi
                else self.spec
            )
            if self.type == "multi_select":
                spec = dict(spec, type="single_select")
            if self.type == "date" and self.dialect == "postgresql":
                from narrative.records.fields import parse_date

                return parse_date(raw)
            return normalise_value(spec, raw)
        except (FieldError, ValueError) as exc:
            raise FilterError(f"{self.key}: {exc}") from None


def _condition(recordset, key, op, raw, dialect):
    field = _Field(recordset, key, dialect)
    operator = OPERATORS.get(str(op).lower())
    if operator is None:
        raise FilterError(
            f"unknown operator {op!r} (use one of {', '.join(sorted(set(OPERATORS.values())))})"
        )
    text = field.text()
    empty = (
        sa.or_(text.is_(None), text == "", text == "[]", text == "{}")
        if field.column is None
        else text.is_(None)
    )
    if field.type == "tags":
        empty = sa.or_(Record.tags.is_(None), sa.cast(Record.tags, sa.String) == "[]")
    if operator == "is_empty":
        return empty
    if operator == "not_empty":
        return sa.not_(empty)
    if operator in ("in", "not_in"):
        if not isinstance(raw, (list, tuple)):
            raw = [part for part in str(raw).split(",") if part.strip()]
        values = [field.value(item) for item in raw]
        if field.multi:
            match = sa.or_(*(field.holds(value) for value in values)) if values else sa.false()
        else:
            match = field.typed().in_(values) if values else sa.false()
        return match if operator == "in" else sa.or_(text.is_(None), sa.not_(match))
    if operator in ("contains", "not_contains", "starts_with"):
        if field.multi:
            match = field.holds(field.value(raw))
        else:
            needle = str(raw).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = f"%{needle}%" if operator != "starts_with" else f"{needle}%"
            match = sa.func.lower(sa.cast(text, sa.String)).like(pattern, escape="\\")
        return sa.or_(text.is_(None), sa.not_(match)) if operator == "not_contains" else match
    if operator == "between":
        if not isinstance(raw, (list, tuple)) or len(raw) != 2:
            raise FilterError(f"{key}: between takes [low, high]")
        return field.typed().between(field.value(raw[0]), field.value(raw[1]))
    value = field.value(raw)
    if field.multi and operator in ("equals", "not_equals"):
        match = field.holds(value)
        return match if operator == "equals" else sa.or_(text.is_(None), sa.not_(match))
    typed = field.typed()
    if operator == "equals":
        return typed == value
    if operator == "not_equals":
        return sa.or_(text.is_(None), typed != value)
    return {"gt": typed > value, "gte": typed >= value, "lt": typed < value, "lte": typed <= value}[operator]


def compile_filter(recordset, spec, *, dialect=None):
    """SQL for a filter (see the module docstring); None for an empty filter."""
    dialect = dialect or _dialect()
    if spec in (None, {}, []):
        return None
    if isinstance(spec, list):
        parts = [compile_filter(recordset, item, dialect=dialect) for item in spec]
        parts = [part for part in parts if part is not None]
        return sa.and_(*parts) if parts else None
    if not isinstance(spec, dict):
        raise FilterError("a filter is an object or a list of objects")
    if "and" in spec or "or" in spec:
        group = "and" if "and" in spec else "or"
        items = spec[group]
        if not isinstance(items, list):
            raise FilterError(f"{group} takes a list")
        parts = [compile_filter(recordset, item, dialect=dialect) for item in items]
        parts = [part for part in parts if part is not None]
        if not parts:
            return None
        return sa.and_(*parts) if group == "and" else sa.or_(*parts)
    if "not" in spec:
        inner = compile_filter(recordset, spec["not"], dialect=dialect)
        return None if inner is None else sa.not_(inner)
    if "field" in spec:
        op = spec.get("op") or spec.get("operator") or "equals"
        return _condition(recordset, spec["field"], op, spec.get("value"), dialect)
    # Shorthand: {field: value} or {field: {op: value}}.
    parts = []
    for key, value in spec.items():
        if isinstance(value, dict) and value and all(str(name).lower() in OPERATORS for name in value):
            parts.extend(_condition(recordset, key, op, operand, dialect) for op, operand in value.items())
        else:
            parts.append(_condition(recordset, key, "equals", value, dialect))
    return sa.and_(*parts)


def compile_sorts(recordset, sorts, *, dialect=None, nulls_last=False):
    """ORDER BY terms for sorts (see the module docstring)."""
    dialect = dialect or _dialect()
    if isinstance(sorts, (str, dict)):
        sorts = [sorts]
    terms = []
    for item in sorts or []:
        if isinstance(item, str):
            key, descending = item.lstrip("-"), item.startswith("-")
        elif isinstance(item, dict) and item.get("field"):
            key = item["field"]
            descending = str(item.get("direction") or item.get("order") or "asc").lower() in (
                "desc",
                "descending",
            )
        else:
            raise FilterError("a sort is a field key or {field, direction}", where="sort")
        expression = _Field(recordset, key, dialect).typed()
        term = expression.desc() if descending else expression.asc()
        # paginate() adds NULLS LAST itself and needs plain asc/desc terms to read the direction.
        terms.append(term.nulls_last() if nulls_last else term)
    return terms


def search_clause(recordset, text, *, dialect=None):
    """Case-insensitive substring search over all of a record's values."""
    dialect = dialect or _dialect()
    if not text:
        return None
    needle = str(text).lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return sa.func.lower(sa.cast(Record.values, sa.Text)).like(f"%{needle}%", escape="\\")


def query_records(recordset, filters=None, sorts=None, *, search=None, include_deleted=False):
    """SELECT of the recordset's records matching `filters`, ordered by `sorts` (then newest
    first). Routes paginate it; jobs stream it (``db.session.scalars(stmt.execution_options(
    yield_per=1000))``)."""
    dialect = _dialect()
    stmt = sa.select(Record).where(Record.recordset_id == recordset.id)
    if not include_deleted:
        stmt = stmt.where(Record.status == ACTIVE)
    clause = compile_filter(recordset, filters, dialect=dialect)
    if clause is not None:
        stmt = stmt.where(clause)
    found = search_clause(recordset, search, dialect=dialect)
    if found is not None:
        stmt = stmt.where(found)
    order = compile_sorts(recordset, sorts, dialect=dialect, nulls_last=True)
    return stmt.order_by(*order, Record.created_at.desc(), Record.id.desc())
