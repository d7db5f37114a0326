"""The core AI endpoints (assistant, LLM, RAG health, image, vision, transcription, prompts), the AI
settings, and neuromancer's /ai-logs. Views are thin: facts come from narrative.ai.finance and
narrative.ai.service, words from the workspace's provider (narrative.ai.get_provider)."""

import flask
import jsonschema
import marshmallow as ma
from flask import request

from narrative.ai import embedder, finance, prompts, retrieval, service
from narrative.ai.calllog import price_of
from narrative.ai.extraction import extraction_messages, parse_json_answer
from narrative.ai.models import AiCall
from narrative.ai.providers.base import AiContext, ProviderError
from narrative.ai.schemas import (
    AiCallSchema,
    AiLogListArgs,
    AiSettingsSchema,
    AiSettingsUpdateSchema,
    AiStatsSchema,
    AssistantReplySchema,
    AssistantSchema,
    CompleteSchema,
    CompletionSchema,
    DealSchema,
    ExplainSchema,
    ExtractionSchema,
    ExtractSchema,
    ImageGenerateSchema,
    ImageResultSchema,
    LeaderboardSchema,
    LlmUsageSchema,
    ModelListSchema,
    PeriodArgs,
    PromptListSchema,
    PromptSchema,
    RagHealthSchema,
    TokenUsageSchema,
    TranscriptionSchema,
    UsageArgs,
    VisionResultSchema,
    VisionSchema,
)
from narrative.ai.settings import (
    DEFAULT_MODELS,
    SUPPORTED,
    configured_providers,
    get_provider,
    public_settings,
    stored_settings,
    update_settings,
)
from narrative.identity.access import current_user, require
from narrative.identity.permissions import register_permissions
from narrative.platform import unit_of_work
from narrative.platform.api import Blueprint
from narrative.platform.errors import NotFound, ValidationFailed, flatten_messages
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.sse import HEADERS, frame
from narrative.platform.tenancy import current_workspace_id

register_permissions(
    "ai",
    {
        "ai.use": "Use the AI assistant, completions, image, vision and transcription",
        "ai.admin": "Choose AI providers and keys, and read the AI call log",
    },
)

blp = Blueprint(
    "ai", __name__, description="AI: assistant, LLM, retrieval, image, vision, transcription, logs"
)

TRANSCRIPTION_TYPES = {"webm", "mp3", "mp4", "wav", "m4a", "ogg", "flac", "mpeg", "mpga"}
TRANSCRIPTION_MAX_BYTES = 25 * 1024 * 1024
MODEL_LIMITS = {  # context window, max output tokens
    "gpt-4o": (128_000, 16_384),
    "gpt-4o-mini": (128_000, 16_384),
    "gpt-4.1": (1_047_576, 32_768),
    "claude": (200_000, 8_192),
    "local-retrieval-1": (8_000, 2_000),
}


def _context(function):
    return AiContext(workspace_id=current_workspace_id(), user_id=current_user().id, function=function)


def _usage(usage, provider_name, model):
    from narrative.ai.calllog import cost_of

    cost = cost_of(
        provider=provider_name, model=model, tokens_in=usage.tokens_in, tokens_out=usage.tokens_out
    )
    return {
        "tokens_in": usage.tokens_in,
        "tokens_out": usage.tokens_out,
        "total_tokens": usage.total,
        "estimated_cost": str(cost),
    }


def _phrase(function, system, facts, question=None):
    """Ask the workspace's chat provider to word computed facts; returns (text, result, provider)."""
    provider = get_provider(workspace_id=current_workspace_id(), function="chat")
    messages = [{"role": "system", "content": system}, prompts.facts_message(facts)]
    if question:
        messages.append({"role": "user", "content": question})
    result = provider.chat(messages, context=_context(function))
    return result.content, result, provider


def _reply(provider, result, **fields):
    return {
        **fields,
        "model": result.model or provider.model,
        "provider": provider.name,
        "usage": _usage(result.usage, provider.name, result.model or provider.model),
    }


# ---- settings: beyond the catalog (plain Flask routes, kept out of the OpenAPI document, which lists
# catalog entries only). neuromancer's /api/v1/settings entries can serve the same service functions.
extra = flask.Blueprint("ai_extra", __name__)


