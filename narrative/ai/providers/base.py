"""The provider interface every AI adapter implements, and the values it exchanges.

A provider declares what it can do in `supports` ("chat", "tools", "stream", "embeddings",
"image", "vision", "transcription"); asking for anything else raises `ProviderNotConfigured`
(503 provider_not_configured) naming the settings that would enable it.

Messages are plain dicts in the OpenAI shape, whatever the adapter speaks on the wire::

    {"role": "system"|"user"|"assistant"|"tool", "content": str,
     "tool_calls": [{"id", "name", "arguments"}], "tool_call_id": str}
"""

import base64
import binascii
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from narrative.platform.errors import ApiError, ProviderNotConfigured

CHARS_PER_TOKEN = 4
FUNCTIONS = ("chat", "embeddings", "image", "vision", "transcription")


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def total(self):
        return self.tokens_in + self.tokens_out


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: dict = field(default_factory=dict)

    def as_message_part(self):
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass
class ChatResult:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"  # stop | tool_calls | length | cancelled
    model: str | None = None


@dataclass
class ChatDelta:
    content: str | None = None
    tool_call: ToolCall | None = None
    usage: Usage | None = None
    done: bool = False
    finish_reason: str | None = None


@dataclass
class AiContext:
    """Who asks and why: read by the AI call log and by the local provider's retrieval."""

    workspace_id: object
    user_id: object = None
    function: str = "chat"
    conversation_id: object = None


@dataclass
class ImageResult:
    images: list[dict]  # [{"url"?, "b64_json"?, "revised_prompt"?}]
    usage: Usage = field(default_factory=Usage)


@dataclass
class VisionResult:
    content: str
    details: list[dict] = field(default_factory=list)  # per image facts (local provider)
    usage: Usage = field(default_factory=Usage)


@dataclass
class Transcription:
    text: str
    language: str | None = None
    duration_seconds: float | None = None
    usage: Usage = field(default_factory=Usage)


class ProviderError(ApiError):
    """The provider answered with an error or not at all: a 502 naming the provider."""

    status = 502
    code = "provider_error"


class ProviderTimeout(ProviderError):
    status = 504
    code = "provider_timeout"


def estimate_tokens(text):
    """About 4 characters a token: what the local provider reports and the fallback elsewhere."""
    if not text:
        return 0
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def message_text(messages):
    parts = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):  # multi-part content (text + images)
            content = " ".join(part.get("text", "") for part in content if isinstance(part, dict))
        if content:
            parts.append(str(content))
    return "\n".join(parts)


_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w=.-]+)*;base64,(?P<data>.*)$", re.S)


def image_bytes(image):
    """(bytes, mime type or None) of an image given as bytes, a data URL or bare base64."""
    if isinstance(image, bytes | bytearray):
        return bytes(image), None
    text = str(image).strip()
    match = _DATA_URL.match(text)
    mime, payload = (match.group("mime"), match.group("data")) if match else (None, text)
    try:
        return base64.b64decode(payload, validate=False), mime
    except (binascii.Error, ValueError):
        return b"", mime


def data_url(image, default_mime="image/png"):
    """An image as a data URL (what OpenAI-compatible vision takes)."""
    if isinstance(image, str) and image.startswith("data:"):
        return image
    data, mime = image_bytes(image)
    return f"data:{mime or default_mime};base64,{base64.b64encode(data).decode()}"


class Provider:
    """Base class: adapters override what they support; the rest says which settings to set."""

    name = "base"
    supports: frozenset = frozenset()
    # The settings an administrator sets to get a function this provider lacks.
    settings_hint = "Set an OpenAI-compatible or Anthropic provider in the workspace's AI settings"

    def __init__(self, *, model=None, models=None):
        self.model = model
        self.models = models or {}

    def _unsupported(self, function):
        raise ProviderNotConfigured(
            f"The {self.name} provider cannot do {function}. {self.settings_hint} "
            f"(PUT /api/v1/ai/settings: providers.openai.api_key, defaults.{function})."
        )

    def require(self, function):
        if function not in self.supports:
            self._unsupported(function)

    def chat(self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None):
        self._unsupported("chat")

    def stream_chat(
        self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None
    ) -> Iterator[ChatDelta]:
        """Default streaming: one chat call replayed as deltas (adapters stream for real)."""
        result = self.chat(
            messages,
            tools=tools,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            context=context,
        )
        if result.content:
            yield ChatDelta(content=result.content)
        for call in result.tool_calls:
            yield ChatDelta(tool_call=call)
        yield ChatDelta(usage=result.usage, done=True, finish_reason=result.finish_reason)

    def embed(self, texts, *, model=None, context=None):
        self._unsupported("embeddings")

    def generate_image(self, prompt, *, model=None, size=None, n=1, context=None):
        self._unsupported("image")

    def analyze_images(self, images, prompt, *, model=None, context=None):
        """`images`: list of bytes or data URLs."""
        self._unsupported("vision")

    def transcribe(self, data, *, filename, content_type=None, model=None, language=None, context=None):
        self._unsupported("transcription")

    def model_for(self, function, model=None):
        return model or self.models.get(function) or self.model

    def list_models(self):
        """[{id, provider, functions}] of the models this provider is configured with."""
        return [{"id": m, "provider": self.name, "function": f} for f, m in self.models.items() if m]
