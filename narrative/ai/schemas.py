"""Request and response shapes of the AI endpoints."""

import marshmallow as ma

from narrative.platform.pagination import OffsetPageArgs
from narrative.platform.schemas import Schema

Raw = ma.fields.Raw
Str = ma.fields.String


class ProviderChoiceSchema(Schema):
    provider = Str(required=True)
    model = Str(allow_none=True)


class ProviderSettingsSchema(Schema):
    api_key = Str(allow_none=True, metadata={"description": "Write-only; shown masked"})
    base_url = Str(allow_none=True)
    models = ma.fields.Dict(keys=Str(), values=Str(allow_none=True), allow_none=True)


class AiSettingsUpdateSchema(Schema):
    defaults = ma.fields.Dict(keys=Str(), values=ma.fields.Nested(ProviderChoiceSchema, allow_none=True))
    providers = ma.fields.Dict(keys=Str(), values=ma.fields.Nested(ProviderSettingsSchema, allow_none=True))


class AiSettingsSchema(Schema):
    defaults = ma.fields.Dict(keys=Str(), values=Raw())
    providers = ma.fields.Dict(keys=Str(), values=Raw())


class UsageSchema(Schema):
    tokens_in = ma.fields.Integer()
    tokens_out = ma.fields.Integer()
    total_tokens = ma.fields.Integer()
    estimated_cost = Str()


class CompleteSchema(Schema):
    prompt = Str(required=True, validate=ma.validate.Length(min=1, max=100_000))
    model = Str(allow_none=True)
    system = Str(allow_none=True)
    temperature = ma.fields.Float(allow_none=True, validate=ma.validate.Range(min=0, max=2))
    max_tokens = ma.fields.Integer(allow_none=True, validate=ma.validate.Range(min=1, max=32_000))


class CompletionSchema(Schema):
    content = Str()
    model = Str()
    provider = Str()
    finish_reason = Str()
    usage = ma.fields.Nested(UsageSchema)


class ExtractSchema(Schema):
    text = Str(required=True, validate=ma.validate.Length(min=1, max=100_000))
    schema = ma.fields.Dict(required=True, metadata={"description": "A JSON Schema the result must satisfy"})
    instructions = Str(allow_none=True)


class ExtractionSchema(Schema):
    data = Raw()
    valid = ma.fields.Boolean()
    errors = ma.fields.List(Str())
    model = Str()
    provider = Str()
    usage = ma.fields.Nested(UsageSchema)


class AssistantSchema(Schema):
    assistant_type = Str(
        load_default="general_assistant",
        validate=ma.validate.OneOf(
            [
                "real_estate_analyzer",
                "underwriting_creator",
                "deal_evaluator",
                "educational_tutor",
                "general_assistant",
            ]
        ),
    )
    message = Str(required=True, validate=ma.validate.Length(min=1, max=20_000))
    context = ma.fields.Dict(load_default=dict, metadata={"description": "Deal inputs for the analyzers"})


class ExplainSchema(Schema):
    concept = Str(required=True, validate=ma.validate.Length(min=1, max=200))
    level = Str(load_default="beginner")


class DealSchema(Schema):
    """Deal inputs (see narrative.ai.finance.Deal); rates are fractions (0.065 = 6.5 %)."""

    class Meta:
        unknown = ma.INCLUDE

    purchase_price = ma.fields.Float(required=True)
    gross_rent = ma.fields.Float(metadata={"description": "Annual; or monthly_rent"})
    monthly_rent = ma.fields.Float()


class AssistantReplySchema(Schema):
    assistant_type = Str()
    response = Str()
    content = Str()
    metrics = Raw()
    analysis = Raw()
    explanation = Raw()
    underwriting = Raw()
    model = Str()
    provider = Str()
    usage = ma.fields.Nested(UsageSchema)


class ModelSchema(Schema):
    id = Str()
    name = Str()
    display_name = Str()
    provider = Str()
    functions = ma.fields.List(Str())
    context_window = ma.fields.Integer(allow_none=True)
    max_output_tokens = ma.fields.Integer(allow_none=True)
    input_price_per_million = Str(allow_none=True)
    output_price_per_million = Str(allow_none=True)
    capabilities = ma.fields.List(Str())
    configured = ma.fields.Boolean()
    is_default = ma.fields.Boolean()


