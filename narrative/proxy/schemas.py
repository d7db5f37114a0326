"""Request and response shapes of the API proxy's management endpoints.

Validation messages follow the seed's wording (`name` "is required", `target_url` "must be a
valid HTTPS URL"); the platform's error handler turns them into `details[]` of a 422.
"""

import urllib.parse
from datetime import UTC

import marshmallow as ma
from flask import request

from narrative.platform.outbound import private_urls_allowed
from narrative.platform.pagination import CursorPageArgs
from narrative.platform.schemas import Schema
from narrative.proxy.models import HTTP_METHODS

REQUIRED = {"required": "is required", "null": "is required"}


def _https_url(value):
    parts = urllib.parse.urlsplit(value or "")
    scheme = parts.scheme.lower()
    if not parts.netloc or not (scheme == "https" or (scheme == "http" and private_urls_allowed())):
        raise ma.ValidationError("must be a valid HTTPS URL")


def _header_names(headers):
    for name in headers:
        if not name or any(c in name for c in " :\r\n\t") or not name.isascii():
            raise ma.ValidationError(f"{name!r} is not a valid header name")


class ProxyActionWriteSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200), error_messages=REQUIRED)
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))
    target_url = ma.fields.String(
        validate=[ma.validate.Length(max=2048), _https_url],
        error_messages=REQUIRED,
        metadata={"description": "The upstream endpoint (HTTPS)"},
    )
    method = ma.fields.String(
        validate=ma.validate.OneOf(HTTP_METHODS),
        metadata={"description": "HTTP method used upstream (default POST)"},
    )
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(allow_none=True, validate=ma.validate.Length(max=8192)),
        validate=_header_names,
        metadata={
            "description": "Headers added to every upstream call (e.g. the upstream's API key); stored "
            "encrypted and only ever returned masked. On update, a name set to null is removed."
        },
    )
    timeout_seconds = ma.fields.Float(validate=ma.validate.Range(min=0.1, max=120))
    rate_limit_rpm = ma.fields.Integer(
        validate=ma.validate.Range(min=1, max=1_000_000),
        metadata={"description": "Calls per minute (default 60)"},
    )
    rate_limit_rph = ma.fields.Integer(
        allow_none=True,
        validate=ma.validate.Range(min=1, max=100_000_000),
        metadata={"description": "Calls per hour (default: no hourly limit)"},
    )
    is_active = ma.fields.Boolean()
    log_bodies = ma.fields.Boolean(
        metadata={
            "description": "Keep truncated request/response bodies in the executions log (default true)"
        }
    )

    @ma.pre_load
    def strip_strings(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}
        return data


class ProxyActionCreateSchema(ProxyActionWriteSchema):
    name = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=200), error_messages=REQUIRED
    )
    target_url = ma.fields.String(
        required=True, validate=[ma.validate.Length(max=2048), _https_url], error_messages=REQUIRED
    )


class ProxyActionUpdateSchema(ProxyActionWriteSchema):
    """Every field optional; only the ones sent change."""


class ProxyActionSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    workspace_id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    target_url = ma.fields.String()
    method = ma.fields.String()
    headers = ma.fields.Dict(
        attribute="headers_preview", metadata={"description": "Upstream headers, values masked"}
    )
    timeout_seconds = ma.fields.Float()
    rate_limit_rpm = ma.fields.Integer()
    rate_limit_rph = ma.fields.Integer(allow_none=True)
    is_active = ma.fields.Boolean()
    log_bodies = ma.fields.Boolean()
    proxy_url = ma.fields.Method("_proxy_url", metadata={"description": "Where token holders call it"})
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def _proxy_url(self, action):
        return f"{request.host_url.rstrip('/')}/x/{action.id}"


class ProxyActionListArgs(CursorPageArgs):
    is_active = ma.fields.Boolean(metadata={"description": "Only active (true) or paused (false) actions"})


class ExecutionTokenCreateSchema(Schema):
    action_id = ma.fields.UUID(required=True, error_messages=REQUIRED)
    label = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    expires_at = ma.fields.AwareDateTime(allow_none=True, default_timezone=UTC)


class ExecutionTokenRotateSchema(Schema):
    token_id = ma.fields.UUID(
        allow_none=True, metadata={"description": "Rotate only this token (default: every live token)"}
    )
    label = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    expires_at = ma.fields.AwareDateTime(allow_none=True, default_timezone=UTC)


class ExecutionTokenSchema(Schema):
    id = ma.fields.UUID()
    action_id = ma.fields.UUID()
    label = ma.fields.String(allow_none=True)
    prefix = ma.fields.String(metadata={"description": "The token's first characters, to recognise it"})
    status = ma.fields.String(metadata={"description": "active, revoked or expired"})
    expires_at = ma.fields.DateTime(allow_none=True)
    revoked_at = ma.fields.DateTime(allow_none=True)
    last_used_at = ma.fields.DateTime(allow_none=True)
    rotated_from_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class IssuedExecutionTokenSchema(ExecutionTokenSchema):
    token = ma.fields.String(metadata={"description": "The sxt_ token itself: shown this once only"})


class RotatedExecutionTokenSchema(IssuedExecutionTokenSchema):
    revoked_token_ids = ma.fields.List(ma.fields.UUID())


class ExecutionTokenListArgs(CursorPageArgs):
    action_id = ma.fields.UUID(metadata={"description": "Only this action's tokens"})
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "revoked")))


class ProxyExecutionSchema(Schema):
    id = ma.fields.UUID()
    action_id = ma.fields.UUID()
    token_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime(metadata={"description": "When the call arrived"})
    method = ma.fields.String()
    status_code = ma.fields.Integer()
    outcome = ma.fields.String(
        metadata={
            "description": "success, upstream_error, rate_limited, execution_limit_reached, "
            "payload_too_large, upstream_timeout, upstream_unreachable, upstream_response_too_large, "
            "action_inactive, client_disconnected"
        }
    )
    counted = ma.fields.Boolean(metadata={"description": "Whether it used the monthly quota"})
    duration_ms = ma.fields.Float(metadata={"description": "Total time in the proxy"})
    upstream_ms = ma.fields.Float(allow_none=True, metadata={"description": "Time spent on the upstream"})
    request_bytes = ma.fields.Integer()
    response_bytes = ma.fields.Integer()
    request_body = ma.fields.String(
        allow_none=True, metadata={"description": "Truncated; null when not logged"}
    )
    response_body = ma.fields.String(
        allow_none=True, metadata={"description": "Truncated; null when not logged"}
    )
    error = ma.fields.String(allow_none=True)
    request_id = ma.fields.String(allow_none=True)


class ProxyExecutionListArgs(CursorPageArgs):
    outcome = ma.fields.String(metadata={"description": "Only executions with this outcome"})
