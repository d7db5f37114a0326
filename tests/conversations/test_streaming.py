"""Streamed AI replies through each family's endpoint, tool calls, cancellation and disconnects."""

import json
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

import narrative.ai
from narrative.ai import tools as ai_tools
from narrative.ai.models import AiCall
from narrative.ai.providers.base import ChatDelta, ProviderError, Usage
from narrative.conversations import jobs as reply_jobs
from narrative.conversations.models import Message
from narrative.extensions import db
from narrative.platform.jobs import Job, job_stream_key, run_job
from narrative.platform.redis import get_redis
from tests.identity.factories import auth_headers, make_user
from workers.worker import run_jobs_in_process

SSE = {"Accept": "text/event-stream"}


def frames(response):
    return [
        json.loads(line[6:])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]


def _conversation(client, headers):
    return client.post("/api/v1/chat/conversations", json={}, headers=headers).json["id"]


def _history(client, headers, conversation_id):
    return client.get(f"/api/v1/chat/conversations/{conversation_id}/messages", headers=headers).json["items"]


def _seed_knowledge(client, headers):
    """Something the local provider can ground its answer in: an earlier conversation's message."""
    earlier = _conversation(client, headers)
    client.post(
        f"/api/v1/chat/conversations/{earlier}/messages",
        json={"content": "The warehouse roof replacement was quoted at 48,000 dollars by Acme Roofing."},
        headers=headers,
    )


def test_studio_send_streams_content_then_done_and_stores_the_reply(app, client):
    user = make_user()
    user_id, headers = str(user.id), auth_headers(user)
    _seed_knowledge(client, headers)
    conversation_id = _conversation(client, headers)

    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "What do we know about the warehouse roof?"},
        headers={**headers, **SSE},
    )
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    run_jobs_in_process(app)
    events = frames(response)

    chunks = [e["content"] for e in events if "content" in e]
    assert events[-1]["done"] is True and events[-1]["message_id"] == response.headers["X-Message-Id"]
    assert all(set(e) <= {"content"} for e in events[:-1])
    text = "".join(chunks)
    assert "48,000" in text
    history = _history(client, headers, conversation_id)
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert (
        history[1]["content"] == text
        and history[1]["status"] == "complete"
        and history[1]["partial"] is False
    )
    assert history[1]["tokens_out"] > 0
    logged = db.session.scalars(sa.select(AiCall).where(AiCall.conversation_id == conversation_id)).all()
    assert [(c.function, c.status, str(c.user_id)) for c in logged] == [("chat", "success", user_id)]


def test_without_a_stream_request_the_shared_endpoint_stores_json(client):
    headers = auth_headers(make_user())
    conversation_id = _conversation(client, headers)
    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages", json={"content": "hi"}, headers=headers
    )
    assert response.mimetype == "application/json" and response.json["role"] == "user"
    assert len(_history(client, headers, conversation_id)) == 1


def test_core_chat_streams_typed_frames_into_a_new_conversation(app, client):
    headers = auth_headers(make_user())
    _seed_knowledge(client, headers)
    response = client.post("/api/v1/chat", json={"message": "Tell me about the roof quote"}, headers=headers)
    run_jobs_in_process(app)
    events = frames(response)

    assert events[0] == {"type": "status", "status": "running"}
    assert {e["type"] for e in events[1:-1]} == {"content"}
    done = events[-1]
    assert done["type"] == "done" and done["status"] == "complete" and done["partial"] is False
    assert done["conversation_id"] == response.headers["X-Conversation-Id"]
    assert done["usage"]["tokens_out"] > 0
    history = _history(client, headers, done["conversation_id"])
    assert history[-1]["content"] == "".join(e["content"] for e in events if e["type"] == "content")


def test_assistant_stream_frames_and_the_same_history_through_every_family(app, client):
    headers = auth_headers(make_user())
    response = client.post("/api/chat", json={"message": "Anything about penguins?"}, headers=headers)
    run_jobs_in_process(app)
    events = frames(response)
    msg_id = response.headers["X-Message-Id"]

    deltas = [e for e in events if e["event"] == "delta"]
    assert deltas and all(e["msg_id"] == msg_id for e in deltas)
    assert events[-1]["event"] == "done" and events[-1]["msg_id"] == msg_id
    conversation_id = events[-1]["conversation_id"]
    assistant = client.get(f"/api/conversations/{conversation_id}/messages", headers=headers).json["items"]
    assert assistant == _history(client, headers, conversation_id)
    assert assistant[-1]["content"] == "".join(e["text"] for e in deltas)


