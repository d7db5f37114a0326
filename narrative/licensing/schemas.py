"""Payload shapes of the licence endpoints."""

import marshmallow as ma

from narrative.platform.schemas import Schema


class LicenseDetailsSchema(Schema):
    id = ma.fields.UUID()
    license_id = ma.fields.String(metadata={"description": "The vendor's licence number (the key's jti)"})
    tier = ma.fields.String()
    licensee = ma.fields.String(allow_none=True)
    issued_at = ma.fields.DateTime(allow_none=True)
    expires_at = ma.fields.DateTime()
    applied_at = ma.fields.DateTime(attribute="created_at")
    applied_by_id = ma.fields.UUID(allow_none=True)


class LicenseStatusSchema(Schema):
    tier = ma.fields.String(metadata={"description": "community, pro or enterprise"})
    tier_name = ma.fields.String()
    features = ma.fields.List(ma.fields.String())
    limits = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Integer(allow_none=True),
        metadata={"description": "Limit name -> maximum (null: unlimited)"},
    )
    license = ma.fields.Nested(LicenseDetailsSchema, allow_none=True)


class LicenseApplySchema(Schema):
    license_key = ma.fields.String(
        required=True, metadata={"description": "The signed licence key (a JWT from the vendor)"}
    )

    @ma.pre_load
    def accept_aliases(self, data, **kwargs):
        """Clients send the key as license_key, key, license or token."""
        if isinstance(data, dict) and "license_key" not in data:
            for alias in ("key", "license", "licence", "token"):
                if alias in data:
                    data = {**data, "license_key": data[alias]}
                    data.pop(alias)
                    break
        return data