class ModelListSchema(Schema):
    models = ma.fields.List(ma.fields.Nested(ModelSchema))
    default_model = Str(allow_none=True)
    default_provider = Str()


class ImageGenerateSchema(Schema):
    prompt = Str(required=True, validate=ma.validate.Length(min=1, max=4000))
    model = Str(allow_none=True)
    size = Str(load_default="1024x1024")
    n = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=4))


class ImageResultSchema(Schema):
    images = ma.fields.List(ma.fields.Dict())
    model = Str()
    provider = Str()


class VisionSchema(Schema):
    images = ma.fields.List(Str(), required=True, validate=ma.validate.Length(min=1, max=5))
    prompt = Str(load_default="Describe these images.")
    model = Str(allow_none=True)


class VisionResultSchema(Schema):
    content = Str()
    analysis = Str()
    images = ma.fields.List(ma.fields.Dict())
    model = Str()
    provider = Str()
    usage = ma.fields.Nested(UsageSchema)


class TranscriptionSchema(Schema):
    text = Str()
    language = Str(allow_none=True)
    duration_seconds = ma.fields.Float(allow_none=True)
    model = Str()
    provider = Str()


class PromptListSchema(Schema):
    prompts = ma.fields.List(Str())
    contexts = ma.fields.List(ma.fields.Dict())


class PromptSchema(Schema):
    context = Str()
    name = Str()
    description = Str()
    prompt = Str()
    system_prompt = Str()


class RagHealthSchema(Schema):
    status = Str()
    embedder = Str()
    dimensions = ma.fields.Integer()
    vector_backend = Str()
    chunks = ma.fields.Integer()
    documents = ma.fields.Integer()


class AiLogListArgs(OffsetPageArgs):
    provider = Str()
    model = Str()
    function = Str()
    status = Str()
    user_id = ma.fields.UUID()
    date_from = ma.fields.Date()
    date_to = ma.fields.Date()


class AiCallSchema(Schema):
    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    user_id = ma.fields.UUID(allow_none=True)
    provider = Str()
    model = Str(allow_none=True)
    function = Str()
    operation = Str()
    tokens_in = ma.fields.Integer()
    tokens_out = ma.fields.Integer()
    total_tokens = ma.fields.Integer()
    # A JSON number, as documented (a Decimal field would be written as a string); US dollars.
    cost = ma.fields.Float(metadata={"description": "Estimated cost in US dollars"})
    latency_ms = ma.fields.Integer()
    status = Str()
    error = Str(allow_none=True)
    conversation_id = Str(allow_none=True)
    created_at = ma.fields.DateTime()


class PeriodArgs(Schema):
    days = ma.fields.Integer(load_default=30, validate=ma.validate.Range(min=1, max=366))


class UsageArgs(Schema):
    start_date = ma.fields.Date()
    end_date = ma.fields.Date()
    model = Str()
    operation_type = Str()


def _raw_schema(name, fields, doc):
    return type(name, (ma.Schema,), {"__doc__": doc, **{field: Raw() for field in fields}})


AiStatsSchema = _raw_schema(
    "AiStatsSchema",
    [
        "calls",
        "total_calls",
        "tokens_in",
        "tokens_out",
        "total_tokens",
        "cost",
        "errors",
        "error_rate",
        "success_rate",
        "avg_latency_ms",
        "active_users",
        "calls_last_24h",
        "by_provider",
        "by_status",
    ],
    "Totals of the workspace's AI calls.",
)
TokenUsageSchema = _raw_schema(
    "TokenUsageSchema", ["totals", "daily", "by_model", "by_user", "by_function"], "Token usage breakdowns."
)
LeaderboardSchema = _raw_schema(
    "LeaderboardSchema", ["leaderboard", "total_users", "power_user_threshold"], "Users ranked by AI use."
)
LlmUsageSchema = _raw_schema(
    "LlmUsageSchema",
    [
        "start_date",
        "end_date",
        "total_requests",
        "total_tokens",
        "tokens_in",
        "tokens_out",
        "total_cost",
        "cost_by_model",
        "cost_by_operation",
        "daily",
    ],
    "LLM usage of the workspace over a period.",
)
