"""Payloads of the health and information endpoints."""

import marshmallow as ma

from narrative.platform.schemas import Schema


class CheckSchema(Schema):
    status = ma.fields.String(metadata={"description": "ok or down"})
    latency_ms = ma.fields.Float()
    backend = ma.fields.String()
    error = ma.fields.String()


class HealthSchema(Schema):
    status = ma.fields.String(metadata={"description": "ok, or degraded when a dependency is down (503)"})
    version = ma.fields.String()
    tier = ma.fields.String(metadata={"description": "Licence tier: community, pro or enterprise"})
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema))


class FamilySchema(Schema):
    name = ma.fields.String()
    title = ma.fields.String()
    base_path = ma.fields.String()
    proxy_path = ma.fields.String()


class ApiInfoSchema(Schema):
    name = ma.fields.String()
    version = ma.fields.String()
    families = ma.fields.List(ma.fields.Nested(FamilySchema))
    docs = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
