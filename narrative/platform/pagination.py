"""Pagination for every list endpoint: cursor, offset, skip/limit and page/page_size from one helper.

The catalog names four styles; an endpoint uses the one its entry names:

=========  ==========================  ===============================================
style      query arguments             response fields beside the items
=========  ==========================  ===============================================
cursor     ``limit``, ``cursor``       ``next_cursor`` (null on the last page), ``has_more``, ``limit``
offset     ``limit``, ``offset``       ``total``, ``limit``, ``offset``, ``has_more``
skip       ``skip``, ``limit``         ``total``, ``skip``, ``limit``, ``has_more``
page       ``page``, ``page_size``     ``total``, ``page``, ``page_size``, ``pages``, ``has_more``
=========  ==========================  ===============================================

A route composes the style's argument schema with its own filters (by inheritance), hands a
SELECT to ``paginate`` and returns the ``Page``; ``page_schema`` documents the envelope::

    class ActionListArgs(CursorPageArgs):
        search = ma.fields.String()

    @blp.route("/api/v1/actions")
    @blp.arguments(ActionListArgs, location="query")
    @blp.response(200, page_schema(ActionSchema, "cursor"))
    def list_actions(args):
        stmt = tenant_select(Action).where(...)
        return paginate(stmt, args, style="cursor", order_by=newest_first(Action))

Rules every style follows:

- The order is stable: the primary key of the statement's first entity is always appended as the
  last sort key, so rows that tie on the sort columns keep one order between requests.
- ``limit`` (or ``page_size``) defaults to 50 and may not exceed 200; outside 1..max is a 422
  ``validation_failed`` naming the argument. ``page_args(style, default_limit=, max_limit=)`` makes an
  argument schema with other bounds; pass the same ``max_limit=`` to ``paginate``.
- The cursor is opaque: base64url of the last row's sort-key values, signed with HMAC-SHA256 under
  SECRET_KEY and bound to the list's ordering. Pages are read by keyset (``WHERE (created_at, id) <
  (...)``), never by offset, so rows inserted between two requests are neither repeated nor skipped.
  A malformed, tampered or foreign cursor is a 422 ``validation_failed`` on the ``cursor`` field.
- Sort columns may be nullable: NULLs sort last in both directions, on SQLite and PostgreSQL.
- ``paginate`` replaces any ORDER BY on the statement with its own (``order_by=``; default: the
  primary key ascending, which for our UUIDv7 ids is creation order).
- Other envelopes (``data``, ``results``, ``members``): ``items_key=`` on both ``paginate`` and
  ``page_schema``.
"""

import base64
import datetime as dt
import decimal
import hashlib
import hmac
import json
import math
import uuid
from collections.abc import Mapping
from functools import cache

import marshmallow as ma
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import UnaryExpression

from narrative.platform.errors import ValidationFailed
from narrative.platform.schemas import Schema

STYLES = ("cursor", "offset", "skip", "page")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200

# Which argument carries the page size in each style (error details name it).
LIMIT_ARGUMENT = {"cursor": "limit", "offset": "limit", "skip": "limit", "page": "page_size"}


# ---- argument schemas -------------------------------------------------------------------------


# Positions beyond this are far past any list's end, and (times a page size) still fit the
# database's 64-bit OFFSET.
MAX_POSITION = 2**31 - 1


def _position_field(description, *, minimum, default):
    return ma.fields.Integer(
        load_default=default,
        validate=ma.validate.Range(min=minimum, max=MAX_POSITION),
        metadata={"description": description},
    )


def _limit_field(default, maximum, name="limit"):
    return ma.fields.Integer(
        load_default=default,
        validate=ma.validate.Range(min=1, max=maximum),
        metadata={"description": f"How many items to return (1-{maximum}, default {default})"},
    )


class CursorPageArgs(Schema):
    """`limit` and `cursor` (the `next_cursor` of the previous page)."""

    limit = _limit_field(DEFAULT_LIMIT, MAX_LIMIT)
    cursor = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "The next_cursor of the previous page; omit for the first page"},
    )


