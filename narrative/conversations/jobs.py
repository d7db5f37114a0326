"""The reply job: asks the workspace's AI provider for the next assistant message, streaming.

It loads the conversation's active history, streams the provider's reply, runs the tools the model
calls (announcing each as started, then finished or failed), publishes every piece to the job's
Redis stream (see `narrative.conversations.replies` for how families shape them) and saves the
reply in the history when it ends — completed, canceled (the partial text kept) or failed. A failed
reply also fails its job (FAILED, with the error people read), after the stream has been told.
"""

import json
import time
import uuid

import sqlalchemy as sa

from narrative.conversations import replies, service
from narrative.conversations.models import (
    CANCELED,
    COMPLETE,
    FAILED,
    STREAMING,
    ChatAttachment,
    Conversation,
    Message,
)
from narrative.extensions import db
from narrative.platform import unit_of_work
from narrative.platform.errors import ApiError
from narrative.platform.jobs import (
    TERMINAL_STATUSES,
    Job,
    JobCancelled,
    JobError,
    current_progress,
    publish,
)
from narrative.platform.models import parse_uuid
from narrative.platform.periodic import every

# A model that keeps calling tools is stopped after this many rounds and answers with what it has.
MAX_TOOL_ROUNDS = 4
# How much of an attachment's text goes to the model with the message it belongs to.
ATTACHMENT_CHARS = 8000
CHAT_TOOLS = ("search_workspace", "create_task")
GENERIC_ERROR = "The reply could not be generated."
CHECKPOINT_SECONDS = 2.0
# A reply still "streaming" whose job ended without saving it (its worker died) is closed by the sweep.
ABANDONED_MESSAGE = "The reply stopped unexpectedly."


def generate_reply(message_id, *, provider=None, model=None, tools_enabled=True, asker_id=None):
    """Write assistant message `message_id` (created empty, status streaming, by `start_reply`).

    `asker_id` is the user whose turn this answers (the job's row has it too; passing it saves a
    query before the first delta).
    """
    from narrative.ai import AiContext, get_provider
    from narrative.ai.tools import tool_specs

    del provider  # the workspace's AI settings choose the provider; `model` may override its model
    progress = current_progress()
    message = db.session.get(Message, uuid.UUID(message_id))
    conversation = db.session.get(Conversation, message.conversation_id)
    reply = _Reply(progress, message)
    if asker_id is None:
        job = db.session.get(Job, progress.job_id)
        asker_id = job.user_id if job is not None else None
    context = AiContext(
        workspace_id=conversation.workspace_id,
        user_id=parse_uuid(asker_id) or conversation.owner_id,
        function="chat",
        conversation_id=conversation.id,
    )
    history = build_history(conversation, before=message)
    db.session.rollback()  # nothing to hold while the provider talks: release the read transaction
    try:
        chat = get_provider(workspace_id=context.workspace_id, function="chat")
        reply.provider, reply.model = chat.name, model or chat.model
        tools = tool_specs(list(CHAT_TOOLS)) if tools_enabled and "tools" in chat.supports else None
        for _round in range(MAX_TOOL_ROUNDS):
            calls = reply.stream_round(
                chat, history, tools=tools, model=model, context=context, progress=progress
            )
            if not calls:
                break
            history = history + reply.run_tools(calls, context)
    except JobCancelled:
        reply.save(status=CANCELED)
        raise
    except Exception as exc:
        # The reply is saved failed and the stream told; then the job fails with the same words
        # (the job runner logs the trace, chained to `exc`).
        error = exc.message if isinstance(exc, ApiError) else GENERIC_ERROR
        reply.fail(error)
        raise JobError(error) from exc
    reply.save(status=COMPLETE)
    return {"message_id": message_id, "status": COMPLETE}


