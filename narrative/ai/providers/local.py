"""The local provider: the default, offline, and honest about what it knows.

- chat: answers from retrieval over the workspace's own data and cites what it used
  ("From <title>: ..."); says "I found nothing in this workspace about X" when retrieval finds
  nothing. When a request clearly asks for a tool it was offered ("create a task ...",
  "search for ..."), it calls that tool; once the tool's result is in the conversation it reports it.
  Messages carrying computed facts (`prompts.PHRASE_ONLY`) are worded as sentences, figures untouched.
- stream_chat: the same reply in word chunks, then complete tool calls, then usage.
- embeddings: the feature-hashing embedder (narrative.ai.embedder).
- vision: format, size, dominant colours (Pillow) and OCR text when pytesseract and tesseract exist.
- image generation and transcription: not available; ProviderNotConfigured names the settings.
Token counts are estimated at about 4 characters a token.
"""

import io
import json
import re
import shutil
import uuid

from narrative.ai import embedder
from narrative.ai.extraction import extract_locally, schema_of
from narrative.ai.prompts import PHRASE_ONLY
from narrative.ai.providers.base import (
    ChatDelta,
    ChatResult,
    Provider,
    ToolCall,
    Usage,
    VisionResult,
    estimate_tokens,
    image_bytes,
    message_text,
)
from narrative.ai.tools import tool_names
from narrative.platform.errors import ValidationFailed

MODEL = "local-retrieval-1"
MAX_HITS = 4
SENTENCES_PER_HIT = 2

# (tool, pattern giving the argument, argument name): the request must clearly ask for the tool.
_TOOL_INTENTS = (
    (
        "create_task",
        re.compile(
            r"^(?:please\s+)?(?:create|add|make|new)\s+(?:a\s+|an\s+|the\s+)?(?:new\s+)?(?:task|to-?do)"
            r"(?:\s+(?:called|named|titled|to|for|:))?\s*[:\-]?\s*(?P<arg>.+)$",
            re.I,
        ),
        "title",
    ),
    ("create_task", re.compile(r"^(?:please\s+)?remind me to\s+(?P<arg>.+)$", re.I), "title"),
    (
        "search_workspace",
        re.compile(
            r"^(?:please\s+)?(?:search|look up|find)(?:\s+(?:the\s+)?workspace)?(?:\s+for)?\s+(?P<arg>.+)$",
            re.I,
        ),
        "query",
    ),
)


def _last(messages, role):
    for message in reversed(messages):
        if message.get("role") == role:
            return message
    return None


def _text_of(message):
    return message_text([message]) if message else ""


def _topic(question):
    return question.strip().rstrip("?.! ") or "that"


def _sentences(text):
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text) if s.strip()]


def _best_sentences(text, query_words, limit=SENTENCES_PER_HIT):
    """The sentences of a chunk that share the most words with the question, in their order."""
    sentences = _sentences(text)
    scored = [(len(query_words & set(embedder.words(s))), i) for i, s in enumerate(sentences)]
    chosen = sorted(i for _, i in sorted(scored, key=lambda p: (-p[0], p[1]))[:limit])
    return " ".join(sentences[i] for i in chosen)


def _phrased_facts(text):
    """Turn '- label: value' fact lines into sentences, keeping every figure as given."""
    facts = re.findall(r"^- (.+?):\s*(.+)$", text.split("Facts:", 1)[-1], re.M)
    return " ".join(
        f"{label.strip()[:1].upper()}{label.strip()[1:]} is {value.strip().rstrip('.')}."
        for label, value in facts
    )


