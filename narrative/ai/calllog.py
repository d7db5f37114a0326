"""The AI call log: every provider call, recorded by one wrapper so no adapter can forget.

`get_provider` hands out a `LoggedProvider` around the adapter. Each call writes an `AiCall` row
(provider, model, function, user, workspace, tokens, cost, latency, status, error). The row joins
the caller's transaction; if that transaction rolls back (the request failed after the call), the
row is written on its own afterwards: the tokens were spent either way.

Cost comes from `PRICES` (US dollars per million tokens, input and output); unknown models and
the local provider cost 0.
"""

import logging
import time
from decimal import Decimal

import sqlalchemy as sa

from narrative.ai.models import AiCall
from narrative.ai.providers.base import AiContext, Usage, estimate_tokens
from narrative.extensions import db
from narrative.platform.models import new_id, utcnow
from narrative.platform.transactions import on_rollback

log = logging.getLogger("narrative.ai.calls")

MILLION = Decimal(1_000_000)
# model name prefix -> (input, output) US dollars per million tokens; longest prefix wins.
PRICES = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4.1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4.1": (Decimal("2.00"), Decimal("8.00")),
    "o3-mini": (Decimal("1.10"), Decimal("4.40")),
    "o4-mini": (Decimal("1.10"), Decimal("4.40")),
    "text-embedding-3-small": (Decimal("0.02"), Decimal("0")),
    "text-embedding-3-large": (Decimal("0.13"), Decimal("0")),
    "whisper-1": (Decimal("0"), Decimal("0")),
    "claude-3-5-haiku": (Decimal("0.80"), Decimal("4.00")),
    "claude-3-5-sonnet": (Decimal("3.00"), Decimal("15.00")),
    "claude-3-7-sonnet": (Decimal("3.00"), Decimal("15.00")),
    "claude-sonnet-4": (Decimal("3.00"), Decimal("15.00")),
    "claude-opus-4": (Decimal("15.00"), Decimal("75.00")),
    "claude-haiku-4": (Decimal("1.00"), Decimal("5.00")),
}
# Per generated image (dall-e-3 standard 1024x1024; gpt-image-1 medium).
IMAGE_PRICES = {"dall-e-3": Decimal("0.04"), "dall-e-2": Decimal("0.02"), "gpt-image-1": Decimal("0.042")}


def price_of(model):
    """(input, output) per million tokens for `model`, or None when it has no listed price."""
    if not model:
        return None
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def cost_of(*, provider, model, tokens_in, tokens_out, images=0):
    if provider == "local":
        return Decimal("0.000000")
    cost = Decimal("0")
    price = price_of(model)
    if price:
        cost += price[0] * tokens_in / MILLION + price[1] * tokens_out / MILLION
    if images:
        cost += IMAGE_PRICES.get(model or "", Decimal("0")) * images
    return cost.quantize(Decimal("0.000001"))


def _context_user():
    try:
        from narrative.platform.caller import current_caller

        caller = current_caller()
    except RuntimeError:  # outside a request (a job): the context must say who
        return None
    return getattr(caller, "user_id", None) if caller else None


def record_call(
    *, provider, model, context, operation, usage, started, status="success", error=None, images=0
):
    """Write one AiCall row (see the module docstring for the transaction rule)."""
    tokens_in, tokens_out = (usage.tokens_in, usage.tokens_out) if usage else (0, 0)
    values = {
        "id": new_id(),
        "workspace_id": context.workspace_id,
        "user_id": context.user_id,
        "provider": provider,
        "model": model,
        "function": (context.function or operation)[:60],
        "operation": operation,
        "tokens_in": int(tokens_in or 0),
        "tokens_out": int(tokens_out or 0),
        "cost": cost_of(
            provider=provider,
            model=model,
            tokens_in=tokens_in or 0,
            tokens_out=tokens_out or 0,
            images=images,
        ),
        "latency_ms": int((time.monotonic() - started) * 1000),
        "status": status,
        "error": (error or None) and str(error)[:2000],
        "conversation_id": str(context.conversation_id) if context.conversation_id else None,
        "created_at": utcnow(),
    }
    session = db.session()
    if session.get_transaction() is None:
        session.begin()
    session.add(AiCall(**values))

    def write_alone():
        with db.engine.begin() as connection:
            connection.execute(sa.insert(AiCall.__table__).values(**values))

    on_rollback(write_alone)
    return values