@extra.route("/api/v1/ai/settings", methods=["GET"])
@require("ai.admin")
def get_settings():
    """The workspace's AI providers (keys masked) and the provider and model of each function"""
    return AiSettingsSchema().dump(public_settings(current_workspace_id()))


@extra.route("/api/v1/ai/settings", methods=["PUT", "PATCH"])
@require("ai.admin")
def put_settings():
    """Change providers, keys (stored encrypted; a masked key sent back keeps the stored one) and defaults"""
    try:
        payload = AiSettingsUpdateSchema().load(request.get_json(silent=True) or {})
    except ma.ValidationError as exc:
        raise ValidationFailed(details=flatten_messages(exc.messages)) from None
    result = update_settings(workspace_id=current_workspace_id(), **payload)
    return AiSettingsSchema().dump(result)


# ---- AI Assistant -----------------------------------------------------------------------------


def _deal_facts(analysis):
    m = analysis["metrics"]
    return [
        ("Net operating income (NOI)", finance.money(m["noi"])),
        ("Cap rate", finance.percent(m["cap_rate"])),
        ("Annual debt service", finance.money(m["annual_debt_service"])),
        ("Debt service coverage ratio (DSCR)", "n/a" if m["dscr"] is None else f"{m['dscr']:.2f}"),
        ("Cash flow after debt service", finance.money(m["cash_flow"])),
        ("Cash-on-cash return", finance.percent(m["cash_on_cash"])),
        ("Verdict", analysis["verdict"]),
        *[("Risk", risk) for risk in analysis["risks"]],
    ]


@blp.route("/api/v1/ai/assistant", methods=["POST"])
@blp.operation(
    "core.ai-assistant.ask",
    description="assistant_type picks the assistant; the analyzers compute metrics from `context` (deal inputs) "
    "before the provider words them; general_assistant answers from the workspace's data.",
)
@require("ai.use")
@blp.arguments(AssistantSchema)
@blp.response(200, AssistantReplySchema)
def assistant(payload):
    """General AI assistant endpoint"""
    kind, message, deal_inputs = payload["assistant_type"], payload["message"], payload["context"]
    if kind in ("real_estate_analyzer", "deal_evaluator", "underwriting_creator") and deal_inputs:
        analysis = finance.analyze(finance.deal_from(deal_inputs))
        text, result, provider = _phrase(kind, prompts.system_prompt(kind), _deal_facts(analysis), message)
        return _reply(
            provider,
            result,
            assistant_type=kind,
            response=text,
            content=text,
            metrics=analysis["metrics"],
            analysis=analysis,
        )
    provider = get_provider(workspace_id=current_workspace_id(), function="chat")
    messages = [
        {"role": "system", "content": prompts.system_prompt(kind)},
        {"role": "user", "content": message},
    ]
    result = provider.chat(messages, context=_context(kind))
    return _reply(provider, result, assistant_type=kind, response=result.content, content=result.content)


@blp.route("/api/v1/ai/explain", methods=["POST"])
@blp.operation("core.ai-assistant.explain")
@require("ai.use")
@blp.arguments(ExplainSchema)
@blp.response(200, AssistantReplySchema)
def explain(payload):
    """Explain an educational concept"""
    known = finance.explain_concept(payload["concept"])
    if known is None:
        provider = get_provider(workspace_id=current_workspace_id(), function="chat")
        messages = [
            {"role": "system", "content": prompts.system_prompt("educational_tutor")},
            {"role": "user", "content": f"Explain {payload['concept']} ({payload['level']} level)."},
        ]
        result = provider.chat(messages, context=_context("explain"))
        explanation = {
            "concept": payload["concept"],
            "steps": [result.content],
            "examples": [],
            "follow_up_questions": [],
        }
        return _reply(
            provider, result, response=result.content, content=result.content, explanation=explanation
        )
    key, definition, example = known
    facts = [(key.upper() if key in ("noi", "dscr") else key.capitalize(), definition), *example]
    text, result, provider = _phrase("explain", prompts.system_prompt("educational_tutor"), facts)
    explanation = {
        "concept": key,
        "definition": definition,
        "steps": [f"{label}: {value}" for label, value in facts],
        "examples": [dict(zip(("label", "value"), pair, strict=True)) for pair in example],
        "visual_description": f"A bar from purchase price down to {key}, with each input labelled.",
        "follow_up_questions": [f"How does {key} change if the rent rises 10%?", f"What is a good {key}?"],
    }
    return _reply(provider, result, response=text, content=text, explanation=explanation)