class OffsetPageArgs(Schema):
    """`limit` and `offset` (items to skip)."""

    limit = _limit_field(DEFAULT_LIMIT, MAX_LIMIT)
    offset = _position_field("Items to skip", minimum=0, default=0)


class SkipLimitArgs(Schema):
    """`skip` (items to skip) and `limit`."""

    skip = _position_field("Items to skip", minimum=0, default=0)
    limit = _limit_field(DEFAULT_LIMIT, MAX_LIMIT)


class PageArgs(Schema):
    """`page` (from 1) and `page_size`."""

    page = _position_field("Page number, from 1", minimum=1, default=1)
    page_size = _limit_field(DEFAULT_LIMIT, MAX_LIMIT)


ARGS_SCHEMAS = {"cursor": CursorPageArgs, "offset": OffsetPageArgs, "skip": SkipLimitArgs, "page": PageArgs}


def page_args(style, *, default_limit=DEFAULT_LIMIT, max_limit=MAX_LIMIT, base=None):
    """The style's argument schema with other limit bounds, optionally on top of a filter schema."""
    parent = ARGS_SCHEMAS[_checked_style(style)]
    bases = (base, parent) if base else (parent,)
    limit_name = LIMIT_ARGUMENT[style]
    name = f"{(base or parent).__name__}{default_limit}To{max_limit}"
    return type(name, bases, {limit_name: _limit_field(default_limit, max_limit)})


# ---- the page -----------------------------------------------------------------------------------


class Page(Mapping):
    """One page: `items` and the style's `meta`; reads as the response body `{items_key: items, **meta}`.

    A view can return it as is to a `page_schema` response (marshmallow reads it as a mapping).
    """

    def __init__(self, items, meta, *, items_key="items"):
        self.items = items
        self.meta = meta
        self.items_key = items_key

    def __getitem__(self, key):
        if key == self.items_key:
            return self.items
        return self.meta[key]

    def __iter__(self):
        yield self.items_key
        yield from self.meta

    def __len__(self):
        return 1 + len(self.meta)

    def __repr__(self):
        return f"Page({len(self.items)} items, {self.meta!r})"


# ---- ordering -----------------------------------------------------------------------------------


def newest_first(model):
    """Most recent first: created_at descending, then the primary key (ties stay in one order)."""
    return (model.created_at.desc(), model.id.desc())


class _SortKey:
    """One ORDER BY term: the expression, its direction, and whether it can hold NULL."""

    def __init__(self, expression, descending):
        self.expression = expression
        self.descending = descending
        # Plain columns say whether they are nullable; for computed expressions assume they can be.
        self.nullable = getattr(expression, "nullable", True)

    def order_clause(self):
        clause = self.expression.desc() if self.descending else self.expression.asc()
        return clause.nulls_last() if self.nullable else clause

    def after(self, value):
        """Rows strictly after `value` in this key's order (NULLs last); None when there are none."""
        if value is None:
            return None
        beyond = self.expression < value if self.descending else self.expression > value
        return sa.or_(beyond, self.expression.is_(None)) if self.nullable else beyond

    def equal(self, value):
        return self.expression.is_(None) if value is None else self.expression == value


def _sort_keys(stmt, order_by):
    keys = []
    for term in order_by or ():
        descending = False
        if isinstance(term, UnaryExpression) and term.modifier in (operators.desc_op, operators.asc_op):
            descending = term.modifier is operators.desc_op
            term = term.element
        if hasattr(term, "__clause_element__"):  # a mapped attribute such as Workspace.name
            term = term.__clause_element__()
        keys.append(_SortKey(term, descending))
    for column in _primary_key(stmt):
        if not any(key.expression.compare(column) for key in keys):
            keys.append(_SortKey(column, keys[-1].descending if keys else False))
    return keys


def _primary_key(stmt):
    descriptions = stmt.column_descriptions
    entity = descriptions[0].get("entity") if descriptions else None
    if entity is None:
        raise ValueError("paginate needs a SELECT whose first column is a mapped model or attribute")
    mapper = sa.inspect(entity)
    return [
        getattr(entity, mapper.get_property_by_column(column).key).__clause_element__()
        for column in mapper.primary_key
    ]


