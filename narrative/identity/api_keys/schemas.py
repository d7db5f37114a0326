"""Payload shapes of the API key endpoints (one shape per payload, shared by the three families)."""

from datetime import UTC

import marshmallow as ma

from narrative.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT
from narrative.platform.schemas import Schema


def _key_status(key):
    if key.revoked_at is not None:
        return "revoked"
    if not key.is_active:
        return "disabled"
    if not key.is_usable:
        return "expired"
    return "active"


class ApiKeySchema(Schema):
    """A key as lists and reads show it: never the secret, only its prefix."""

    id = ma.fields.UUID()
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    prefix = ma.fields.String(metadata={"description": "The key's first characters, to tell keys apart"})
    scopes = ma.fields.List(ma.fields.String())
    is_active = ma.fields.Boolean()
    is_revoked = ma.fields.Function(lambda key: key.revoked_at is not None)
    status = ma.fields.Function(_key_status, metadata={"description": "active, disabled, expired or revoked"})
    expires_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    rotated_from_id = ma.fields.UUID(allow_none=True)
    user_id = ma.fields.UUID(metadata={"description": "Who created the key; it acts with their role"})
    workspace_id = ma.fields.UUID()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class ApiKeyWithSecretSchema(ApiKeySchema):
    """Creation and rotation only: the full key, shown this once and never again."""

    key = ma.fields.String(metadata={"description": "The full sk_ key; store it now, it is not shown again"})


def _scopes_field(**kwargs):
    return ma.fields.List(
        ma.fields.String(),
        metadata={"description": 'Permission names, "<module>.*" or "*" (default ["*"])'},
        **kwargs,
    )


class ApiKeyCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    scopes = _scopes_field(load_default=None, allow_none=True)
    expires_at = ma.fields.AwareDateTime(default_timezone=UTC, allow_none=True, load_default=None)


class ApiKeyUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    scopes = _scopes_field()
    is_active = ma.fields.Boolean()


class ApiKeyStatusArgsSchema(Schema):
    is_active = ma.fields.Boolean(
        load_default=None, metadata={"description": "Only active (true) or disabled keys"}
    )
    is_revoked = ma.fields.Boolean(
        load_default=None, metadata={"description": "Only revoked (true) or unrevoked keys"}
    )


class ApiKeyListArgsSchema(ApiKeyStatusArgsSchema):
    """Both families' paging: core's `skip`/`limit`, narrowapi's `limit`/`cursor`."""

    limit = ma.fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=ma.validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"How many keys to return (1-{MAX_LIMIT}, default {DEFAULT_LIMIT})"},
    )
    skip = ma.fields.Integer(
        load_default=None, validate=ma.validate.Range(min=0), metadata={"description": "Keys to skip (core)"}
    )
    cursor = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "The next_cursor of the previous page (narrowapi)"},
    )

    @ma.validates_schema
    def one_paging_style(self, data, **kwargs):
        if data.get("cursor") and data.get("skip"):
            raise ma.ValidationError("Use either cursor or skip, not both.", field_name="cursor")


class ApiKeyListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ApiKeySchema))
    total = ma.fields.Integer(metadata={"description": "How many keys match, over all pages"})
    skip = ma.fields.Integer(allow_none=True)
    limit = ma.fields.Integer()
    has_more = ma.fields.Boolean()
    next_cursor = ma.fields.String(
        allow_none=True, metadata={"description": "Pass as `cursor` for the next page; null on the last page"}
    )


class ApiKeyCountSchema(Schema):
    count = ma.fields.Integer()