@blp.route("/api/v1/ai/real-estate/analyze", methods=["POST"])
@blp.operation("core.ai-assistant.analyze")
@require("ai.use")
@blp.arguments(DealSchema)
@blp.response(200, AssistantReplySchema)
def analyze_deal(payload):
    """Analyze a real estate deal or property"""
    analysis = finance.analyze(finance.deal_from(payload))
    text, result, provider = _phrase(
        "real_estate_analysis", prompts.system_prompt("real_estate_analyzer"), _deal_facts(analysis)
    )
    return _reply(
        provider,
        result,
        assistant_type="real_estate_analyzer",
        response=text,
        content=text,
        metrics=analysis["metrics"],
        analysis=analysis,
    )


@blp.route("/api/v1/ai/underwriting", methods=["POST"])
@blp.operation("core.ai-assistant.create-underwriting")
@require("ai.use")
@blp.arguments(DealSchema)
@blp.response(200, AssistantReplySchema)
def underwriting(payload):
    """Create a comprehensive underwriting model"""
    model = finance.pro_forma(finance.deal_from(payload))
    m = model["metrics"]
    facts = [
        ("IRR", finance.percent(m["irr"])),
        ("NPV", finance.money(m["npv"])),
        ("Equity multiple", "n/a" if m["equity_multiple"] is None else f"{m['equity_multiple']:.2f}x"),
        ("Year-one cash-on-cash", finance.percent(m["cash_on_cash_year_one"])),
        ("Cap rate", finance.percent(m["cap_rate"])),
        ("Year-one DSCR", "n/a" if m["dscr_year_one"] is None else f"{m['dscr_year_one']:.2f}"),
        ("Exit sale price", finance.money(model["exit"]["sale_price"])),
    ]
    text, result, provider = _phrase("underwriting", prompts.system_prompt("underwriting_creator"), facts)
    return _reply(
        provider,
        result,
        assistant_type="underwriting_creator",
        response=text,
        content=text,
        metrics=m,
        underwriting=model,
    )


# ---- AI - LLM ---------------------------------------------------------------------------------


def _model_entry(model_id, provider_name, functions, *, configured, default):
    price = price_of(model_id)
    limits = next(
        (v for k, v in sorted(MODEL_LIMITS.items(), key=lambda kv: -len(kv[0])) if model_id.startswith(k)),
        (None, None),
    )
    capabilities = sorted(
        {"streaming" if f == "chat" else f for f in functions} | ({"tools"} if "chat" in functions else set())
    )
    return {
        "id": model_id,
        "name": model_id,
        "display_name": model_id,
        "provider": provider_name,
        "functions": sorted(functions),
        "context_window": limits[0],
        "max_output_tokens": limits[1],
        "input_price_per_million": str(price[0]) if price else ("0" if provider_name == "local" else None),
        "output_price_per_million": str(price[1]) if price else ("0" if provider_name == "local" else None),
        "capabilities": capabilities,
        "configured": configured,
        "is_default": default,
    }


def _models_for(function):
    ws = current_workspace_id()
    settings = stored_settings(ws)
    chosen = public_settings(ws)["defaults"][function]
    configured = set(configured_providers(settings)) | {"local"}
    models = {}
    for name in ("local", "openai", "anthropic"):
        if function not in SUPPORTED[name]:
            continue
        names = {"local-retrieval-1"} if name == "local" else set(DEFAULT_MODELS.get(name, {}).values())
        entry_models = ((settings.get("providers") or {}).get(name) or {}).get("models") or {}
        names |= {m for m in entry_models.values() if m}
        for model_id in sorted(names):
            functions = {f for f, m in DEFAULT_MODELS.get(name, {}).items() if m == model_id} or set(
                SUPPORTED[name]
            )
            if name == "local":
                functions = SUPPORTED["local"]
            if function not in functions:
                continue
            models[model_id] = _model_entry(
                model_id,
                name,
                functions,
                configured=name in configured,
                default=chosen["provider"] == name and chosen["model"] == model_id,
            )
    return {
        "models": list(models.values()),
        "default_model": chosen["model"],
        "default_provider": chosen["provider"],
    }


