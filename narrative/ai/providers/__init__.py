"""AI provider adapters: the interface (base), local (default, offline), OpenAI-compatible, Anthropic."""

from narrative.ai.providers.base import (  # noqa: F401
    AiContext,
    ChatDelta,
    ChatResult,
    ImageResult,
    Provider,
    ProviderError,
    ToolCall,
    Transcription,
    Usage,
    VisionResult,
)
