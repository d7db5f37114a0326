"""Request and response shapes of the webhook endpoints (core and neuromancer families)."""

import marshmallow as ma

from narrative.platform.pagination import CursorPageArgs, SkipLimitArgs
from narrative.platform.schemas import Schema
from narrative.webhooks import signing


class WebhookWriteSchema(Schema):
    """Create and update: neuromancer's `active` and core's `is_active` are the same flag."""

    url = ma.fields.String(validate=ma.validate.Length(min=1, max=2000))
    events = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=120)),
        metadata={"description": "Event types from GET /api/v1/webhooks/events, or ['*'] for all"},
    )
    headers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(),
        allow_none=True,
        metadata={"description": "Extra request headers sent with every delivery"},
    )
    is_active = ma.fields.Boolean(allow_none=True)
    active = ma.fields.Boolean(allow_none=True, load_only=True)
    description = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=500))
    secret = ma.fields.String(
        load_only=True,
        allow_none=True,
        metadata={"description": "Optional whsec_<base64> secret of your own; generated when omitted"},
    )

    @ma.post_load
    def merge_active(self, data, **kwargs):
        if "active" in data:
            value = data.pop("active")
            data.setdefault("is_active", value)
        return data


class WebhookCreateSchema(WebhookWriteSchema):
    url = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class WebhookSchema(Schema):
    id = ma.fields.UUID()
    url = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    events = ma.fields.List(ma.fields.String())
    headers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    is_active = ma.fields.Boolean()
    active = ma.fields.Function(
        lambda endpoint: endpoint.is_active, metadata={"description": "Same as is_active"}
    )
    secret = ma.fields.Method(
        "masked_secret",
        metadata={"description": "Masked; shown in full only on creation and on regenerate-secret"},
    )
    failing_since = ma.fields.DateTime(allow_none=True)
    disabled_at = ma.fields.DateTime(allow_none=True)
    disabled_reason = ma.fields.String(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()

    def masked_secret(self, endpoint):
        return signing.masked(endpoint.secret_last4)


class WebhookWithSecretSchema(WebhookSchema):
    """The one response that shows the secret: the endpoint's `secret_shown_once` attribute."""

    secret = ma.fields.String(attribute="secret_shown_once")


class WebhookListArgs(SkipLimitArgs):
    is_active = ma.fields.Boolean(load_default=None, allow_none=True)


class WebhookCountArgs(Schema):
    is_active = ma.fields.Boolean(load_default=None, allow_none=True)


class WebhookCountSchema(Schema):
    count = ma.fields.Integer()


class WebhookTestSchema(Schema):
    event = ma.fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "Event type to simulate (default: the first subscribed, or webhook.test)"},
    )
    event_type = ma.fields.String(load_default=None, allow_none=True, load_only=True)
    payload = ma.fields.Dict(
        load_default=None, allow_none=True, metadata={"description": "Data to send instead of the example"}
    )


class WebhookTestResultSchema(Schema):
    success = ma.fields.Boolean()
    status_code = ma.fields.Integer(allow_none=True)
    message = ma.fields.String()
    event = ma.fields.String()
    delivery_id = ma.fields.UUID()
    duration_ms = ma.fields.Integer()


class EventTypeSchema(Schema):
    name = ma.fields.String()
    event_type = ma.fields.Function(lambda item: item["name"], metadata={"description": "Same as name"})
    description = ma.fields.String()
    category = ma.fields.String()
    example = ma.fields.Dict()


class EventTypeListSchema(Schema):
    events = ma.fields.List(ma.fields.Nested(EventTypeSchema))
    event_types = ma.fields.List(ma.fields.String())


class DeliveryListArgs(CursorPageArgs):
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("scheduled", "sending", "succeeded", "failed"))
    )
    event_type = ma.fields.String(load_default=None)


class DeliveryAttemptSchema(Schema):
    """One attempt at delivering one message."""

    id = ma.fields.UUID()
    delivery_id = ma.fields.UUID()
    message_id = ma.fields.String(metadata={"description": "The webhook-id header receivers saw"})
    event_type = ma.fields.String()
    event_id = ma.fields.UUID(allow_none=True)
    is_test = ma.fields.Boolean()
    attempt_number = ma.fields.Integer()
    trigger = ma.fields.String(metadata={"description": "event, manual (redelivery) or test"})
    status = ma.fields.String(metadata={"description": "scheduled, sending, succeeded or failed"})
    delivery_status = ma.fields.String(metadata={"description": "The message: pending, succeeded or failed"})
    status_code = ma.fields.Integer(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    response_body = ma.fields.String(allow_none=True, metadata={"description": "First 2 KB"})
    error = ma.fields.String(allow_none=True)
    scheduled_for = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    next_retry_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    request_body = ma.fields.String(metadata={"description": "The signed JSON body"})
