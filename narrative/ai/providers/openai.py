"""OpenAI-compatible adapter: OpenAI itself or any server speaking its API (base URL + key).

Chat completions with tools (streamed as SSE chunks; tool-call arguments arrive in pieces across
chunks and are assembled per tool-call index), embeddings, image generation, vision (image_url
content parts with data URLs) and transcription (/audio/transcriptions, multipart).
"""

import json

from narrative.ai.providers import http
from narrative.ai.providers.base import (
    ChatDelta,
    ChatResult,
    ImageResult,
    Provider,
    ProviderError,
    ToolCall,
    Transcription,
    Usage,
    VisionResult,
    data_url,
    estimate_tokens,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def _arguments(raw):
    if isinstance(raw, dict):
        return raw
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ProviderError(f"The provider sent tool arguments that are not JSON: {raw[:200]}") from None
    return value if isinstance(value, dict) else {"value": value}


def wire_messages(messages):
    """Our message dicts in OpenAI's shape (tool calls with JSON-string arguments)."""
    wired = []
    for message in messages:
        role = message.get("role")
        item = {"role": role, "content": message.get("content")}
        if role == "assistant" and message.get("tool_calls"):
            item["tool_calls"] = [
                {
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call.get("arguments") or {})},
                }
                for call in message["tool_calls"]
            ]
            item["content"] = message.get("content") or None
        if role == "tool":
            item["tool_call_id"] = message.get("tool_call_id")
        wired.append(item)
    return wired


def wire_tools(tools):
    return [
        {
            "type": "function",
            "function": {
                "name": tool["name"],
                "description": tool.get("description", ""),
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for tool in tools
        if isinstance(tool, dict)
    ]


def _usage(body):
    usage = (body or {}).get("usage") or {}
    return Usage(
        tokens_in=int(usage.get("prompt_tokens") or 0), tokens_out=int(usage.get("completion_tokens") or 0)
    )


class OpenAIProvider(Provider):
    name = "openai"
    supports = frozenset({"chat", "tools", "stream", "embeddings", "image", "vision", "transcription"})

    def __init__(self, *, api_key, base_url=DEFAULT_BASE_URL, models=None, client=None):
        super().__init__(model=(models or {}).get("chat"), models=models)
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._client = client or http.make_client(self.base_url, DEFAULT_BASE_URL)
        self.last_usage = None

    def _url(self, path):
        return f"{self.base_url}{path}"

    def _post(self, path, **kwargs):
        return http.request(
            self._client, self.name, "POST", self._url(path), headers=self._headers, **kwargs
        ).json()

    def _chat_body(self, messages, tools, model, temperature, max_tokens, stream=False):
        body = {"model": self.model_for("chat", model), "messages": wire_messages(messages)}
        if tools:
            body["tools"] = wire_tools(tools)
        if temperature is not None:
            body["temperature"] = temperature
        if max_tokens:
            body["max_tokens"] = max_tokens
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def chat(self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None):
        body = self._post(
            "/chat/completions", json=self._chat_body(messages, tools, model, temperature, max_tokens)
        )
        try:
            choice = body["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(f"The {self.name} provider sent a reply without choices.") from None
        message = choice.get("message") or {}
        calls = [
            ToolCall(
                id=c.get("id") or "",
                name=c["function"]["name"],
                arguments=_arguments(c["function"].get("arguments")),
            )
            for c in message.get("tool_calls") or []
        ]
        return ChatResult(
            content=message.get("content") or "",
            tool_calls=calls,
            usage=_usage(body),
            finish_reason=choice.get("finish_reason") or ("tool_calls" if calls else "stop"),
            model=body.get("model") or self.model_for("chat", model),
        )

    def stream_chat(
        self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None
    ):
        body = self._chat_body(messages, tools, model, temperature, max_tokens, stream=True)
        pending = {}  # tool-call index -> {"id", "name", "arguments": [pieces]}
        usage, finish, produced = None, None, []
        with http.stream(
            self._client, self.name, "POST", self._url("/chat/completions"), headers=self._headers, json=body
        ) as response:
            for _event, chunk in http.sse_events(response):
                if chunk == "[DONE]":
                    break
                if not isinstance(chunk, dict):
                    continue
                if chunk.get("error"):
                    raise ProviderError(f"The {self.name} provider failed mid-stream: {chunk['error']}")
                if chunk.get("usage"):
                    usage = _usage(chunk)
                for choice in chunk.get("choices") or []:
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        produced.append(delta["content"])
                        yield ChatDelta(content=delta["content"])
                    for piece in delta.get("tool_calls") or []:
                        entry = pending.setdefault(
                            piece.get("index", 0), {"id": None, "name": None, "arguments": []}
                        )
                        function = piece.get("function") or {}
                        entry["id"] = piece.get("id") or entry["id"]
                        entry["name"] = function.get("name") or entry["name"]
                        if function.get("arguments"):
                            entry["arguments"].append(function["arguments"])
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
        for index in sorted(pending):
            entry = pending[index]
            yield ChatDelta(
                tool_call=ToolCall(
                    id=entry["id"] or f"call_{index}",
                    name=entry["name"],
                    arguments=_arguments("".join(entry["arguments"])),
                )
            )
        if usage is None:
            usage = Usage(
                tokens_in=estimate_tokens(json.dumps(body["messages"])),
                tokens_out=estimate_tokens("".join(produced)),
            )
        yield ChatDelta(usage=usage, done=True, finish_reason=finish or ("tool_calls" if pending else "stop"))

    def embed(self, texts, *, model=None, context=None):
        body = self._post(
            "/embeddings", json={"model": self.model_for("embeddings", model), "input": list(texts)}
        )
        self.last_usage = Usage(tokens_in=int((body.get("usage") or {}).get("prompt_tokens") or 0))
        return [
            item["embedding"]
            for item in sorted(body.get("data") or [], key=lambda item: item.get("index", 0))
        ]

    def generate_image(self, prompt, *, model=None, size=None, n=1, context=None):
        model_name = self.model_for("image", model)
        request = {"model": model_name, "prompt": prompt, "n": n, "size": size or "1024x1024"}
        if not model_name.startswith("gpt-image"):
            request["response_format"] = "b64_json"  # kept in our storage: provider URLs expire
        body = self._post("/images/generations", json=request)
        images = [
            {key: item[key] for key in ("b64_json", "url", "revised_prompt") if item.get(key)}
            for item in body.get("data") or []
        ]
        return ImageResult(images=images, usage=_usage(body) if body.get("usage") else Usage())

    def analyze_images(self, images, prompt, *, model=None, context=None):
        content = [{"type": "text", "text": prompt}] + [
            {"type": "image_url", "image_url": {"url": data_url(image)}} for image in images
        ]
        result = self.chat([{"role": "user", "content": content}], model=model or self.models.get("vision"))
        return VisionResult(content=result.content, usage=result.usage)

    def transcribe(self, data, *, filename, content_type=None, model=None, language=None, context=None):
        form = {"model": self.model_for("transcription", model), "response_format": "verbose_json"}
        if language:
            form["language"] = language
        body = self._post(
            "/audio/transcriptions",
            data=form,
            files={"file": (filename, data, content_type or "application/octet-stream")},
        )
        return Transcription(
            text=body.get("text") or "",
            language=body.get("language"),
            duration_seconds=body.get("duration"),
            usage=Usage(tokens_out=estimate_tokens(body.get("text") or "")),
        )
