"""Column types and mixins shared by every domain's models."""

import os
import time
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

# JSONB on PostgreSQL (indexable), JSON text elsewhere.
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


def parse_uuid(value):
    """`value` as a UUID, or None when it is not one (ids from paths, headers, payloads and tokens)."""
    if value is None or isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def utcnow():
    return datetime.now(UTC)


def new_id():
    """A UUIDv7: time-ordered (index-friendly, sorts by creation) with 74 random bits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80
    value |= int.from_bytes(os.urandom(10), "big") & ((1 << 80) - 1)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


class UTCDateTime(sa.TypeDecorator):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


# --- values a column cannot hold, refused before they reach the database ------------------------

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def _unstorable(column, value):
    """Why `value` does not fit `column` (None when it does): a schema checks most of this first;
    this catches values set by code paths no schema saw, and columns narrower than the schema."""
    kind = column.type
    if isinstance(value, str):
        if "\x00" in value:
            return "Text may not contain NUL (\\u0000) characters."
        length = getattr(kind, "length", None)
        if isinstance(kind, sa.String) and length and len(value) > length:
            return f"At most {length} characters."
    elif isinstance(value, int) and not isinstance(value, bool) and isinstance(kind, sa.Integer):
        if not isinstance(kind, sa.BigInteger) and not INT32_MIN <= value <= INT32_MAX:
            return f"Must be between {INT32_MIN} and {INT32_MAX}."
        if not -(2**63) <= value < 2**63:
            return "Must fit a 64-bit integer."
    return None


def _changed_columns(state, new):
    mapper = state.mapper
    keys = mapper.column_attrs.keys() if new else state.committed_state.keys()
    for key in keys:
        prop = mapper.attrs.get(key)
        if prop is None or not hasattr(prop, "columns"):
            continue
        value = state.dict.get(key)
        if value is not None:
            yield key, prop.columns[0], value


def check_storable(session):
    """Raise 422 naming the attribute when a new or changed row holds a value its column cannot."""
    from narrative.platform.errors import ValidationFailed

    details = []
    for new, rows in ((True, session.new), (False, session.dirty)):
        for row in rows:
            state = sa.inspect(row)
            for key, column, value in _changed_columns(state, new):
                problem = _unstorable(column, value)
                if problem:
                    details.append({"field": key, "message": problem})
    if details:
        raise ValidationFailed(details=details)


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _refuse_unstorable_values(session, flush_context, instances):
    check_storable(session)
