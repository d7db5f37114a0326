"""The assistant's conversation endpoints (`/api/conversations`, `/api/chat`): same store, its own paths."""

from flask.views import MethodView

from narrative.conversations import replies, service
from narrative.conversations.routes import stream_turn
from narrative.conversations.schemas import (
    AssistantConversationListArgs,
    AssistantMessageListArgs,
    BranchSchema,
    CancelResultSchema,
    ChatMessageSchema,
    ChatTurnSchema,
    ConversationCreateSchema,
    ConversationDeletedSchema,
    ConversationSchema,
    ConversationWithMessagesSchema,
    DlpDecisionResultSchema,
    DlpDecisionSchema,
    FeedbackSchema,
)
from narrative.identity.access import current_user_id, require
from narrative.platform.api import Blueprint
from narrative.platform.errors import ValidationFailed
from narrative.platform.pagination import newest_first, page_schema, paginate

blp = Blueprint(
    "assistant_conversations", __name__, description="Assistant: conversations and streamed turns"
)

STREAM_DESCRIPTION = """Streams a turn as `text/event-stream`, one JSON frame per `data:` line:
`{event: "delta", msg_id, text}`, `{event: "tool", msg_id, tool, call_id, status (started|finished|failed),
arguments | result | error}`, `{event: "done", msg_id, conversation_id, status (complete|canceled), partial,
usage}`, `{event: "error", msg_id, error}`. Body: `conversation_id` (omit to start a conversation) and
`message`. Headers `X-Message-Id` (the msg_id to cancel) and `X-Conversation-Id`. The reply is saved in the
conversation even if the client disconnects."""


@blp.route("/api/conversations")
class AssistantConversations(MethodView):
    @blp.operation("assistant.conversations.list")
    @require("chat.read")
    @blp.arguments(AssistantConversationListArgs, location="query")
    @blp.response(200, page_schema(ConversationSchema, "cursor"))
    def get(self, args):
        """Your conversations, most recently started first"""
        stmt = service.list_conversations_query(user_id=current_user_id())
        return paginate(stmt, args, style="cursor", order_by=newest_first(service.Conversation))

    @blp.operation("assistant.conversations.create")
    @require("chat.write")
    @blp.arguments(ConversationCreateSchema)
    @blp.response(200, ConversationSchema)
    def post(self, payload):
        """Start a conversation (accepts Idempotency-Key)"""
        return service.create_conversation(user_id=current_user_id(), family="assistant", **payload)


@blp.route("/api/conversations/<conversation_id>")
class AssistantConversationItem(MethodView):
    @blp.operation("assistant.conversations.get")
    @require("chat.read")
    @blp.response(200, ConversationWithMessagesSchema)
    def get(self, conversation_id):
        """A conversation with its messages"""
        conversation = service.get_conversation(conversation_id, user_id=current_user_id())
        conversation.messages = service.ordered_messages(conversation)
        return conversation

    @blp.operation("assistant.conversations.delete")
    @require("chat.write")
    @blp.response(200, ConversationDeletedSchema)
    def delete(self, conversation_id):
        """Soft delete: the conversation disappears from every list; its rows are kept"""
        conversation = service.get_conversation(conversation_id, user_id=current_user_id(), must_own=True)
        service.delete_conversation(conversation, soft=True)
        return {"id": conversation.id, "deleted": True}


@blp.route("/api/conversations/<conversation_id>/messages")
@blp.operation("assistant.conversations.messages-list")
@require("chat.read")
@blp.arguments(AssistantMessageListArgs, location="query")
@blp.response(200, page_schema(ChatMessageSchema, "cursor"))
def list_messages(args, conversation_id):
    """The history, oldest first, a page at a time (limit, cursor)"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id())
    return paginate(
        service.messages_query(conversation), args, style="cursor", order_by=[service.Message.created_at]
    )


@blp.route("/api/conversations/<conversation_id>/title", methods=["POST"])
@blp.operation("assistant.conversations.title-regenerate")
@require("chat.write")
@blp.response(200, ConversationSchema)
def regenerate_title(conversation_id):
    """Name the conversation again from its first message"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id(), must_own=True)
    return service.regenerate_title(conversation)


@blp.route("/api/conversations/<conversation_id>/branch", methods=["POST"])
@blp.operation("assistant.conversations.branch")
@require("chat.write")
@blp.arguments(BranchSchema)
@blp.response(200, ConversationSchema)
def branch(payload, conversation_id):
    """A new conversation (yours) with this one's history up to message_id, to continue separately"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id())
    return service.branch_conversation(
        conversation,
        user_id=current_user_id(),
        message_id=payload.get("message_id"),
        title=payload.get("title"),
    )


@blp.route("/api/chat", methods=["POST"])
@blp.operation("assistant.chat.stream", description=STREAM_DESCRIPTION)
@require("chat.write")
@blp.arguments(ChatTurnSchema)
@blp.response(200, description="text/event-stream of turn frames", content_type="text/event-stream")
def stream(payload):
    """Stream a turn: store the message, stream the assistant's reply"""
    return stream_turn(payload, family="assistant")


@blp.route("/api/chat/<msg_id>/cancel", methods=["POST"])
@blp.operation("assistant.chat.cancel")
@require("chat.write")
@blp.response(200, CancelResultSchema)
def cancel(msg_id):
    """Stop a reply being written; the text so far is kept, marked partial"""
    message = service.get_message(msg_id, user_id=current_user_id())
    before = message.status
    status = replies.cancel(message)
    return {"id": message.id, "msg_id": message.id, "status": status, "canceled": before == "streaming"}


@blp.route("/api/chat/<msg_id>/dlp-decision", methods=["POST"])
@blp.operation(
    "assistant.chat.dlp-decision",
    description="Body `decision`: allow (send as written), redact (mask the flagged spans, then send) or "
    "block (never send). allow and redact start the reply, returned as the message's `reply_id`.",
)
@require("chat.write")
@blp.arguments(DlpDecisionSchema)
@blp.response(200, DlpDecisionResultSchema)
def dlp_decision(payload, msg_id):
    """Resolve a dlp_finding on your message: allow, redact or block"""
    message = service.get_message(msg_id, user_id=current_user_id())
    reply, _job = replies.decide_dlp(message, decision=payload["decision"], user_id=current_user_id())
    message.reply_id = reply.id if reply is not None else None
    return message


@blp.route("/api/chat/<msg_id>/feedback", methods=["POST"])
@blp.operation("assistant.chat.feedback")
@require("chat.write")
@blp.arguments(FeedbackSchema)
@blp.response(200, ChatMessageSchema)
def feedback(payload, msg_id):
    """Thumbs up or down on a reply, with an optional comment"""
    message = service.get_message(msg_id, user_id=current_user_id())
    rating = payload.get("rating") or payload.get("thumbs")
    if rating is None:
        raise ValidationFailed("Say up or down.", details=[{"field": "rating", "message": "Required."}])
    return service.set_feedback(message, rating=rating, comment=payload.get("comment"))
