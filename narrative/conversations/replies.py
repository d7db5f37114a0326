"""Streamed AI replies: start one as a job, stream it in each family's frames, cancel it.

A reply is an RQ job (`narrative.conversations.jobs.generate_reply`, queue "high") that writes
neutral events to the job's Redis stream; the HTTP response is the platform's SSE generator over
that stream, and each family shapes the events into its own frames:

- studio (`POST /api/v1/chat/conversations/{id}/messages`): `{content}`, `{tool_use, status}` with
  status started|finished|failed, `{done: true}`, `{error}`.
- core (`POST /api/v1/chat`, `POST /api/v1/chat/messages/{id}/regenerate`): `{type: "content",
  content}`, `{type: "tool_use", tool, status, ...}`, `{type: "done", message_id, conversation_id,
  status, partial, usage}`, `{type: "error", error}`.
- assistant (`POST /api/chat`): `{event: "delta", msg_id, text}`, `{event: "tool", msg_id, tool,
  status, ...}`, `{event: "done", msg_id, conversation_id, status, partial, usage}`, `{event:
  "error", msg_id, error}`.

The reply is saved by the job whatever happens to the HTTP client, so a client that disconnects
finds it in the history. Cancelling stops generation at the next delta; the text so far is kept,
marked `partial`, with status `canceled`.
"""

import sqlalchemy as sa

from narrative.conversations import service
from narrative.conversations.models import CANCELED, FAILED, STREAMING, Message
from narrative.extensions import db
from narrative.platform.errors import BadRequest, Conflict
from narrative.platform.jobs import Job, cancel_job, enqueue_job, job_stream_key, new_job_id
from narrative.platform.sse import sse_response

REPLY_QUEUE = "high"
REPLY_TIMEOUT_SECONDS = 300

# Neutral events the job publishes (the "kind" key); families shape them in `to_frame`.
CONTENT, TOOL, DONE, ERROR = "content", "tool", "done", "error"


def start_reply(conversation, *, user_id, parent=None, provider=None, model=None, tools_enabled=True):
    """Create the assistant's (empty, streaming) message and queue the job that writes it."""
    job_id = new_job_id()  # on the message from the start: no UPDATE after the job's INSERT
    message = service.add_message(
        conversation,
        role="assistant",
        content="",
        parent=parent,
        status=STREAMING,
        provider=provider,
        model=model,
    )
    message.job_id = job_id
    job = enqueue_job(
        "chat.reply",
        "narrative.conversations.jobs.generate_reply",
        str(message.id),
        workspace_id=conversation.workspace_id,
        user_id=user_id,
        queue=REPLY_QUEUE,
        timeout=REPLY_TIMEOUT_SECONDS,
        provider=provider,
        model=model,
        tools_enabled=tools_enabled,
        asker_id=str(user_id) if user_id else None,
        job_id=job_id,
    )
    return message, job


def regenerate(message, *, user_id, provider=None, model=None):
    """Replace an assistant reply with a new one answering the same message (the old one is kept)."""
    if message.role != "assistant":
        raise BadRequest("Only the assistant's replies can be regenerated.")
    if message.status == STREAMING:
        raise Conflict("This reply is still being written.")
    conversation = service.get_conversation(message.conversation_id, user_id=user_id)
    parent = db.session.get(Message, message.parent_id) if message.parent_id else None
    # Everything after the replaced reply leaves the active history along with it.
    db.session.execute(
        sa.update(Message)
        .where(
            Message.conversation_id == conversation.id,
            sa.or_(
                Message.id == message.id,
                sa.and_(Message.created_at > message.created_at, Message.superseded.is_(False)),
            ),
        )
        .values(superseded=True)
    )
    return start_reply(
        conversation,
        user_id=user_id,
        parent=parent,
        provider=provider or message.provider,
        model=model or message.model,
    )


def cancel(message):
    """Stop a streaming reply; returns the status the message has (or will have) afterwards."""
    if message.role != "assistant" or message.status != STREAMING or not message.job_id:
        return message.status
    job = db.session.get(Job, message.job_id)
    if job is None or job.is_terminal:
        return message.status
    job = cancel_job(job)
    if job.status == "CANCELED":
        # Canceled before the worker picked it up: nothing was written, so nothing is partial.
        message.status = CANCELED
        message.is_partial = bool(message.content)
        db.session.flush()
    return CANCELED


