"""The SDK's coach endpoints: bootstrap state, chat sessions and the streamed chat turn."""

from narrative.coach import frames, service
from narrative.coach.schemas import (
    BootstrapArgsSchema,
    BootstrapSchema,
    ChatSendSchema,
    ChatSessionCreateSchema,
    ChatSessionSchema,
)
from narrative.identity.access import check_permission, current_user, current_workspace, require
from narrative.money import service as money
from narrative.money.periods import parse_as_of
from narrative.platform.api import Blueprint
from narrative.platform.errors import Forbidden

blp = Blueprint("coach", __name__, description="Narrative SDK: the finance coach")


def _must_be_caller(user_id):
    if user_id != current_user().id:
        raise Forbidden("userId must be your own user id.")


@blp.route("/api/coach/bootstrap")
@blp.operation(
    "narrative-sdk.coach.bootstrap",
    description="The session object: user, tenant, asOfDate, metrics (summary cards), topActions (three "
    "open actions), sessions (your open coach sessions), suggestedPrompts.",
)
@require("money.read")
@blp.arguments(BootstrapArgsSchema, location="query")
@blp.response(200, BootstrapSchema)
def bootstrap(args):
    """Load initial coach state"""
    check_permission("chat.read")
    as_of = parse_as_of(args["as_of_date"]) if args["as_of_date"] else money.today()
    return service.bootstrap(user=current_user(), workspace=current_workspace(), as_of=as_of)


@blp.route("/api/chat/session/create", methods=["POST"])
@blp.operation("narrative-sdk.coach.chat-session-create")
@require("chat.write")
@blp.arguments(ChatSessionCreateSchema)
@blp.response(200, ChatSessionSchema)
def create_session(payload):
    """Create a new chat session (userId must be you)"""
    _must_be_caller(payload["user_id"])
    as_of = parse_as_of(payload["as_of_date"]) if payload["as_of_date"] else None
    return service.create_session(user_id=current_user().id, chat_type=payload["chat_type"], as_of=as_of)


@blp.route("/api/chat/send", methods=["POST"])
@blp.operation("narrative-sdk.coach.chat-send", description=frames.__doc__)
@require("chat.write")
@blp.arguments(ChatSendSchema)
@blp.response(200, description="text/event-stream of reply frames", content_type="text/event-stream")
def send(payload):
    """Send a message and receive SSE stream"""
    _must_be_caller(payload["user_id"])
    check_permission("money.read")
    message, job = service.send(
        session_id=payload["session_id"],
        user_id=current_user().id,
        payload_type=payload["payload_type"],
        payload=payload["payload"],
    )
    # Read while loaded: after the commit each would cost a SELECT on the way to the first frame.
    ids = message.id, message.conversation_id, job.id
    return frames.stream_reply(*ids)