class LoggedProvider:
    """A provider whose every call is recorded in the AI log; otherwise the same interface."""

    def __init__(self, provider, *, workspace_id=None, function="chat"):
        self._provider = provider
        self._workspace_id = workspace_id
        self._function = function

    def __getattr__(self, name):  # name, model, models, supports, list_models...
        return getattr(self._provider, name)

    @property
    def inner(self):
        return self._provider

    def _context(self, context):
        if context is None:
            context = AiContext(
                workspace_id=self._workspace_id, user_id=_context_user(), function=self._function
            )
        elif context.user_id is None:
            context.user_id = _context_user()
        return context

    def _logged(self, operation, function, context, model, call, usage_of):
        self._provider.require(function)
        context = self._context(context)
        started = time.monotonic()
        model_name = self._provider.model_for(function, model)
        try:
            result = call(context)
        except Exception as exc:
            record_call(
                provider=self._provider.name,
                model=model_name,
                context=context,
                operation=operation,
                usage=None,
                started=started,
                status="error",
                error=getattr(exc, "message", None) or repr(exc),
            )
            raise
        usage, images = usage_of(result)
        record_call(
            provider=self._provider.name,
            model=getattr(result, "model", None) or model_name,
            context=context,
            operation=operation,
            usage=usage,
            started=started,
            images=images,
        )
        return result

    def chat(self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None):
        if tools:
            self._provider.require("tools")
        return self._logged(
            "chat",
            "chat",
            context,
            model,
            lambda ctx: self._provider.chat(
                messages,
                tools=tools,
                model=model,
                temperature=temperature,
                max_tokens=max_tokens,
                context=ctx,
            ),
            lambda result: (result.usage, 0),
        )

    def stream_chat(
        self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None
    ):
        """Deltas as the provider yields them; logged when the stream ends, fails or is closed.

        What the provider cannot do is refused here, before the first delta is asked for."""
        self._provider.require("stream")
        if tools:
            self._provider.require("tools")
        return self._stream(messages, tools, model, temperature, max_tokens, self._context(context))

    def _stream(self, messages, tools, model, temperature, max_tokens, context):
        model_name = self._provider.model_for("chat", model)
        started = time.monotonic()
        usage, status, error, produced = None, "cancelled", None, []
        try:
            for delta in self._provider.stream_chat(
                messages,
                tools=tools,
                model=model,
                temperature=temperature,
                max_tokens=max_tokens,
                context=context,
            ):
                if delta.content:
                    produced.append(delta.content)
                if delta.usage is not None:
                    usage = delta.usage
                if delta.done:
                    status = "success"
                yield delta
            status = "success"
        except GeneratorExit:
            status = "cancelled"
            raise
        except Exception as exc:
            status, error = "error", getattr(exc, "message", None) or repr(exc)
            raise
        finally:
            if usage is None:  # cut short: estimate what was exchanged so far
                usage = Usage(
                    tokens_in=estimate_tokens(" ".join(str(m.get("content") or "") for m in messages)),
                    tokens_out=estimate_tokens("".join(produced)),
                )
            record_call(
                provider=self._provider.name,
                model=model_name,
                context=context,
                operation="stream",
                usage=usage,
                started=started,
                status=status,
                error=error,
            )

    def embed(self, texts, *, model=None, context=None):
        texts = list(texts)
        return self._logged(
            "embed",
            "embeddings",
            context,
            model,
            lambda ctx: self._provider.embed(texts, model=model, context=ctx),
            lambda result: (
                getattr(self._provider, "last_usage", None)
                or Usage(tokens_in=sum(estimate_tokens(t) for t in texts)),
                0,
            ),
        )

    def generate_image(self, prompt, *, model=None, size=None, n=1, context=None):
        return self._logged(
            "image",
            "image",
            context,
            model,
            lambda ctx: self._provider.generate_image(prompt, model=model, size=size, n=n, context=ctx),
            lambda result: (result.usage, len(result.images)),
        )

    def analyze_images(self, images, prompt, *, model=None, context=None):
        return self._logged(
            "vision",
            "vision",
            context,
            model,
            lambda ctx: self._provider.analyze_images(images, prompt, model=model, context=ctx),
            lambda result: (result.usage, 0),
        )

    def transcribe(self, data, *, filename, content_type=None, model=None, language=None, context=None):
        return self._logged(
            "transcribe",
            "transcription",
            context,
            model,
            lambda ctx: self._provider.transcribe(
                data,
                filename=filename,
                content_type=content_type,
                model=model,
                language=language,
                context=ctx,
            ),
            lambda result: (result.usage, 0),
        )
