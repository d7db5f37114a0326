"""The OpenAI-compatible and Anthropic adapters against fake servers (respx): what goes on the wire,
streamed tool calls split across chunks, retries on 429 and error mapping."""

import json

import httpx
import pytest
import respx

from narrative.ai.providers import http
from narrative.ai.providers.anthropic import AnthropicProvider
from narrative.ai.providers.base import ProviderError, ProviderTimeout
from narrative.ai.providers.openai import OpenAIProvider

OPENAI = "https://api.openai.com/v1"
ANTHROPIC = "https://api.anthropic.com"
TOOLS = [
    {
        "name": "create_task",
        "description": "Create a task",
        "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
    }
]


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(http, "_sleep", slept.append)
    return slept


def openai():
    return OpenAIProvider(
        api_key="sk-test",
        models={
            "chat": "gpt-4o-mini",
            "embeddings": "text-embedding-3-small",
            "transcription": "whisper-1",
            "image": "dall-e-3",
        },
    )


def anthropic():
    return AnthropicProvider(api_key="ak-test", models={"chat": "claude-3-5-haiku-latest"})


def sse(*events, split_every=None):
    """An SSE body; with split_every, delivered in pieces that cut through lines and JSON."""
    text = "".join(events).encode()
    if not split_every:
        return text
    return iter([text[i : i + split_every] for i in range(0, len(text), split_every)])


def data(obj):
    return f"data: {json.dumps(obj)}\n\n"


@respx.mock
def test_openai_chat_wire_format_and_tool_calls():
    route = respx.post(f"{OPENAI}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            json={
                "model": "gpt-4o-mini-2024",
                "choices": [
                    {
                        "finish_reason": "tool_calls",
                        "message": {
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_1",
                                    "type": "function",
                                    "function": {"name": "create_task", "arguments": '{"title": "Fix roof"}'},
                                }
                            ],
                        },
                    }
                ],
                "usage": {"prompt_tokens": 31, "completion_tokens": 9},
            },
        )
    )
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add it"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c0", "name": "create_task", "arguments": {"title": "x"}}],
        },
        {"role": "tool", "tool_call_id": "c0", "content": '{"ok": true}'},
    ]
    result = openai().chat(messages, tools=TOOLS, temperature=0.2, max_tokens=50)
    sent = json.loads(route.calls[0].request.content)
    assert route.calls[0].request.headers["authorization"] == "Bearer sk-test"
    assert sent["model"] == "gpt-4o-mini" and sent["temperature"] == 0.2 and sent["max_tokens"] == 50
    assert sent["tools"][0] == {"type": "function", "function": TOOLS[0]}
    assert sent["messages"][2]["tool_calls"][0] == {
        "id": "c0",
        "type": "function",
        "function": {"name": "create_task", "arguments": '{"title": "x"}'},
    }
    assert sent["messages"][3] == {"role": "tool", "content": '{"ok": true}', "tool_call_id": "c0"}
    assert result.tool_calls[0].arguments == {"title": "Fix roof"} and result.finish_reason == "tool_calls"
    assert (result.usage.tokens_in, result.usage.tokens_out, result.model) == (31, 9, "gpt-4o-mini-2024")


@respx.mock
def test_openai_stream_assembles_a_tool_call_split_across_chunks():
    body = sse(
        data({"choices": [{"index": 0, "delta": {"role": "assistant", "content": "On "}}]}),
        data({"choices": [{"index": 0, "delta": {"content": "it."}}]}),
        data(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_9",
                                    "type": "function",
                                    "function": {"name": "create_task", "arguments": ""},
                                }
                            ]
                        },
                    }
                ]
            }
        ),
        data(
            {
                "choices": [
                    {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"tit'}}]}}
                ]
            }
        ),
        data(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'le": "Call '}}]},
                    }
                ]
            }
        ),
        data(
            {
                "choices": [
                    {
                        "index": 0,
                        "delta": {"tool_calls": [{"index": 0, "function": {"arguments": 'the roofer"}'}}]},
                    }
                ]
            }
        ),
        data({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}),
        data({"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 7}}),
        "data: [DONE]\n\n",
        split_every=37,
    )
    route = respx.post(f"{OPENAI}/chat/completions").mock(
        return_value=httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})
    )
    deltas = list(openai().stream_chat([{"role": "user", "content": "task"}], tools=TOOLS))
    sent = json.loads(route.calls[0].request.content)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "".join(d.content for d in deltas if d.content) == "On it."
    calls = [d.tool_call for d in deltas if d.tool_call]
    assert len(calls) == 1 and calls[0].id == "call_9" and calls[0].arguments == {"title": "Call the roofer"}
    last = deltas[-1]
    assert (
        last.done
        and last.finish_reason == "tool_calls"
        and (last.usage.tokens_in, last.usage.tokens_out) == (12, 7)
    )