class LocalProvider(Provider):
    name = "local"
    supports = frozenset({"chat", "tools", "stream", "embeddings", "vision"})
    settings_hint = (
        "The local provider works offline and cannot do this; configure an OpenAI-compatible provider "
        "(base_url and api_key) in the workspace's AI settings"
    )

    def __init__(self, *, model=None, models=None):
        super().__init__(model=model or MODEL, models=models)

    # ---- chat ---------------------------------------------------------------------------------

    def _tool_call_for(self, question, tools):
        offered = set(tool_names(tools))
        for tool, pattern, argument in _TOOL_INTENTS:
            if tool not in offered:
                continue
            match = pattern.match(question.strip())
            if match:
                value = match.group("arg").strip().rstrip(".!?").strip("\"'")
                if value:
                    return ToolCall(
                        id=f"call_{uuid.uuid4().hex[:16]}", name=tool, arguments={argument: value}
                    )
        return None

    def _report_tool_results(self, messages):
        """After tool calls: say what each tool did, from its result message."""
        lines = []
        names = {
            call.get("id"): call.get("name")
            for message in messages
            for call in (message.get("tool_calls") or [])
            if isinstance(call, dict)
        }
        for message in messages[len(messages) - self._trailing_tool_count(messages) :]:
            try:
                result = json.loads(message.get("content") or "{}")
            except ValueError:
                result = {"result": message.get("content")}
            name = message.get("name") or names.get(message.get("tool_call_id")) or "the tool"
            if isinstance(result, dict) and result.get("error"):
                lines.append(f"{name} failed: {result['error']}")
            elif isinstance(result, dict) and isinstance(result.get("results"), list):
                found = result["results"]
                titles = ", ".join(str(r.get("title") or r.get("source_id")) for r in found[:5])
                lines.append(f"{name} found {len(found)} result(s)" + (f": {titles}." if found else "."))
            else:
                summary = (
                    result.get("title") or result.get("name") or result.get("id")
                    if isinstance(result, dict)
                    else None
                )
                lines.append(f"{name} is done" + (f": {summary}." if summary else "."))
        return "\n".join(lines)

    @staticmethod
    def _trailing_tool_count(messages):
        count = 0
        for message in reversed(messages):
            if message.get("role") != "tool":
                break
            count += 1
        return count

    def _grounded_reply(self, question, context):
        topic = _topic(question)
        if context is None or context.workspace_id is None:
            return f'I found nothing in this workspace about "{topic}".'
        from narrative.ai import retrieval  # the provider is importable without the tables

        hits = retrieval.search(workspace_id=context.workspace_id, query=question, k=MAX_HITS)
        if not hits:
            return f'I found nothing in this workspace about "{topic}".'
        query_words = set(embedder.words(question))
        lines, seen = [], set()
        for hit in hits:
            key = (hit.source_type, hit.source_id)
            if key in seen:
                continue
            seen.add(key)
            title = hit.title or f"{hit.source_type} {hit.source_id}"
            lines.append(f"From {title}: {_best_sentences(hit.text, query_words)}")
        return f'Here is what I found in this workspace about "{topic}":\n\n' + "\n\n".join(lines)

    def _reply(self, messages, tools, context):
        """(content, tool_calls) for the conversation so far."""
        if messages and messages[-1].get("role") == "tool":
            return self._report_tool_results(messages), []
        schema = schema_of(messages)
        if schema is not None:
            return json.dumps(extract_locally(_text_of(_last(messages, "user")), schema)), []
        facts = next(
            (m for m in messages if m.get("role") == "system" and PHRASE_ONLY in (m.get("content") or "")),
            None,
        )
        if facts is not None:
            return _phrased_facts(facts["content"]), []
        question = _text_of(_last(messages, "user"))
        call = self._tool_call_for(question, tools) if tools else None
        if call is not None:
            return "", [call]
        return self._grounded_reply(question, context), []

    def chat(self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None):
        content, calls = self._reply(messages, tools, context)
        if max_tokens and estimate_tokens(content) > max_tokens:
            content = content[: max_tokens * 4]
            finish = "length"
        else:
            finish = "tool_calls" if calls else "stop"
        usage = Usage(tokens_in=estimate_tokens(message_text(messages)), tokens_out=estimate_tokens(content))
        return ChatResult(
            content=content,
            tool_calls=calls,
            usage=usage,
            finish_reason=finish,
            model=self.model_for("chat", model),
        )

    def stream_chat(
        self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None
    ):
        result = self.chat(
            messages,
            tools=tools,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            context=context,
        )
        for piece in re.findall(r"\S+\s*|\s+", result.content):
            yield ChatDelta(content=piece)
        for call in result.tool_calls:
            yield ChatDelta(tool_call=call)
        yield ChatDelta(usage=result.usage, done=True, finish_reason=result.finish_reason)

    # ---- embeddings ----------------------------------------------------------------------------

    def embed(self, texts, *, model=None, context=None):
        return embedder.embed_texts(list(texts))

    def embedding_usage(self, texts):
        return Usage(tokens_in=sum(estimate_tokens(t) for t in texts))

    # ---- vision ---------------------------------------------------------------------------------

    def analyze_images(self, images, prompt, *, model=None, context=None):
        try:
            from PIL import Image, UnidentifiedImageError
        except ImportError:  # pragma: no cover - pillow is a dependency
            self._unsupported("vision")
        details = []
        for index, image_data in enumerate(images):
            data, _mime = image_bytes(image_data)
            try:
                image = Image.open(io.BytesIO(data))
                image.load()
            except (UnidentifiedImageError, OSError):
                raise ValidationFailed(
                    details=[{"field": f"images.{index}", "message": "Not an image this server can read."}]
                ) from None
            details.append(_describe_image(image, len(data)))
        sentences = []
        for number, info in enumerate(details, start=1):
            colours = ", ".join(f"{c['hex']} ({c['share']:.0%})" for c in info["dominant_colors"][:3])
            sentence = (
                f"Image {number}: {info['format']} {info['width']}x{info['height']} pixels ({info['mode']}), "
                f"dominant colours {colours}."
            )
            if info.get("text"):
                sentence += f" Text found: {info['text']}"
            sentences.append(sentence)
        content = " ".join(sentences)
        usage = Usage(tokens_in=estimate_tokens(prompt or ""), tokens_out=estimate_tokens(content))
        return VisionResult(content=content, details=details, usage=usage)


def _hex(rgb):
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def _describe_image(image, size_bytes):
    rgb = image.convert("RGB")
    small = rgb.copy()
    small.thumbnail((96, 96))
    quantised = small.quantize(colors=5)
    palette = quantised.getpalette() or []
    counts = sorted(quantised.getcolors() or [], reverse=True)
    total = sum(count for count, _ in counts) or 1
    colours = [
        {"hex": _hex(palette[index * 3 : index * 3 + 3]), "share": round(count / total, 3)}
        for count, index in counts
    ]
    info = {
        "format": (image.format or "unknown").upper(),
        "width": image.width,
        "height": image.height,
        "mode": image.mode,
        "bytes": size_bytes,
        "dominant_colors": colours,
        "text": None,
    }
    info["text"] = _ocr(rgb)
    return info


def _ocr(image):
    """Text by Tesseract when it is installed; None otherwise (never a guess)."""
    if shutil.which("tesseract") is None:
        return None
    try:
        import pytesseract
    except ImportError:
        return None
    try:
        text = pytesseract.image_to_string(image).strip()
    except Exception:  # a broken Tesseract install must not fail the analysis
        return None
    return text or None
