"""The SDK's frames for a streamed coach reply (camelCase), shaped from the reply job's neutral
events (narrative.conversations.replies), like the core, studio and assistant families' frames:

- `{type: "status", status: "running", sessionId, messageId}`: the reply started;
- `{type: "delta", sessionId, messageId, text}`: the next piece of the reply;
- `{type: "tool", sessionId, messageId, tool, callId, status, result | error}`: a tool call
  (status started | finished | failed);
- `{type: "done", sessionId, messageId, status, partial, usage: {tokensIn, tokensOut}}`: the end
  (status complete | canceled); the reply is in the session's history;
- `{type: "error", sessionId, messageId, error}`: the reply failed (also the end).
"""

from narrative.conversations import replies
from narrative.platform.jobs import job_stream_key
from narrative.platform.sse import sse_response


def frame_shaper(session_id, message_id):
    ids = {"sessionId": str(session_id), "messageId": str(message_id)}

    def to_frame(payload):
        if "kind" not in payload:  # a job-level event
            if payload.get("status") == "FAILED":
                return {"type": "error", **ids, "error": payload.get("error") or "The reply failed."}
            if payload.get("status") in ("COMPLETED", "CANCELED"):
                status = "canceled" if payload["status"] == "CANCELED" else "complete"
                return {"type": "done", **ids, "status": status, "partial": False}
            return {"type": "status", **ids, "status": "running"}
        kind = payload["kind"]
        if kind == replies.CONTENT:
            return {"type": "delta", **ids, "text": payload["content"]}
        if kind == replies.TOOL:
            frame = {"type": "tool", **ids, "tool": payload.get("tool"), "callId": payload.get("call_id")}
            frame["status"] = payload.get("status")
            for name in ("result", "error", "arguments"):
                if name in payload:
                    frame[name] = payload[name]
            return frame
        if kind == replies.ERROR:
            return {"type": "error", **ids, "error": payload.get("error")}
        usage = payload.get("usage") or {}
        return {
            "type": "done",
            **ids,
            "status": payload.get("status"),
            "partial": bool(payload.get("partial")),
            "usage": {"tokensIn": usage.get("tokens_in"), "tokensOut": usage.get("tokens_out")},
        }

    return to_frame


def stream_reply(message_id, conversation_id, job_id):
    """The SSE response of a coach reply, through the platform's one SSE path."""
    response = sse_response(
        job_stream_key(job_id),
        is_terminal=replies.reply_is_over,
        to_frame=frame_shaper(conversation_id, message_id),
    )
    response.headers.update(
        {
            "X-Message-Id": str(message_id),
            "X-Conversation-Id": str(conversation_id),
            "X-Session-Id": str(conversation_id),
        }
    )
    return response
