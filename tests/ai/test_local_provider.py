"""The local provider, the AI call log wrapper, tools and retrieval, through get_provider."""

import json

import pytest
import sqlalchemy as sa

from narrative.ai import AiContext, get_provider, retrieval
from narrative.ai.models import AiCall
from narrative.ai.providers.base import ToolCall
from narrative.ai.tools import _TOOLS, register_tool, run_tool, tool_specs
from narrative.extensions import db
from narrative.platform.errors import ProviderNotConfigured
from tests.identity.factories import make_user, workspace_of

ROOF = (
    "The roof over the east wing leaks when it rains.\n\n"
    "Acme Roofing quoted 4,200 dollars to replace the flashing and two rows of shingles. "
    "They can start on March 3."
)
PARKING = "Parking permits for tenants are renewed every January at the front desk."


@pytest.fixture
def workspace(app):
    return workspace_of(make_user())


def _ctx(workspace, function="chat"):
    return AiContext(workspace_id=workspace.id, user_id=None, function=function)


def _calls():
    return db.session.scalars(sa.select(AiCall).order_by(AiCall.created_at)).all()


def test_chat_is_grounded_in_workspace_data_and_cites_it(workspace):
    retrieval.index_document(
        workspace_id=workspace.id, source_type="note", source_id="n1", title="Roof repair", text=ROOF
    )
    retrieval.index_document(
        workspace_id=workspace.id, source_type="note", source_id="n2", title="Parking", text=PARKING
    )
    db.session.commit()
    provider = get_provider(workspace_id=workspace.id)
    assert provider.name == "local" and {"chat", "tools", "stream", "embeddings"} <= provider.supports
    result = provider.chat(
        [{"role": "user", "content": "What did the roofing quote say?"}], context=_ctx(workspace)
    )
    assert "From Roof repair:" in result.content and "4,200" in result.content
    assert (
        result.content.index("From Roof repair") < result.content.find("From Parking")
        or "Parking" not in result.content
    )
    assert result.usage.tokens_in > 0 and result.usage.tokens_out == pytest.approx(
        len(result.content) / 4, abs=1
    )
    assert result.finish_reason == "stop"


def test_empty_retrieval_says_so_and_other_workspaces_are_not_searched(workspace, app):
    other = workspace_of(make_user())
    retrieval.index_document(
        workspace_id=other.id, source_type="note", source_id="n1", title="Roof", text=ROOF
    )
    db.session.commit()
    result = get_provider(workspace_id=workspace.id).chat(
        [{"role": "user", "content": "roof quote?"}], context=_ctx(workspace)
    )
    assert result.content == 'I found nothing in this workspace about "roof quote".'
    assert retrieval.search(workspace_id=workspace.id, query="roof") == []
    assert retrieval.search(workspace_id=other.id, query="roof")[0].source_id == "n1"