def _ordering_fingerprint(keys):
    described = ";".join(f"{key.expression}:{'d' if key.descending else 'a'}" for key in keys)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def _keyset_after(keys, values):
    """WHERE clause for rows strictly after `values` in the order of `keys`."""
    uniform = len({key.descending for key in keys}) == 1
    if uniform and not any(key.nullable for key in keys) and None not in values:
        # Row-value comparison: one index range scan on both databases.
        row = sa.tuple_(*(key.expression for key in keys))
        bound = tuple(values)
        return row < bound if keys[0].descending else row > bound
    branches = []
    for index, key in enumerate(keys):
        after = key.after(values[index])
        if after is not None:
            same_before = [keys[j].equal(values[j]) for j in range(index)]
            branches.append(sa.and_(*same_before, after))
    return sa.or_(*branches) if branches else sa.false()


# ---- cursors ------------------------------------------------------------------------------------


def _cursor_key():
    secret = current_app.config["SECRET_KEY"]
    return hmac.new(secret.encode(), b"narrative.pagination.cursor", hashlib.sha256).digest()


def _encode_value(value):
    if isinstance(value, dt.datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, uuid.UUID):
        return ["u", value.hex]
    if isinstance(value, decimal.Decimal):
        return ["n", str(value)]
    return value


def _decode_value(value):
    if not isinstance(value, list):
        return value
    tag, text = value
    return {
        "dt": dt.datetime.fromisoformat,
        "d": dt.date.fromisoformat,
        "u": uuid.UUID,
        "n": decimal.Decimal,
    }[tag](text)


def encode_cursor(values, fingerprint):
    payload = json.dumps({"o": fingerprint, "k": [_encode_value(v) for v in values]}, separators=(",", ":"))
    payload = payload.encode()
    mac = hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(mac + payload).rstrip(b"=").decode()