@pytest.fixture
def task_tool():
    """A create_task tool whose effect the test can see (the platform has no task model yet)."""
    created = []

    def create_task(context, *, title):
        created.append({"title": title, "workspace_id": str(context.workspace_id)})
        return {"id": len(created), "title": title}

    ai_tools.register_tool(
        "create_task",
        description="Create a task",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
        handler=create_task,
    )
    yield created
    ai_tools._TOOLS.pop("create_task", None)


def test_a_tool_call_streams_started_and_finished_and_has_its_effect(app, client, task_tool):
    user = make_user()
    headers = auth_headers(user)
    conversation_id = _conversation(client, headers)
    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "create a task call the roofer", "tools_enabled": True},
        headers={**headers, **SSE},
    )
    run_jobs_in_process(app)
    events = frames(response)

    tool_frames = [e for e in events if "tool_use" in e]
    assert tool_frames == [
        {"tool_use": "create_task", "status": "started"},
        {"tool_use": "create_task", "status": "finished"},
    ]
    assert task_tool and task_tool[0]["title"].lower().startswith("call the roofer")
    assert events[-1]["done"] is True
    reply = _history(client, headers, conversation_id)[-1]
    assert reply["tool_calls"][0]["name"] == "create_task" and reply["tool_calls"][0]["status"] == "finished"
    assert "create_task is done" in reply["content"]


def test_a_failing_tool_streams_failed(app, client):
    headers = auth_headers(make_user())
    ai_tools.register_tool(
        "create_task",
        description="Create a task",
        parameters={"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]},
        handler=lambda context, **arguments: (_ for _ in ()).throw(RuntimeError("task store down")),
    )
    try:
        response = client.post(
            "/api/v1/chat", json={"message": "create a task renew the lease"}, headers=headers
        )
        run_jobs_in_process(app)
    finally:
        ai_tools._TOOLS.pop("create_task", None)
    tool_frames = [e for e in frames(response) if e["type"] == "tool_use"]
    assert [f["status"] for f in tool_frames] == ["started", "failed"]
    assert "failed" in tool_frames[1]["error"]


class _SlowProvider:
    """A provider that waits after its first piece, so a test can cancel mid-stream."""

    name, model, supports = "slow", "slow-1", {"chat", "stream"}

    def __init__(self, gate):
        self.gate = gate

    def stream_chat(self, messages, *, tools=None, model=None, context=None, **_):
        yield ChatDelta(content="First part. ")
        self.gate.wait(10)
        yield ChatDelta(content="Second part.")
        yield ChatDelta(done=True, usage=Usage(10, 4), finish_reason="stop")


def _wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_cancel_mid_stream_stops_generation_and_keeps_the_partial_reply(app, client, monkeypatch):
    gate = threading.Event()
    monkeypatch.setattr(narrative.ai, "get_provider", lambda **_: _SlowProvider(gate))
    monkeypatch.setattr(reply_jobs, "CHECKPOINT_SECONDS", 0)
    headers = auth_headers(make_user())
    conversation_id = _conversation(client, headers)
    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "Write something long"},
        headers={**headers, **SSE},
    )
    msg_id = response.headers["X-Message-Id"]
    job_id = db.session.get(Message, uuid.UUID(msg_id)).job_id
    db.session.rollback()

    # The RQ callable itself, in a thread with its own app context (a worker would run just this).
    def work():
        with app.app_context():
            run_job(
                job_id,
                "narrative.conversations.jobs.generate_reply",
                [msg_id],
                {"provider": None, "model": None, "tools_enabled": True},
            )

    worker = threading.Thread(target=work)
    worker.start()
    try:
        stream = job_stream_key(job_id)
        assert _wait_for(lambda: any("First part" in f["data"] for _, f in get_redis().xrange(stream)))
        # Checkpointed while still streaming: a worker dying now would leave this text behind.
        assert _wait_for(lambda: _history(client, headers, conversation_id)[-1]["content"] == "First part. ")
        assert _history(client, headers, conversation_id)[-1]["status"] == "streaming"
        canceled = client.post(f"/api/chat/{msg_id}/cancel", headers=headers)
        assert canceled.status_code == 200 and canceled.json["status"] == "canceled"
    finally:
        gate.set()
        worker.join(20)

    events = frames(response)
    assert [e["content"] for e in events if e.get("content")] == ["First part. "]
    assert events[-1]["done"] is True and events[-1]["status"] == "canceled"
    db.session.rollback()
    reply = _history(client, headers, conversation_id)[-1]
    assert reply["content"] == "First part. " and reply["status"] == "canceled" and reply["partial"] is True


