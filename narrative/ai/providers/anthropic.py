"""Anthropic adapter: the Messages API (tools as tool_use / tool_result blocks, streaming events).

Streaming events: message_start (input tokens), content_block_start (a text or tool_use block),
content_block_delta (text_delta pieces, or input_json_delta pieces of a tool's arguments, assembled
until content_block_stop), message_delta (stop reason, output tokens), message_stop.
"""

import json

from narrative.ai.providers import http
from narrative.ai.providers.base import (
    ChatDelta,
    ChatResult,
    Provider,
    ProviderError,
    ToolCall,
    Usage,
    VisionResult,
    image_bytes,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
STOP_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls", "max_tokens": "length"}


def _text(content):
    if isinstance(content, list):
        return "\n".join(
            part.get("text", "") for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return content or ""


def wire_messages(messages):
    """(system text, Anthropic messages): system messages joined, tool results as user blocks."""
    system, wired = [], []
    for message in messages:
        role = message.get("role")
        if role == "system":
            system.append(_text(message.get("content")))
            continue
        if role == "tool":
            block = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _text(message.get("content")),
            }
            if (
                wired
                and wired[-1]["role"] == "user"
                and isinstance(wired[-1]["content"], list)
                and all(b.get("type") == "tool_result" for b in wired[-1]["content"])
            ):
                wired[-1]["content"].append(block)
            else:
                wired.append({"role": "user", "content": [block]})
            continue
        content = message.get("content")
        if role == "assistant" and message.get("tool_calls"):
            blocks = [{"type": "text", "text": content}] if content else []
            blocks += [
                {
                    "type": "tool_use",
                    "id": call["id"],
                    "name": call["name"],
                    "input": call.get("arguments") or {},
                }
                for call in message["tool_calls"]
            ]
            wired.append({"role": "assistant", "content": blocks})
        else:
            wired.append(
                {
                    "role": "assistant" if role == "assistant" else "user",
                    "content": content if content is not None else "",
                }
            )
    return "\n\n".join(s for s in system if s), wired


def wire_tools(tools):
    return [
        {
            "name": tool["name"],
            "description": tool.get("description", ""),
            "input_schema": tool.get("parameters") or {"type": "object", "properties": {}},
        }
        for tool in tools
        if isinstance(tool, dict)
    ]


def _usage(usage):
    usage = usage or {}
    return Usage(
        tokens_in=int(usage.get("input_tokens") or 0), tokens_out=int(usage.get("output_tokens") or 0)
    )


class AnthropicProvider(Provider):
    name = "anthropic"
    supports = frozenset({"chat", "tools", "stream", "vision"})

    def __init__(self, *, api_key, base_url=DEFAULT_BASE_URL, models=None, client=None):
        super().__init__(model=(models or {}).get("chat"), models=models)
        self.base_url = base_url.rstrip("/")
        self._headers = {"x-api-key": api_key, "anthropic-version": API_VERSION}
        self._client = client or http.make_client(self.base_url, DEFAULT_BASE_URL)

    def _body(self, messages, tools, model, temperature, max_tokens, stream=False):
        system, wired = wire_messages(messages)
        body = {
            "model": self.model_for("chat", model),
            "max_tokens": max_tokens or DEFAULT_MAX_TOKENS,
            "messages": wired,
        }
        if system:
            body["system"] = system
        if tools:
            body["tools"] = wire_tools(tools)
        if temperature is not None:
            body["temperature"] = temperature
        if stream:
            body["stream"] = True
        return body

    def chat(self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None):
        body = self._body(messages, tools, model, temperature, max_tokens)
        reply = http.request(
            self._client, self.name, "POST", f"{self.base_url}/v1/messages", headers=self._headers, json=body
        ).json()
        texts, calls = [], []
        for block in reply.get("content") or []:
            if block.get("type") == "text":
                texts.append(block.get("text") or "")
            elif block.get("type") == "tool_use":
                calls.append(ToolCall(id=block["id"], name=block["name"], arguments=block.get("input") or {}))
        return ChatResult(
            content="".join(texts),
            tool_calls=calls,
            usage=_usage(reply.get("usage")),
            finish_reason=STOP_REASONS.get(reply.get("stop_reason"), reply.get("stop_reason") or "stop"),
            model=reply.get("model") or body["model"],
        )

    def stream_chat(
        self, messages, *, tools=None, model=None, temperature=None, max_tokens=None, context=None
    ):
        body = self._body(messages, tools, model, temperature, max_tokens, stream=True)
        blocks = {}  # index -> {"type", "id", "name", "json": [pieces]}
        tokens_in = tokens_out = 0
        finish = None
        with http.stream(
            self._client, self.name, "POST", f"{self.base_url}/v1/messages", headers=self._headers, json=body
        ) as response:
            for event, data in http.sse_events(response):
                kind = (data.get("type") if isinstance(data, dict) else None) or event
                if kind == "message_start":
                    usage = (data.get("message") or {}).get("usage") or {}
                    tokens_in = int(usage.get("input_tokens") or 0)
                    tokens_out = int(usage.get("output_tokens") or 0)
                elif kind == "content_block_start":
                    block = data.get("content_block") or {}
                    blocks[data.get("index", 0)] = {
                        "type": block.get("type"),
                        "id": block.get("id"),
                        "name": block.get("name"),
                        "json": [],
                    }
                    if block.get("type") == "text" and block.get("text"):
                        yield ChatDelta(content=block["text"])
                elif kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        yield ChatDelta(content=delta["text"])
                    elif delta.get("type") == "input_json_delta":
                        blocks.setdefault(
                            data.get("index", 0), {"type": "tool_use", "id": None, "name": None, "json": []}
                        )["json"].append(delta.get("partial_json") or "")
                elif kind == "content_block_stop":
                    block = blocks.pop(data.get("index", 0), None)
                    if block and block["type"] == "tool_use":
                        raw = "".join(block["json"])
                        try:
                            arguments = json.loads(raw) if raw else {}
                        except ValueError:
                            raise ProviderError(
                                f"The {self.name} provider sent tool input that is not JSON: {raw[:200]}"
                            ) from None
                        yield ChatDelta(
                            tool_call=ToolCall(id=block["id"], name=block["name"], arguments=arguments)
                        )
                elif kind == "message_delta":
                    finish = STOP_REASONS.get((data.get("delta") or {}).get("stop_reason"), finish)
                    tokens_out = int((data.get("usage") or {}).get("output_tokens") or tokens_out)
                elif kind == "error":
                    error = data.get("error") or {}
                    raise ProviderError(
                        f"The {self.name} provider failed mid-stream: {error.get('message') or error}"
                    )
                elif kind == "message_stop":
                    break
        yield ChatDelta(
            usage=Usage(tokens_in=tokens_in, tokens_out=tokens_out), done=True, finish_reason=finish or "stop"
        )

    def analyze_images(self, images, prompt, *, model=None, context=None):
        import base64

        content = []
        for image in images:
            data, mime = image_bytes(image)
            content.append(
                {
                    "type": "image",
                    "source": {
                        "type": "base64",
                        "media_type": mime or "image/png",
                        "data": base64.b64encode(data).decode(),
                    },
                }
            )
        content.append({"type": "text", "text": prompt})
        result = self.chat([{"role": "user", "content": content}], model=model or self.models.get("vision"))
        return VisionResult(content=result.content, usage=result.usage)
