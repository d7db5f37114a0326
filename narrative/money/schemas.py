"""Payload shapes of the money, growth and from_opp endpoints (narrative-sdk: camelCase via data_key)."""

import marshmallow as ma

from narrative.money.findings import ID_PATTERN
from narrative.money.models import STATUSES
from narrative.money.service import LIST_FILTERS
from narrative.platform.schemas import Schema

AS_OF_HELP = "The date to compute as of, YYYY-MM-DD (required; a bad or missing date is a 400)"


class AsOfArgsSchema(Schema):
    # A String, not a Date: a missing or malformed date is the seed's 400 with a clear message
    # (narrative.money.periods.parse_as_of), not a generic 422.
    as_of_date = ma.fields.String(
        load_default=None, data_key="asOfDate", metadata={"description": AS_OF_HELP}
    )


class FindingListArgsSchema(AsOfArgsSchema):
    status = ma.fields.String(
        load_default="open",
        validate=ma.validate.OneOf(LIST_FILTERS),
        metadata={"description": "open (default: open and expired snoozes), all, done, dismissed or snoozed"},
    )


class BreakdownSchema(Schema):
    category = ma.fields.String()
    amount = ma.fields.Float()
    share = ma.fields.Float(allow_none=True, metadata={"description": "Percent of the month's expenses"})
    previous_amount = ma.fields.Float(data_key="previousAmount")


class MetricCardSchema(Schema):
    id = ma.fields.String()
    title = ma.fields.String()
    value = ma.fields.Float(allow_none=True)
    unit = ma.fields.String(metadata={"description": "currency, months or percent"})
    currency = ma.fields.String(allow_none=True)
    trend = ma.fields.String(allow_none=True, metadata={"description": "up, down or flat"})
    previous_value = ma.fields.Float(allow_none=True, data_key="previousValue")
    period = ma.fields.String(allow_none=True, metadata={"description": "YYYY-MM of the month shown"})
    explanation = ma.fields.String()
    breakdown = ma.fields.List(ma.fields.Nested(BreakdownSchema))


class MetricsSchema(Schema):
    as_of = ma.fields.Date(data_key="asOfDate")
    currency = ma.fields.String()
    cards = ma.fields.List(ma.fields.Nested(MetricCardSchema))


class FindingSchema(Schema):
    id = ma.fields.String(metadata={"description": "Stable: the same finding has the same id"})
    kind = ma.fields.String()
    title = ma.fields.String()
    why = ma.fields.String()
    impact = ma.fields.Float(data_key="estimatedMonthlyImpact")
    currency = ma.fields.String()
    priority = ma.fields.String(metadata={"description": "high, medium or low"})
    status = ma.fields.String(metadata={"description": "open, done, dismissed or snoozed"})
    reason = ma.fields.String(allow_none=True)
    status_updated_at = ma.fields.DateTime(allow_none=True, data_key="statusUpdatedAt")
    snoozed_until = ma.fields.DateTime(allow_none=True, data_key="snoozedUntil")


class ActionListSchema(Schema):
    as_of = ma.fields.Date(data_key="asOfDate")
    currency = ma.fields.String()
    items = ma.fields.List(ma.fields.Nested(FindingSchema))
    total = ma.fields.Integer()


class OpportunitySchema(FindingSchema):
    project_id = ma.fields.UUID(allow_none=True, data_key="projectId")


class OpportunityListSchema(ActionListSchema):
    items = ma.fields.List(ma.fields.Nested(OpportunitySchema))


class ActionStatusSetSchema(Schema):
    user_id = ma.fields.UUID(required=True, data_key="userId", metadata={"description": "Must be you"})
    insight_id = ma.fields.String(
        required=True,
        data_key="insightId",
        validate=ma.validate.Regexp(ID_PATTERN, error="Not an action or opportunity id."),
    )
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    reason = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=2000))


class ActionStatusResultSchema(Schema):
    ok = ma.fields.Boolean()
    insight_id = ma.fields.String(data_key="insightId")
    status = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    updated_at = ma.fields.DateTime(data_key="updatedAt")


class ProjectFromOppSchema(Schema):
    insight_id = ma.fields.String(
        required=True,
        data_key="insightId",
        validate=ma.validate.Regexp(r"^opp_[0-9a-f]{16}$", error="Not a growth opportunity id."),
    )
    as_of_date = ma.fields.String(
        load_default=None,
        data_key="asOfDate",
        metadata={"description": "Optional: the date the opportunity was listed as of"},
    )


class ProjectFromOppResultSchema(Schema):
    project_id = ma.fields.UUID(data_key="projectId")
    insight_id = ma.fields.String(data_key="insightId")
    is_active = ma.fields.Boolean(data_key="isActive")
    name = ma.fields.String()
    status = ma.fields.String()
    created = ma.fields.Boolean(metadata={"description": "False when the project already existed"})
