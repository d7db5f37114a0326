"""Probe routes for the error model."""

import marshmallow as ma

from narrative.platform.api import Blueprint
from narrative.platform.tenancy import all_workspaces_for_this_request


class AddressSchema(ma.Schema):
    city = ma.fields.String(required=True)
    zip = ma.fields.String(required=True, validate=ma.validate.Length(equal=5))


class ProbeSchema(ma.Schema):
    name = ma.fields.String(required=True)
    count = ma.fields.Integer(validate=ma.validate.Range(min=0))
    address = ma.fields.Nested(AddressSchema)


blp = Blueprint("probe_errors", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)


@blp.route("/_probe/echo", methods=["POST"])
@blp.arguments(ProbeSchema)
@blp.response(201, ProbeSchema)
def echo(payload):
    return payload


@blp.route("/_probe/boom")
def boom():
    raise RuntimeError("secret internals that must not reach the client")