def test_tool_intents_call_offered_tools_then_report_the_result(workspace):
    created = []
    register_tool(
        "create_task",
        description="Create a task",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
        handler=lambda context, title: created.append(title) or {"id": "t1", "title": title},
    )
    provider = get_provider(workspace_id=workspace.id)
    ctx = _ctx(workspace)
    messages = [{"role": "user", "content": "Create a task called call the roofer"}]
    result = provider.chat(messages, tools=tool_specs(["create_task", "search_workspace"]), context=ctx)
    assert result.finish_reason == "tool_calls" and result.content == ""
    (call,) = result.tool_calls
    assert call.name == "create_task" and call.arguments == {"title": "call the roofer"}
    output = run_tool(ctx, call)
    assert output == {"id": "t1", "title": "call the roofer"} and created == ["call the roofer"]
    messages += [
        {"role": "assistant", "content": "", "tool_calls": [call.as_message_part()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps(output)},
    ]
    follow_up = provider.chat(messages, tools=tool_specs(["create_task"]), context=ctx)
    assert follow_up.content == "create_task is done: call the roofer." and not follow_up.tool_calls
    # Not offered: no tool call, a grounded answer instead.
    plain = provider.chat([{"role": "user", "content": "create a task buy milk"}], context=ctx)
    assert not plain.tool_calls


def test_run_tool_validates_arguments_and_reports_unknown_tools(workspace):
    from narrative.ai.providers.base import ToolCall

    ctx = _ctx(workspace)
    assert (
        "Invalid arguments" in run_tool(ctx, ToolCall(id="1", name="search_workspace", arguments={}))["error"]
    )
    assert run_tool(ctx, ToolCall(id="2", name="nope", arguments={}))["error"] == "Unknown tool 'nope'."
    retrieval.index_document(
        workspace_id=workspace.id, source_type="note", source_id="n1", title="Roof", text=ROOF
    )
    found = run_tool(ctx, ToolCall(id="3", name="search_workspace", arguments={"query": "shingles flashing"}))
    assert found["results"][0]["title"] == "Roof"


def test_stream_yields_word_chunks_tool_calls_and_usage_last(workspace):
    provider = get_provider(workspace_id=workspace.id)
    deltas = list(
        provider.stream_chat([{"role": "user", "content": "anything about zebras"}], context=_ctx(workspace))
    )
    text = "".join(d.content for d in deltas if d.content)
    assert text == 'I found nothing in this workspace about "anything about zebras".'
    assert len([d for d in deltas if d.content]) == len(text.split())
    assert deltas[-1].done and deltas[-1].usage.tokens_out > 0 and not any(d.done for d in deltas[:-1])
    tool_deltas = list(
        provider.stream_chat(
            [{"role": "user", "content": "search for zebras"}], tools=tool_specs(), context=_ctx(workspace)
        )
    )
    calls = [d.tool_call for d in tool_deltas if d.tool_call]
    assert calls[0].name == "search_workspace" and calls[0].arguments == {"query": "zebras"}
    assert tool_deltas[-1].finish_reason == "tool_calls"


def test_every_call_is_logged_including_failures_and_cancelled_streams(workspace):
    user = make_user(workspace=workspace)
    provider = get_provider(workspace_id=workspace.id)
    ctx = AiContext(workspace_id=workspace.id, user_id=user.id, function="title", conversation_id="c-1")
    provider.chat([{"role": "user", "content": "hello"}], context=ctx)
    provider.embed(
        ["one text", "two texts"], context=AiContext(workspace_id=workspace.id, function="embeddings")
    )
    stream = provider.stream_chat([{"role": "user", "content": "a b c d e f"}], context=ctx)
    next(stream)
    stream.close()
    with pytest.raises(ProviderNotConfigured) as excinfo:
        get_provider(workspace_id=workspace.id, function="image").generate_image("a cat", context=ctx)
    assert "api_key" in excinfo.value.message
    db.session.commit()
    calls = _calls()
    assert [(c.operation, c.status) for c in calls] == [
        ("chat", "success"),
        ("embed", "success"),
        ("stream", "cancelled"),
    ]
    chat = calls[0]
    assert chat.provider == "local" and chat.model == "local-retrieval-1" and chat.function == "title"
    assert (
        chat.user_id == user.id
        and chat.conversation_id == "c-1"
        and chat.tokens_in == 2
        and chat.tokens_out > 0
    )
    assert chat.cost == 0 and chat.latency_ms >= 0
    assert calls[1].tokens_in == 5


def test_a_logged_call_survives_the_rollback_of_its_transaction(workspace):
    provider = get_provider(workspace_id=workspace.id)
    provider.chat([{"role": "user", "content": "hello"}], context=_ctx(workspace))
    db.session.rollback()
    assert len(_calls()) == 1


def test_embeddings_are_deterministic_unit_vectors(workspace):
    provider = get_provider(workspace_id=workspace.id, function="embeddings")
    first, second, other = provider.embed(["roof leak repair", "roof leak repair", "parking permit"])
    assert first == second and len(first) == 384
    assert sum(v * v for v in first) == pytest.approx(1.0)
    assert sum(a * b for a, b in zip(first, other, strict=True)) < 0.5


def test_chunking_by_paragraphs_with_overlap():
    paragraphs = [f"Paragraph {i} " + "word " * 60 for i in range(12)]
    chunks = retrieval.chunk_text("\n\n".join(paragraphs))
    assert len(chunks) > 1 and all(len(c) <= 900 for c in chunks)
    assert chunks[1].split()[0] != "Paragraph"  # starts with the previous chunk's tail
    assert retrieval.chunk_text("") == []


def test_reindexing_replaces_and_remove_deletes(workspace):
    retrieval.index_document(
        workspace_id=workspace.id, source_type="doc", source_id="d", title="A", text="alpha beta"
    )
    retrieval.index_document(
        workspace_id=workspace.id, source_type="doc", source_id="d", title="A", text="gamma delta"
    )
    assert retrieval.stats(workspace_id=workspace.id) == {"chunks": 1, "documents": 1}
    assert retrieval.search(workspace_id=workspace.id, query="gamma")[0].text == "gamma delta"
    assert retrieval.search(workspace_id=workspace.id, query="gamma", source_types=["other"]) == []
    retrieval.remove_document(workspace_id=workspace.id, source_type="doc", source_id="d")
    assert retrieval.stats(workspace_id=workspace.id)["chunks"] == 0


def test_a_tool_that_fails_half_way_leaves_none_of_its_writes(workspace):
    def remember_then_fail(context, *, text):
        retrieval.index_document(
            workspace_id=context.workspace_id, source_type="note", source_id="half", text=text
        )
        raise RuntimeError("the second half broke")

    register_tool(
        "remember",
        description="Remember a note",
        parameters={"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
        handler=remember_then_fail,
    )
    try:
        output = run_tool(
            _ctx(workspace), ToolCall(id="c1", name="remember", arguments={"text": "Roof done"})
        )
    finally:
        _TOOLS.pop("remember", None)
    assert output == {"error": "The tool remember failed: RuntimeError."}
    db.session.commit()
    assert retrieval.stats(workspace_id=workspace.id)["chunks"] == 0
