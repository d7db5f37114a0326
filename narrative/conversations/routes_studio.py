"""The studio's conversation endpoints that are its own: sharing, participants, live events, voice.

(Its list, create, update, delete, history, send and upload share the core chat's paths and are
served by `narrative.conversations.routes`.)
"""

from narrative.conversations import service
from narrative.conversations.schemas import (
    ChatUploadSchema,
    ParticipantListSchema,
    ParticipantSchema,
    ShareSchema,
    TranscriptSchema,
)
from narrative.extensions import db
from narrative.identity.access import current_user_id, require
from narrative.identity.models import User
from narrative.platform.api import Blueprint
from narrative.platform.sse import sse_response
from narrative.platform.storage import PayloadTooLarge

blp = Blueprint("studio_chat", __name__, description="Studio chat: sharing, participants and live events")

# The common limit of hosted speech-to-text APIs.
MAX_AUDIO_BYTES = 25 * 1024 * 1024

EVENTS_DESCRIPTION = """Real-time participant events as `text/event-stream` (`data: {...}` frames):
`{type: "message.created", conversation_id, message}` when anyone adds a message,
`{type: "message.completed", ...}` when an AI reply is saved, `{type: "participant.added" |
"participant.removed", user_id}` and `{type: "conversation.updated"}`. Reconnect with
`Last-Event-ID` to resume without losing or repeating events."""


def _participant(row):
    user = db.session.get(User, row.user_id)
    return {
        "user_id": row.user_id,
        "role": row.role,
        "name": user.name if user else None,
        "email": user.email if user else None,
        "added_by_id": row.added_by_id,
        "created_at": row.created_at,
    }


@blp.route("/api/v1/chat/conversations/<conversation_id>/share", methods=["POST"])
@blp.operation("neuromancer.chat.conversations-share")
@require("chat.write")
@blp.arguments(ShareSchema)
@blp.response(200, ParticipantSchema)
def share(payload, conversation_id):
    """Share the conversation with another member of the workspace (owner only)"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id(), must_own=True)
    row = service.share_conversation(conversation, user_id=payload["user_id"], added_by_id=current_user_id())
    return _participant(row)


@blp.route("/api/v1/chat/conversations/<conversation_id>/participants")
@blp.operation("neuromancer.chat.participants-list")
@require("chat.read")
@blp.response(200, ParticipantListSchema)
def list_participants(conversation_id):
    """The owner and everyone the conversation is shared with"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id())
    rows = [_participant(row) for row in service.list_participants(conversation)]
    return {"participants": rows, "total": len(rows)}


@blp.route("/api/v1/chat/conversations/<conversation_id>/participants/<user_id>", methods=["DELETE"])
@blp.operation("neuromancer.chat.participants-remove")
@require("chat.write")
@blp.response(200, ParticipantListSchema)
def remove_participant(conversation_id, user_id):
    """Remove a participant (the owner removes anyone; a participant may leave)"""
    me = current_user_id()
    conversation = service.get_conversation(conversation_id, user_id=me, must_own=str(user_id) != str(me))
    service.remove_participant(conversation, user_id=user_id)
    if str(user_id) == str(me):
        return {"participants": [], "total": 0}
    rows = [_participant(row) for row in service.list_participants(conversation)]
    return {"participants": rows, "total": len(rows)}


@blp.route("/api/v1/chat/conversations/<conversation_id>/events")
@blp.operation("neuromancer.chat.events-stream", description=EVENTS_DESCRIPTION)
@require("chat.read")
@blp.response(200, description="text/event-stream of participant events", content_type="text/event-stream")
def events(conversation_id):
    """Live events of a conversation: new messages from other participants, sharing changes"""
    conversation = service.get_conversation(conversation_id, user_id=current_user_id())
    # A conversation's event stream has no end: the generator's time limit makes clients reconnect.
    return sse_response(service.events_stream_key(conversation.id), is_terminal=lambda payload: False)


@blp.route("/api/v1/chat/conversations/<conversation_id>/transcribe", methods=["POST"])
@blp.operation("neuromancer.chat.transcribe")
@require("chat.write")
@blp.arguments(ChatUploadSchema, location="files")
@blp.response(200, TranscriptSchema)
def transcribe(files, conversation_id):
    """Transcribe a voice note with the workspace's transcription provider (503 when none is set up)"""
    from narrative.ai import AiContext, get_provider

    conversation = service.get_conversation(conversation_id, user_id=current_user_id())
    upload = files["file"]
    provider = get_provider(workspace_id=conversation.workspace_id, function="transcription")
    audio = upload.stream.read(MAX_AUDIO_BYTES + 1)
    if len(audio) > MAX_AUDIO_BYTES:
        raise PayloadTooLarge(f"Audio files are limited to {MAX_AUDIO_BYTES // (1024 * 1024)} MB.")
    result = provider.transcribe(
        audio,
        filename=upload.filename or "audio",
        content_type=upload.mimetype,
        context=AiContext(
            workspace_id=conversation.workspace_id,
            user_id=current_user_id(),
            function="transcription",
            conversation_id=conversation.id,
        ),
    )
    return {"text": result.text, "message": None}