@respx.mock
def test_a_429_is_retried_after_retry_after_then_succeeds(no_sleep):
    route = respx.post(f"{OPENAI}/chat/completions").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}, json={"error": {"message": "slow down"}}),
            httpx.Response(503, json={"error": {"message": "busy"}}),
            httpx.Response(
                200, json={"choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}], "usage": {}}
            ),
        ]
    )
    assert openai().chat([{"role": "user", "content": "x"}]).content == "hi"
    assert route.call_count == 3 and no_sleep == [2.0, 1.0]


@respx.mock
def test_errors_map_to_provider_errors():
    route = respx.post(f"{OPENAI}/chat/completions")
    route.mock(return_value=httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}}))
    with pytest.raises(ProviderError) as excinfo:
        openai().chat([{"role": "user", "content": "x"}])
    assert excinfo.value.status == 502 and excinfo.value.code == "provider_error"
    assert "rejected the API key (401): Incorrect API key provided" in excinfo.value.message
    route.mock(
        return_value=httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "quota"}})
    )
    with pytest.raises(ProviderError) as excinfo:
        openai().chat([{"role": "user", "content": "x"}])
    assert (
        excinfo.value.status == 503
        and excinfo.value.code == "provider_rate_limited"
        and route.call_count == 4
    )
    route.mock(return_value=httpx.Response(400, json={"error": {"message": "bad model"}}))
    with pytest.raises(ProviderError, match="answered 400: bad model"):
        openai().chat([{"role": "user", "content": "x"}])
    route.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(ProviderTimeout):
        openai().chat([{"role": "user", "content": "x"}])


@respx.mock
def test_openai_embeddings_images_vision_and_transcription():
    provider = openai()
    respx.post(f"{OPENAI}/embeddings").mock(
        return_value=httpx.Response(
            200,
            json={
                "data": [{"index": 1, "embedding": [0.0, 1.0]}, {"index": 0, "embedding": [1.0, 0.0]}],
                "usage": {"prompt_tokens": 4},
            },
        )
    )
    assert provider.embed(["a", "b"]) == [[1.0, 0.0], [0.0, 1.0]] and provider.last_usage.tokens_in == 4
    images = respx.post(f"{OPENAI}/images/generations").mock(
        return_value=httpx.Response(200, json={"data": [{"b64_json": "aGk=", "revised_prompt": "a cat"}]})
    )
    result = provider.generate_image("cat", size="512x512")
    assert json.loads(images.calls[0].request.content) == {
        "model": "dall-e-3",
        "prompt": "cat",
        "n": 1,
        "size": "512x512",
        "response_format": "b64_json",
    }
    assert result.images == [{"b64_json": "aGk=", "revised_prompt": "a cat"}]
    chat = respx.post(f"{OPENAI}/chat/completions").mock(
        return_value=httpx.Response(
            200,
            json={
                "choices": [{"message": {"content": "A red square."}}],
                "usage": {"prompt_tokens": 100, "completion_tokens": 4},
            },
        )
    )
    vision = provider.analyze_images([b"\x89PNG..."], "What is it?")
    parts = json.loads(chat.calls[0].request.content)["messages"][0]["content"]
    assert parts[0] == {"type": "text", "text": "What is it?"} and parts[1]["image_url"]["url"].startswith(
        "data:image/png;base64,"
    )
    assert vision.content == "A red square." and vision.usage.tokens_in == 100
    audio = respx.post(f"{OPENAI}/audio/transcriptions").mock(
        return_value=httpx.Response(200, json={"text": "hello there", "language": "english", "duration": 1.5})
    )
    transcript = provider.transcribe(b"RIFF....", filename="memo.wav", content_type="audio/wav")
    request_body = audio.calls[0].request.content
    assert (
        b'name="model"' in request_body
        and b"whisper-1" in request_body
        and b'filename="memo.wav"' in request_body
    )
    assert (transcript.text, transcript.language, transcript.duration_seconds) == (
        "hello there",
        "english",
        1.5,
    )