def decode_cursor(cursor, fingerprint, count):
    """The sort-key values a cursor carries; 422 on the `cursor` field when it is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        mac, payload = raw[:16], raw[16:]
        expected = hmac.new(_cursor_key(), payload, hashlib.sha256).digest()[:16]
        if len(mac) != 16 or not hmac.compare_digest(mac, expected):
            raise ValueError("bad signature")
        data = json.loads(payload)
        if data.get("o") != fingerprint:
            raise ValueError("cursor of another list")
        values = [_decode_value(v) for v in data["k"]]
        if len(values) != count:
            raise ValueError("wrong number of keys")
        return values
    except (ValueError, TypeError, KeyError, AttributeError):
        raise _invalid("cursor", "Invalid or expired cursor: start again without one.") from None


# ---- paginate -----------------------------------------------------------------------------------


def _invalid(field, message):
    return ValidationFailed(details=[{"field": field, "message": message}])


def _checked_style(style):
    if style not in STYLES:
        raise ValueError(f"unknown pagination style {style!r}; one of {', '.join(STYLES)}")
    return style


def _int_argument(args, name, default, minimum, maximum=None):
    value = args.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            value = int(value)
        except (TypeError, ValueError):
            raise _invalid(name, "Not a valid integer.") from None
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
        raise _invalid(name, f"Must be {bound}.")
    return value


def paginate(
    select_stmt,
    args,
    *,
    style,
    order_by=None,
    max_limit=None,
    default_limit=DEFAULT_LIMIT,
    with_total=True,
    items_key="items",
    session=None,
):
    """Run `select_stmt` for one page on db.session and return a `Page`.

    `args` is the loaded argument dict (or any mapping with the style's argument names; values are
    checked again here, so a JSON body works too). `order_by` is a sequence of columns or
    `column.desc()` terms; the primary key is appended. `with_total=False` skips the COUNT query
    of the offset and skip styles.
    """
    from narrative.extensions import db

    style = _checked_style(style)
    session = session or db.session
    args = args or {}
    limit_name = LIMIT_ARGUMENT[style]
    limit = _int_argument(args, limit_name, default_limit, 1, max_limit or MAX_LIMIT)
    keys = _sort_keys(select_stmt, order_by)
    ordered = select_stmt.order_by(None).order_by(*(key.order_clause() for key in keys))

    if style == "cursor":
        return _cursor_page(session, ordered, keys, args.get("cursor"), limit, items_key)

    if style == "page":
        page = _int_argument(args, "page", 1, 1)
        offset = (page - 1) * limit
    else:
        offset = _int_argument(args, "offset" if style == "offset" else "skip", 0, 0)
    items, has_more = _fetch(session, ordered.offset(offset), limit)
    total = _count(session, select_stmt) if with_total or style == "page" else None
    if style == "page":
        meta = {
            "total": total,
            "page": page,
            "page_size": limit,
            "pages": math.ceil(total / limit),
            "has_more": has_more,
        }
    elif style == "offset":
        meta = {"total": total, "limit": limit, "offset": offset, "has_more": has_more}
    else:
        meta = {"total": total, "skip": offset, "limit": limit, "has_more": has_more}
    if total is None:
        meta.pop("total")
    return Page(items, meta, items_key=items_key)


def _cursor_page(session, ordered, keys, cursor, limit, items_key):
    fingerprint = _ordering_fingerprint(keys)
    if cursor:
        values = decode_cursor(cursor, fingerprint, len(keys))
        ordered = ordered.where(_keyset_after(keys, values))
    # The sort-key values ride along as extra columns, so any expression can be a sort key.
    width = len(ordered.column_descriptions)
    with_keys = ordered.add_columns(*(key.expression.label(f"page_key_{i}") for i, key in enumerate(keys)))
    rows = session.execute(with_keys.limit(limit + 1)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    items = [row[0] if width == 1 else tuple(row[:width]) for row in rows]
    next_cursor = encode_cursor(list(rows[-1][width:]), fingerprint) if has_more else None
    return Page(
        items, {"next_cursor": next_cursor, "has_more": has_more, "limit": limit}, items_key=items_key
    )


def _fetch(session, stmt, limit):
    result = session.execute(stmt.limit(limit + 1))
    rows = result.scalars().all() if len(stmt.column_descriptions) == 1 else [tuple(r) for r in result.all()]
    return rows[:limit], len(rows) > limit


def _count(session, select_stmt):
    counted = sa.select(sa.func.count()).select_from(select_stmt.order_by(None).subquery())
    return session.execute(counted).scalar_one()


# ---- response schemas ---------------------------------------------------------------------------


def _meta_fields(style):
    integer, boolean = ma.fields.Integer, ma.fields.Boolean
    has_more = boolean(metadata={"description": "Whether more items follow this page"})
    if style == "cursor":
        return {
            "next_cursor": ma.fields.String(
                allow_none=True,
                metadata={"description": "Pass as `cursor` for the next page; null on the last page"},
            ),
            "has_more": has_more,
            "limit": integer(),
        }
    total = integer(metadata={"description": "How many items match, over all pages"})
    if style == "offset":
        return {"total": total, "limit": integer(), "offset": integer(), "has_more": has_more}
    if style == "skip":
        return {"total": total, "skip": integer(), "limit": integer(), "has_more": has_more}
    return {
        "total": total,
        "page": integer(),
        "page_size": integer(),
        "pages": integer(metadata={"description": "How many pages there are"}),
        "has_more": has_more,
    }


@cache
def page_schema(item_schema, style, *, items_key="items"):
    """The response schema `{items_key: [item_schema], ...meta}` of a style, named after the item.

    Cached, so two routes listing the same items share one OpenAPI component.
    """
    style = _checked_style(style)
    item_class = item_schema if isinstance(item_schema, type) else type(item_schema)
    item_name = item_class.__name__.removesuffix("Schema")
    suffix = "" if items_key == "items" else items_key.title().replace("_", "")
    fields = {items_key: ma.fields.List(ma.fields.Nested(item_schema)), **_meta_fields(style)}
    return ma.Schema.from_dict(fields, name=f"{item_name}{style.title()}Page{suffix}Schema")