@blp.route("/api/v1/ai/llm/models")
@blp.operation("core.ai-llm.list-models")
@require("ai.use")
@blp.response(200, ModelListSchema)
def list_llm_models():
    """List available LLM models (configured ones marked; the workspace default highlighted)"""
    return _models_for("chat")


@blp.route("/api/v1/ai/llm/usage")
@blp.operation("core.ai-llm.usage")
@require("ai.use")
@blp.arguments(UsageArgs, location="query")
@blp.response(200, LlmUsageSchema)
def llm_usage(args):
    """Get LLM usage statistics for the workspace"""
    return service.llm_usage(**args)


def _completion_messages(payload):
    messages = []
    if payload.get("system"):
        messages.append({"role": "system", "content": payload["system"]})
    messages.append({"role": "user", "content": payload["prompt"]})
    return messages


@blp.route("/api/v1/ai/llm/complete", methods=["POST"])
@blp.operation("core.ai-llm.complete")
@require("ai.use")
@blp.arguments(CompleteSchema)
@blp.response(200, CompletionSchema)
def complete(payload):
    """Complete a prompt using the workspace's default LLM model (the `model` field is accepted, not used)"""
    provider = get_provider(workspace_id=current_workspace_id(), function="chat")
    result = provider.chat(
        _completion_messages(payload),
        temperature=payload.get("temperature"),
        max_tokens=payload.get("max_tokens"),
        context=_context("completion"),
    )
    return _reply(provider, result, content=result.content, finish_reason=result.finish_reason)


@blp.route("/api/v1/ai/llm/complete/stream", methods=["POST"])
@blp.operation(
    "core.ai-llm.complete-stream",
    description='SSE: `data: {"content": "<piece>", "done": false}` per chunk, then '
    '`data: {"content": "", "done": true, "usage": {...}}`; a failure ends with `{"error": ..., "done": true}`.',
)
@require("ai.use")
@blp.arguments(CompleteSchema)
@blp.response(200, description="text/event-stream of {content, done} frames")
def complete_stream(payload):
    """Stream LLM completion in real-time using Server-Sent Events (SSE)"""
    provider = get_provider(workspace_id=current_workspace_id(), function="chat")
    deltas = provider.stream_chat(
        _completion_messages(payload),
        temperature=payload.get("temperature"),
        max_tokens=payload.get("max_tokens"),
        context=_context("completion"),
    )

    # Its own generator, not narrative.platform.sse's: that one relays a Redis stream written by a
    # job, and this completion streams straight from the provider, in this request (no worker).
    def frames():
        try:
            for delta in deltas:
                if delta.content:
                    yield frame({"content": delta.content, "done": False})
                if delta.done:
                    usage = _usage(delta.usage, provider.name, provider.model) if delta.usage else None
                    yield frame({"content": "", "done": True, "usage": usage})
        except Exception as exc:  # the stream has started: the error travels as a frame
            yield frame({"error": getattr(exc, "message", None) or "The provider failed.", "done": True})
        finally:
            deltas.close()  # ends the call: its AI log row is written now, after the view's commit
            unit_of_work.finish_streamed_work()

    return flask.Response(flask.stream_with_context(frames()), mimetype="text/event-stream", headers=HEADERS)