class _Reply:
    """The reply being written: its text so far, tool calls, usage, and what was published."""

    def __init__(self, progress, message):
        self.progress = progress
        self.stream_key = progress.stream_key
        self.message_id = message.id
        self.conversation_id = message.conversation_id
        self.content = ""
        self.tool_calls = []
        self.tokens_in = 0
        self.tokens_out = 0
        self.provider = None
        self.model = None
        self._saved_at = time.monotonic()

    def checkpoint(self):
        """Every few seconds, save the text so far: a worker that dies mid-reply leaves it behind."""
        if time.monotonic() - self._saved_at < CHECKPOINT_SECONDS:
            return
        db.session.execute(
            sa.update(Message).where(Message.id == self.message_id).values(content=self.content)
        )
        self.progress.checkpoint()
        self._saved_at = time.monotonic()

    def publish(self, kind, **fields):
        publish(self.stream_key, {"kind": kind, "message_id": str(self.message_id), **fields})

    def stream_round(self, chat, history, *, tools, model, context, progress):
        """Stream one provider answer; returns the tool calls it asked for."""
        calls = []
        stream = chat.stream_chat(history, tools=tools, model=model, context=context)
        try:
            for delta in stream:
                progress.check_cancelled()
                if delta.content:
                    self.content += delta.content
                    self.publish(replies.CONTENT, content=delta.content)
                    self.checkpoint()
                if delta.tool_call is not None:
                    calls.append(delta.tool_call)
                if delta.usage is not None:
                    self.tokens_in += delta.usage.tokens_in or 0
                    self.tokens_out += delta.usage.tokens_out or 0
        finally:
            # An early stop (cancel) closes the provider's stream, which logs the call as cancelled.
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        return calls

    def run_tools(self, calls, context):
        """Run each call, announcing it; returns the messages that carry the results to the model."""
        from narrative.ai.tools import run_tool

        messages = [
            {"role": "assistant", "content": "", "tool_calls": [call.as_message_part() for call in calls]}
        ]
        for call in calls:
            self.publish(
                replies.TOOL, tool=call.name, call_id=call.id, status="started", arguments=call.arguments
            )
            result = run_tool(context, call)
            # A tool writes in this session (a task, say): keep its effect even if the reply fails later.
            self.progress.checkpoint()
            failed = isinstance(result, dict) and "error" in result and len(result) == 1
            status = "failed" if failed else "finished"
            self.tool_calls.append(
                {
                    "id": call.id,
                    "name": call.name,
                    "arguments": call.arguments,
                    "status": status,
                    "result": result,
                }
            )
            extra = {"error": result["error"]} if failed else {"result": result}
            self.publish(replies.TOOL, tool=call.name, call_id=call.id, status=status, **extra)
            messages.append(
                {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result, default=str)}
            )
        return messages

    def save(self, *, status, error=None, rollback=False):
        """Store the reply in the history, then tell the stream it is over."""
        if rollback:  # after an error the session may hold half-done work
            db.session.rollback()
        message = db.session.get(Message, self.message_id)
        if message is None:  # the conversation was deleted meanwhile
            self.publish(replies.DONE, status=status, partial=False)
            return
        message.content = self.content
        message.status = status
        message.is_partial = status != COMPLETE and bool(self.content)
        message.error = error
        message.tool_calls = self.tool_calls or None
        message.provider = self.provider or message.provider
        message.model = self.model or message.model
        message.tokens_in = self.tokens_in or None
        message.tokens_out = self.tokens_out or None
        conversation = db.session.get(Conversation, self.conversation_id)
        conversation.last_message_at = message.updated_at
        if message.content:
            service.index_message(message)
        self.index_question(message)
        service.publish_event(self.conversation_id, service.message_event(message, "message.completed"))
        # Committed before the stream hears of it (a client then reads the saved reply), and before
        # a failure or cancel is raised (the runner rolls back what follows the last checkpoint).
        self.progress.checkpoint()
        usage = {"tokens_in": self.tokens_in, "tokens_out": self.tokens_out}
        if status == FAILED:
            self.publish(replies.ERROR, error=error or GENERIC_ERROR, partial=message.is_partial)
        else:
            self.publish(
                replies.DONE,
                conversation_id=str(self.conversation_id),
                status=status,
                partial=message.is_partial,
                usage=usage,
            )

    def fail(self, error):
        self.save(status=FAILED, error=error, rollback=True)

    @staticmethod
    def index_question(message):
        """The question was left unindexed by its request (see `service.add_message`); index it now."""
        question = db.session.get(Message, message.parent_id) if message.parent_id else None
        if question is not None and question.role == "user" and question.status == COMPLETE:
            service.index_message(question)


# Prompt contexts whose replies rest on facts computed when each reply is written (the money coach:
# its metrics and actions), {prompt_context: build(conversation, question) -> [system messages]}.
_GROUNDING = {}


def register_grounding(prompt_context, build):
    """Ground every reply in conversations with this `prompt_context` on `build`'s system messages.

    `build(conversation, question)` runs in the reply job, before the provider is called, with the
    latest user message as `question`; what it returns goes first in the history the model sees.
    """
    _GROUNDING[prompt_context] = build


def build_history(conversation, *, before):
    """The messages the model sees: system prompt (or grounding), then the history before `before`."""
    messages = []
    prompt = _system_prompt(conversation)
    if prompt:
        messages.append({"role": "system", "content": prompt})
    rows = db.session.scalars(
        service.messages_query(conversation)
        .where(
            Message.superseded.is_(False), Message.id != before.id, Message.created_at <= before.created_at
        )
        .order_by(Message.created_at, Message.id)
    ).all()
    texts = _attachment_texts(rows)
    for row in rows:
        if row.role == "tool" or (row.role == "user" and row.status == FAILED):
            continue  # tool results live in their reply; a blocked message never reaches the model
        content = row.content or ""
        for entry in row.attachments or ():
            text = texts.get(entry.get("file_id"))
            if text:
                content += f"\n\n[Attached file {entry.get('filename')}]\n{text[:ATTACHMENT_CHARS]}"
        if row.role == "assistant" and not content.strip():
            continue
        messages.append({"role": row.role, "content": content})
    ground = _GROUNDING.get(conversation.prompt_context)
    if ground is not None:
        question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        messages = list(ground(conversation, question)) + messages
    return messages


def _attachment_texts(rows):
    ids = [entry.get("file_id") for row in rows for entry in (row.attachments or ())]
    if not ids:
        return {}
    found = db.session.execute(
        sa.select(ChatAttachment.file_id, ChatAttachment.extracted_text).where(
            ChatAttachment.file_id.in_([parse_uuid(i) for i in ids])
        )
    ).all()
    return {str(file_id): text for file_id, text in found if text}


def _system_prompt(conversation):
    if conversation.prompt_context:
        from narrative.ai import prompts

        if prompts.get_prompt(conversation.prompt_context):
            return prompts.system_prompt(conversation.prompt_context)
    return conversation.system_prompt


@every(120)
def close_abandoned_replies():
    """Mark replies whose job ended without finishing them (a lost worker) failed, keeping their text."""
    stale = db.session.scalars(
        sa.select(Message)
        .join(Job, Job.id == Message.job_id)
        .where(Message.status == STREAMING, Job.status.in_(TERMINAL_STATUSES))
        .limit(500)
    ).all()
    for message in stale:
        message.status = FAILED
        message.is_partial = bool(message.content)
        message.error = ABANDONED_MESSAGE
    # A periodic task runs outside the job runner (plain RQ, see narrative.platform.periodic), so
    # nothing else ends its unit of work.
    unit_of_work.commit()
    return len(stale)