@respx.mock
def test_anthropic_messages_wire_format_and_tool_use():
    route = respx.post(f"{ANTHROPIC}/v1/messages").mock(
        return_value=httpx.Response(
            200,
            json={
                "model": "claude-3-5-haiku-20241022",
                "stop_reason": "tool_use",
                "content": [
                    {"type": "text", "text": "Creating it."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "create_task",
                        "input": {"title": "Fix roof"},
                    },
                ],
                "usage": {"input_tokens": 20, "output_tokens": 11},
            },
        )
    )
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "add it"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t0", "name": "create_task", "arguments": {"title": "x"}}],
        },
        {"role": "tool", "tool_call_id": "t0", "content": '{"ok": true}'},
    ]
    result = anthropic().chat(messages, tools=TOOLS)
    request = route.calls[0].request
    sent = json.loads(request.content)
    assert request.headers["x-api-key"] == "ak-test" and request.headers["anthropic-version"] == "2023-06-01"
    assert sent["system"] == "Be brief." and sent["max_tokens"] == 1024
    assert sent["tools"] == [
        {"name": "create_task", "description": "Create a task", "input_schema": TOOLS[0]["parameters"]}
    ]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "t0", "name": "create_task", "input": {"title": "x"}}],
    }
    assert sent["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "t0", "content": '{"ok": true}'}],
    }
    assert result.content == "Creating it." and result.finish_reason == "tool_calls"
    assert result.tool_calls[0].arguments == {"title": "Fix roof"} and (
        result.usage.tokens_in,
        result.usage.tokens_out,
    ) == (20, 11)


def event(name, obj):
    return f"event: {name}\ndata: {json.dumps({'type': name, **obj})}\n\n"


@respx.mock
def test_anthropic_stream_assembles_input_json_deltas():
    body = sse(
        event("message_start", {"message": {"usage": {"input_tokens": 25, "output_tokens": 1}}}),
        event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Sure"}}),
        event("content_block_stop", {"index": 0}),
        event(
            "content_block_start",
            {
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_7", "name": "create_task", "input": {}},
            },
        ),
        event(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"title": '}},
        ),
        event(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '"Call the'}},
        ),
        event(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": ' roofer"}'}},
        ),
        event("content_block_stop", {"index": 1}),
        event("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 30}}),
        event("message_stop", {}),
        split_every=50,
    )
    respx.post(f"{ANTHROPIC}/v1/messages").mock(return_value=httpx.Response(200, content=body))
    deltas = list(anthropic().stream_chat([{"role": "user", "content": "task"}], tools=TOOLS))
    assert "".join(d.content for d in deltas if d.content) == "Sure"
    calls = [d.tool_call for d in deltas if d.tool_call]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("toolu_7", "create_task", {"title": "Call the roofer"})
    ]
    assert deltas[-1].done and deltas[-1].finish_reason == "tool_calls"
    assert (deltas[-1].usage.tokens_in, deltas[-1].usage.tokens_out) == (25, 30)


@respx.mock
def test_anthropic_stream_retries_a_529_before_streaming_and_maps_errors(no_sleep):
    route = respx.post(f"{ANTHROPIC}/v1/messages").mock(
        side_effect=[
            httpx.Response(
                529, json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
            ),
            httpx.Response(
                200,
                content=sse(
                    event("message_start", {"message": {"usage": {"input_tokens": 3}}}),
                    event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "ok"}}),
                    event("message_stop", {}),
                ),
            ),
        ]
    )
    deltas = list(anthropic().stream_chat([{"role": "user", "content": "x"}]))
    assert route.call_count == 2 and deltas[0].content == "ok" and no_sleep == [0.5]
    route.mock(
        side_effect=None,
        return_value=httpx.Response(
            401,
            json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
        ),
    )
    with pytest.raises(ProviderError, match=r"rejected the API key \(401\): invalid x-api-key"):
        list(anthropic().stream_chat([{"role": "user", "content": "x"}]))