@blp.route("/api/v1/ai/llm/extract", methods=["POST"])
@blp.operation("core.ai-llm.extract")
@require("ai.use")
@blp.arguments(ExtractSchema)
@blp.response(200, ExtractionSchema)
def extract(payload):
    """Extract structured data from text; the answer is validated against the request's JSON Schema"""
    schema = payload["schema"]
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValidationFailed(
            details=[{"field": "schema", "message": f"Not a valid JSON Schema: {exc.message}"}]
        ) from None
    provider = get_provider(workspace_id=current_workspace_id(), function="chat")
    result = provider.chat(
        extraction_messages(payload["text"], schema, payload.get("instructions")),
        temperature=0,
        context=_context("extraction"),
    )
    data = parse_json_answer(result.content)
    if data is None:
        raise ProviderError(f"The {provider.name} provider did not answer with JSON.")
    problems = sorted(jsonschema.Draft202012Validator(schema).iter_errors(data), key=lambda e: list(e.path))
    errors = [f"{'.'.join(str(p) for p in e.path) or '(root)'}: {e.message}" for e in problems]
    if errors:
        raise ProviderError(
            f"The {provider.name} provider's answer does not match the schema.",
            extra={"errors": errors, "data": data},
        )
    return _reply(provider, result, data=data, valid=True, errors=[])


# ---- AI - RAG ---------------------------------------------------------------------------------


@blp.route("/api/v1/ai/rag/health")
@blp.operation("core.ai-rag.health")
@require()
@blp.response(200, RagHealthSchema)
def rag_health():
    """Health check for RAG service: the embedder works and the chunk table answers"""
    probe = embedder.embed_text("health check")
    counts = retrieval.stats()
    return {
        "status": "ok" if len(probe) == embedder.DIMENSIONS else "degraded",
        "embedder": embedder.NAME,
        "dimensions": embedder.DIMENSIONS,
        "vector_backend": "numpy" if retrieval.numpy is not None else "python",
        **counts,
    }


# ---- AI - Image -------------------------------------------------------------------------------


@blp.route("/api/v1/ai/image/models")
@blp.operation("core.ai-image.list-models")
@require("ai.use")
@blp.response(200, ModelListSchema)
def list_image_models():
    """List available Image Generation models"""
    return _models_for("image")


@blp.route("/api/v1/ai/image/generate", methods=["POST"])
@blp.operation("core.ai-image.generate")
@require("ai.use")
@blp.arguments(ImageGenerateSchema)
@blp.response(200, ImageResultSchema)
def generate_image(payload):
    """Generate images with the requested model or the workspace default; images are kept in storage"""
    import base64

    from narrative.platform.storage import signed_download_url, store_file

    ws = current_workspace_id()
    provider = get_provider(workspace_id=ws, function="image")
    result = provider.generate_image(
        payload["prompt"],
        model=payload.get("model"),
        size=payload["size"],
        n=payload["n"],
        context=_context("image"),
    )
    images = []
    for index, image in enumerate(result.images):
        entry = {k: v for k, v in image.items() if k != "b64_json"}
        if image.get("b64_json"):
            stored = store_file(
                workspace_id=ws,
                data=base64.b64decode(image["b64_json"]),
                filename=f"generated-{index + 1}.png",
                content_type="image/png",
                owner_id=current_user().id,
                purpose="ai-image",
            )
            entry.update(file_id=str(stored.id), url=signed_download_url(stored))
        images.append(entry)
    return {
        "images": images,
        "model": provider.model_for("image", payload.get("model")),
        "provider": provider.name,
    }


# ---- AI - Vision ------------------------------------------------------------------------------


@blp.route("/api/v1/ai/vision/analyze", methods=["POST"])
@blp.operation("core.ai-vision.analyze")
@require("ai.use")
@blp.arguments(VisionSchema)
@blp.response(200, VisionResultSchema)
def analyze_images(payload):
    """Analyze 1 to 5 images (data URLs) with a prompt"""
    provider = get_provider(workspace_id=current_workspace_id(), function="vision")
    result = provider.analyze_images(
        payload["images"], payload["prompt"], model=payload.get("model"), context=_context("vision")
    )
    model = provider.model_for("vision", payload.get("model"))
    return {
        "content": result.content,
        "analysis": result.content,
        "images": result.details,
        "model": model,
        "provider": provider.name,
        "usage": _usage(result.usage, provider.name, model),
    }


# ---- AI - Transcription -----------------------------------------------------------------------