def decide_dlp(message, *, decision, user_id):
    """Resolve a data-loss-prevention finding on a user's message: allow, redact or block.

    allow sends the message as written; redact masks the flagged spans first; block keeps it out
    of the AI's reach (no reply). allow and redact start the reply, returned with its job.
    """
    finding = message.dlp_finding or {}
    if message.role != "user" or finding.get("status") != "pending":
        raise Conflict("This message has no finding waiting for a decision.")
    if decision == "redact":
        message.content = redact(message.content, finding.get("spans") or [])
    finding = {**finding, "status": "resolved", "decision": decision}
    message.dlp_finding = finding
    if decision == "block":
        message.status = FAILED
        message.error = "Blocked by the sender after a data-loss-prevention finding."
        db.session.flush()
        return None, None
    db.session.flush()
    conversation = service.get_conversation(message.conversation_id, user_id=user_id)
    return start_reply(conversation, user_id=user_id, parent=message)


def redact(text, spans):
    """Replace each flagged [start, end) span with a marker naming what it was."""
    pieces, position = [], 0
    for span in sorted(spans, key=lambda s: s.get("start", 0)):
        start, end = max(position, int(span.get("start", 0))), int(span.get("end", 0))
        if end <= start:
            continue
        pieces.append(text[position:start])
        pieces.append(f"[REDACTED {str(span.get('type') or 'data').upper()}]")
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


# --- streaming the job to a family ---------------------------------------------------------------


def reply_is_over(payload):
    """A reply's stream ends at our done/error event, or at the job's own terminal event."""
    return payload.get("kind") in (DONE, ERROR) or payload.get("status") in (
        "COMPLETED",
        "FAILED",
        "CANCELED",
    )


def _from_job_status(payload):
    """A job-level event (no "kind"): RUNNING at start, or a terminal status we did not publish."""
    status = payload.get("status")
    if status == "FAILED":
        return {"kind": ERROR, "error": payload.get("error") or "The reply could not be generated."}
    if status in ("CANCELED", "COMPLETED"):
        return {"kind": DONE, "status": CANCELED if status == "CANCELED" else "complete", "partial": False}
    return None


def studio_frame(payload):
    event = payload if "kind" in payload else _from_job_status(payload)
    if event is None:
        return {"content": ""}  # the job started: an empty chunk, which studio clients ignore
    if event["kind"] == CONTENT:
        return {"content": event["content"]}
    if event["kind"] == TOOL:
        frame = {"tool_use": event["tool"], "status": event["status"]}
        if event.get("error"):
            frame["error"] = event["error"]
        return frame
    if event["kind"] == ERROR:
        return {"error": event["error"]}
    return {"done": True, "message_id": event.get("message_id"), "status": event.get("status")}


def core_frame(payload):
    event = payload if "kind" in payload else _from_job_status(payload)
    if event is None:
        return {"type": "status", "status": "running"}
    if event["kind"] == CONTENT:
        return {"type": "content", "content": event["content"]}
    if event["kind"] == TOOL:
        return {"type": "tool_use", **{k: v for k, v in event.items() if k != "kind"}}
    if event["kind"] == ERROR:
        return {"type": "error", "error": event["error"], "message_id": event.get("message_id")}
    return {"type": "done", **{k: v for k, v in event.items() if k != "kind"}}


def assistant_frame(payload):
    event = payload if "kind" in payload else _from_job_status(payload)
    if event is None:
        return {"event": "status", "status": "running"}
    msg_id = event.get("message_id")
    if event["kind"] == CONTENT:
        return {"event": "delta", "msg_id": msg_id, "text": event["content"]}
    if event["kind"] == TOOL:
        rest = {k: v for k, v in event.items() if k not in ("kind", "message_id")}
        return {"event": "tool", "msg_id": msg_id, **rest}
    if event["kind"] == ERROR:
        return {"event": "error", "msg_id": msg_id, "error": event["error"]}
    rest = {k: v for k, v in event.items() if k not in ("kind", "message_id")}
    return {"event": "done", "msg_id": msg_id, **rest}


FRAMES = {"studio": studio_frame, "core": core_frame, "assistant": assistant_frame}


def stream_response(message_id, conversation_id, job_id, *, family):
    """The SSE response of a reply in `family`'s frames; headers name the message and conversation."""
    headers = {"X-Message-Id": str(message_id), "X-Conversation-Id": str(conversation_id)}
    response = sse_response(job_stream_key(job_id), is_terminal=reply_is_over, to_frame=FRAMES[family])
    response.headers.update(headers)
    return response
