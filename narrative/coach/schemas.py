"""Payload shapes of the coach endpoints (narrative-sdk: camelCase via data_key)."""

import marshmallow as ma

from narrative.coach.service import PAYLOAD_TYPES
from narrative.money.schemas import FindingSchema
from narrative.platform.schemas import Schema


class BootstrapArgsSchema(Schema):
    as_of_date = ma.fields.String(
        load_default=None,
        data_key="asOfDate",
        metadata={"description": "Optional YYYY-MM-DD; default today (UTC)"},
    )


class CoachUserSchema(Schema):
    user_id = ma.fields.UUID(data_key="userId")
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)


class CoachTenantSchema(Schema):
    tenant_id = ma.fields.UUID(data_key="tenantId")
    name = ma.fields.String()


class MetricCardSummarySchema(Schema):
    """A metric card without its comparison details (GET /api/money/metrics has them all)."""

    id = ma.fields.String()
    title = ma.fields.String()
    value = ma.fields.Float(allow_none=True)
    unit = ma.fields.String()
    currency = ma.fields.String(allow_none=True)
    trend = ma.fields.String(allow_none=True)
    explanation = ma.fields.String()


class MetricsSummarySchema(Schema):
    as_of = ma.fields.Date(data_key="asOfDate")
    currency = ma.fields.String()
    cards = ma.fields.List(ma.fields.Nested(MetricCardSummarySchema))


class ChatSessionSchema(Schema):
    session_id = ma.fields.UUID(data_key="sessionId")
    chat_type = ma.fields.String(data_key="chatType")
    title = ma.fields.String(allow_none=True)
    as_of = ma.fields.String(allow_none=True, data_key="asOfDate")
    created_at = ma.fields.DateTime(data_key="createdAt")
    last_message_at = ma.fields.DateTime(allow_none=True, data_key="lastMessageAt")


class BootstrapSchema(Schema):
    """The coach's session object."""

    user_id = ma.fields.UUID(data_key="userId")
    tenant_id = ma.fields.UUID(data_key="tenantId")
    user = ma.fields.Nested(CoachUserSchema)
    tenant = ma.fields.Nested(CoachTenantSchema)
    as_of = ma.fields.Date(data_key="asOfDate")
    metrics = ma.fields.Nested(MetricsSummarySchema)
    top_actions = ma.fields.List(ma.fields.Nested(FindingSchema), data_key="topActions")
    open_action_count = ma.fields.Integer(data_key="openActionCount")
    opportunity_count = ma.fields.Integer(data_key="opportunityCount")
    sessions = ma.fields.List(ma.fields.Nested(ChatSessionSchema))
    suggested_prompts = ma.fields.List(ma.fields.String(), data_key="suggestedPrompts")


class ChatSessionCreateSchema(Schema):
    chat_type = ma.fields.String(
        required=True,
        data_key="chatType",
        validate=ma.validate.Regexp(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$", error="A short name, e.g. coach."),
        metadata={"description": "What the session is for, e.g. coach, money, growth"},
    )
    user_id = ma.fields.UUID(required=True, data_key="userId", metadata={"description": "Must be you"})
    as_of_date = ma.fields.String(
        load_default=None,
        data_key="asOfDate",
        metadata={"description": "Optional YYYY-MM-DD the coach looks at the books as of; default today"},
    )


class ChatSendSchema(Schema):
    session_id = ma.fields.UUID(required=True, data_key="sessionId")
    user_id = ma.fields.UUID(required=True, data_key="userId", metadata={"description": "Must be you"})
    payload_type = ma.fields.String(
        required=True, data_key="payloadType", validate=ma.validate.OneOf(PAYLOAD_TYPES)
    )
    payload = ma.fields.Raw(
        required=True,
        metadata={
            "description": 'text | prompt: the message (a string, or {"text": ...}); '
            'action: {"insightId": "act_..."} (or the id as a string)'
        },
    )