class _FailingProvider:
    """A provider that sends a first piece, then fails the way a provider does (or with a bug)."""

    name, model, supports = "failing", "failing-1", {"chat", "stream"}

    def __init__(self, error):
        self.error = error

    def stream_chat(self, messages, *, tools=None, model=None, context=None, **_):
        yield ChatDelta(content="Let me see. ")
        raise self.error


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (ProviderError("The openai provider answered 500."), "The openai provider answered 500."),
        (RuntimeError("a bug"), reply_jobs.GENERIC_ERROR),
    ],
)
def test_a_failed_reply_fails_its_job_and_ends_the_stream_with_the_error(
    app, client, monkeypatch, error, said
):
    monkeypatch.setattr(narrative.ai, "get_provider", lambda **_: _FailingProvider(error))
    headers = auth_headers(make_user())
    response = client.post("/api/v1/chat", json={"message": "What is due this week?"}, headers=headers)
    msg_id = response.headers["X-Message-Id"]
    run_jobs_in_process(app)

    events = frames(response)
    assert [e["content"] for e in events if e["type"] == "content"] == ["Let me see. "]
    assert events[-1] == {"type": "error", "error": said, "message_id": msg_id}
    db.session.expire_all()
    reply = db.session.get(Message, uuid.UUID(msg_id))
    assert (reply.status, reply.error, reply.content, reply.is_partial) == (
        "failed",
        said,
        "Let me see. ",
        True,
    )
    job = db.session.get(Job, reply.job_id)
    assert (job.status, job.error, job.result) == ("FAILED", said, None)
    # The job stream's last word is the job's own FAILED event, after the reply's error.
    last = json.loads(get_redis().xrevrange(job_stream_key(job.id), count=1)[0][1]["data"])
    assert (last["status"], last["error"]) == ("FAILED", said)


def test_cancel_before_the_worker_starts_ends_the_stream(app, client):
    headers = auth_headers(make_user())
    response = client.post("/api/chat", json={"message": "never mind"}, headers=headers)
    msg_id = response.headers["X-Message-Id"]
    assert client.post(f"/api/chat/{msg_id}/cancel", headers=headers).json["status"] == "canceled"
    run_jobs_in_process(app)
    events = frames(response)
    assert events[-1]["event"] == "done" and events[-1]["status"] == "canceled"


def test_a_client_that_disconnects_still_finds_the_reply_in_the_history(app, client):
    headers = auth_headers(make_user())
    conversation_id = _conversation(client, headers)
    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "hello?", "stream": True},
        headers=headers,
    )
    response.close()  # gone before reading a single frame
    run_jobs_in_process(app)
    reply = _history(client, headers, conversation_id)[-1]
    assert reply["role"] == "assistant" and reply["status"] == "complete" and reply["content"]


def test_regenerate_replaces_the_reply_and_keeps_the_old_one(app, client):
    headers = auth_headers(make_user())
    response = client.post("/api/v1/chat", json={"message": "anything about roofs?"}, headers=headers)
    run_jobs_in_process(app)
    first_reply = response.headers["X-Message-Id"]
    again = client.post(f"/api/v1/chat/messages/{first_reply}/regenerate", headers=headers)
    run_jobs_in_process(app)
    assert frames(again)[-1]["type"] == "done"
    history = _history(client, headers, response.headers["X-Conversation-Id"])
    assert [m["superseded"] for m in history] == [False, True, False]
    assert history[2]["parent_id"] == history[0]["id"]


def test_dlp_decision_redacts_and_starts_the_reply(app, client):
    headers = auth_headers(make_user())
    conversation_id = _conversation(client, headers)
    sent = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "my card is 4111 1111"},
        headers=headers,
    ).json
    message = db.session.get(Message, uuid.UUID(sent["id"]))
    message.dlp_finding = {"status": "pending", "spans": [{"start": 11, "end": 20, "type": "card"}]}
    db.session.commit()

    decided = client.post(
        f"/api/chat/{sent['id']}/dlp-decision", json={"decision": "redact"}, headers=headers
    )
    assert decided.status_code == 200 and decided.json["content"] == "my card is [REDACTED CARD]"
    assert decided.json["reply_id"]
    again = client.post(f"/api/chat/{sent['id']}/dlp-decision", json={"decision": "allow"}, headers=headers)
    assert again.status_code == 409
    run_jobs_in_process(app)
    assert _history(client, headers, conversation_id)[-1]["status"] == "complete"


def test_a_reply_whose_worker_died_is_closed_by_the_sweep_with_its_text(app, client):
    headers = auth_headers(make_user())
    response = client.post("/api/chat", json={"message": "hello"}, headers=headers)
    message = db.session.get(Message, uuid.UUID(response.headers["X-Message-Id"]))
    message.content = "Half a rep"
    db.session.execute(sa.update(Job).where(Job.id == message.job_id).values(status="FAILED"))
    db.session.commit()

    assert reply_jobs.close_abandoned_replies() == 1
    reply = _history(client, headers, response.headers["X-Conversation-Id"])[-1]
    assert (reply["status"], reply["partial"], reply["content"]) == ("failed", True, "Half a rep")