@blp.route("/api/v1/ai/transcription/transcribe", methods=["POST"])
@blp.operation("core.ai-transcription.transcribe")
@require("ai.use")
@blp.response(200, TranscriptionSchema)
def transcribe():
    """Transcribe an audio file (multipart `file`: webm, mp3, mp4, wav, m4a, ogg, flac; at most 25 MB)"""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed(details=[{"field": "file", "message": "An audio file is required."}])
    extension = upload.filename.rsplit(".", 1)[-1].lower() if "." in upload.filename else ""
    if extension not in TRANSCRIPTION_TYPES:
        raise ValidationFailed(
            details=[{"field": "file", "message": "Accepted formats: webm, mp3, mp4, wav, m4a, ogg, flac."}]
        )
    data = upload.read(TRANSCRIPTION_MAX_BYTES + 1)
    if len(data) > TRANSCRIPTION_MAX_BYTES:
        raise ValidationFailed(details=[{"field": "file", "message": "At most 25 MB."}])
    provider = get_provider(workspace_id=current_workspace_id(), function="transcription")
    result = provider.transcribe(
        data,
        filename=upload.filename,
        content_type=upload.mimetype,
        language=request.form.get("language"),
        context=_context("transcription"),
    )
    return {
        "text": result.text,
        "language": result.language,
        "duration_seconds": result.duration_seconds,
        "model": provider.model_for("transcription"),
        "provider": provider.name,
    }


# ---- AI Prompts -------------------------------------------------------------------------------


@blp.route("/api/v1/ai/prompts")
@blp.operation("core.ai-prompts.list")
@require()
@blp.response(200, PromptListSchema)
def list_prompts():
    """List all available prompt contexts"""
    names = prompts.prompt_names()
    return {
        "prompts": names,
        "contexts": [
            {
                "context": n,
                "name": prompts.PROMPTS[n]["name"],
                "description": prompts.PROMPTS[n]["description"],
            }
            for n in names
        ],
    }


@blp.route("/api/v1/ai/prompts/<string:context>")
@blp.operation("core.ai-prompts.get")
@require()
@blp.response(200, PromptSchema)
def get_prompt(context):
    """Get a specific system prompt by context name"""
    entry = prompts.get_prompt(context)
    if entry is None:
        raise NotFound(f"No prompt exists for the context {context!r}.")
    return {"context": context, **entry, "system_prompt": entry["prompt"]}


# ---- neuromancer Observability: the AI log ----------------------------------------------------


@blp.route("/api/v1/ai-logs")
@blp.operation("neuromancer.observability.ai-logs-list")
@require("ai.admin")
@blp.arguments(AiLogListArgs, location="query")
@blp.response(200, page_schema(AiCallSchema, "offset"))
def list_ai_logs(args):
    """List the workspace's AI calls, newest first (filters: provider, model, function, status, user_id, dates)"""
    filters = {
        k: args.pop(k)
        for k in ("provider", "model", "function", "status", "user_id", "date_from", "date_to")
        if k in args
    }
    return paginate(service.log_query(**filters), args, style="offset", order_by=[AiCall.created_at.desc()])


@blp.route("/api/v1/ai-logs/stats")
@blp.operation("neuromancer.observability.ai-logs-stats")
@require("ai.admin")
@blp.response(200, AiStatsSchema)
def ai_log_stats():
    """Summary of the workspace's AI calls"""
    return service.stats()


@blp.route("/api/v1/ai-logs/token-usage")
@blp.operation("neuromancer.observability.ai-logs-token-usage")
@require("ai.admin")
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, TokenUsageSchema)
def ai_token_usage(args):
    """Token usage daily, by model, by user and by function (last `days` days)"""
    from datetime import UTC, datetime, timedelta

    return service.token_usage(since=datetime.now(UTC) - timedelta(days=args["days"]))


@blp.route("/api/v1/ai-logs/leaderboard")
@blp.operation("neuromancer.observability.ai-logs-leaderboard")
@require("ai.admin")
@blp.arguments(PeriodArgs, location="query")
@blp.response(200, LeaderboardSchema)
def ai_leaderboard(args):
    """Users ranked by score, with badges champion, top3 and power_user (last `days` days)"""
    from datetime import UTC, datetime, timedelta

    return service.leaderboard(since=datetime.now(UTC) - timedelta(days=args["days"]))
