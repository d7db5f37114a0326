"""The finance coach: its bootstrap state, its chat sessions and the turns sent to them.

A coach session is a conversation of the platform's one store (narrative.conversations) with
prompt_context "money_coach" and family "sdk": it shows in every family's chat history, and its
replies are the platform's reply job, grounded on the owner's money facts (narrative.coach.grounding).
"""

import sqlalchemy as sa

from narrative.coach.grounding import COACH_CONTEXT, TOP_ACTIONS, session_as_of
from narrative.conversations import replies
from narrative.conversations import service as conversations
from narrative.conversations.models import Conversation
from narrative.extensions import db
from narrative.money import service as money
from narrative.platform.errors import BadRequest, NotFound

FAMILY = "sdk"
OPEN_SESSIONS = 20
TEXT_TYPES = ("text", "prompt")
ACTION_TYPE = "action"
PAYLOAD_TYPES = (*TEXT_TYPES, ACTION_TYPE)
MAX_MESSAGE_CHARS = 8000


def open_sessions(*, user_id, limit=OPEN_SESSIONS):
    """The user's coach sessions that are not archived, latest activity first."""
    stmt = conversations.visible_conversations(
        user_id,
        Conversation.prompt_context == COACH_CONTEXT,
        Conversation.owner_id == user_id,
        Conversation.is_archived.is_(False),
    ).order_by(
        sa.func.coalesce(Conversation.last_message_at, Conversation.created_at).desc(),
        Conversation.id.desc(),
    )
    return db.session.scalars(stmt.limit(limit)).all()


def suggested_prompts(report, top_actions, has_opportunities):
    month = report.figures.month.name
    prompts = ["What is my runway?", "Where is my money going?"]
    if top_actions:
        prompts.append(f"What should I do about “{top_actions[0].title}”?")
    if has_opportunities:
        prompts.append("How can I grow my revenue?")
    prompts.append(f"How did {month} compare with the month before?")
    return prompts[:4]


def bootstrap(*, user, workspace, as_of):
    """The coach's initial state for the user: metrics, top actions, open sessions, prompts."""
    report, open_actions = money.actions(workspace_id=workspace.id, user_id=user.id, as_of=as_of)
    _currency, opps = money.opportunities(workspace_id=workspace.id, user_id=user.id, as_of=as_of)
    top = open_actions[:TOP_ACTIONS]
    return {
        "user_id": user.id,
        "tenant_id": workspace.id,
        "user": {"user_id": user.id, "email": user.email, "name": user.name},
        "tenant": {"tenant_id": workspace.id, "name": workspace.name},
        "as_of": as_of,
        "metrics": report,
        "top_actions": top,
        "open_action_count": len(open_actions),
        "opportunity_count": len(opps),
        "sessions": [session_view(c) for c in open_sessions(user_id=user.id)],
        "suggested_prompts": suggested_prompts(report, top, bool(opps)),
    }


def session_view(conversation):
    meta = conversation.meta or {}
    return {
        "session_id": conversation.id,
        "chat_type": meta.get("chatType") or "coach",
        "title": conversation.title,
        "as_of": meta.get("asOfDate"),
        "created_at": conversation.created_at,
        "last_message_at": conversation.last_message_at,
    }


def create_session(*, user_id, chat_type, as_of=None):
    """A new coach session owned by the user (a conversation with the coach's grounding)."""
    metadata = {"chatType": chat_type}
    if as_of is not None:
        metadata["asOfDate"] = as_of.isoformat()
    conversation = conversations.create_conversation(
        user_id=user_id, family=FAMILY, metadata=metadata, prompt_context=COACH_CONTEXT
    )
    return session_view(conversation)


def get_session(session_id, *, user_id):
    """The user's own coach session, or 404 (someone else's, another workspace's, or not a coach one)."""
    try:
        conversation = conversations.get_conversation(session_id, user_id=user_id)
    except NotFound:
        raise NotFound("Chat session not found.") from None
    if conversation.prompt_context != COACH_CONTEXT or conversation.owner_id != user_id:
        raise NotFound("Chat session not found.")
    return conversation


def message_text(conversation, *, user_id, payload_type, payload):
    """What the user says, from the SDK's payload: text, a suggested prompt, or an action to discuss."""
    if payload_type in TEXT_TYPES:
        text = payload.get("text") if isinstance(payload, dict) else payload
        text = (text or "").strip() if isinstance(text, str) else ""
        if not text:
            raise BadRequest('payload must be the message text (or {"text": ...}).')
        if len(text) > MAX_MESSAGE_CHARS:
            raise BadRequest(f"The message is longer than {MAX_MESSAGE_CHARS} characters.")
        return text
    insight_id = payload.get("insightId") if isinstance(payload, dict) else payload
    if not isinstance(insight_id, str) or not insight_id:
        raise BadRequest('An action payload names the action: {"insightId": "act_..."}.')
    _report, listed = money.actions(
        workspace_id=conversation.workspace_id,
        user_id=user_id,
        as_of=session_as_of(conversation),
        status_filter="all",
    )
    action = next((item for item in listed if item.id == insight_id), None)
    if action is None:
        raise NotFound("Money action not found.")
    return f"What should I do about “{action.title}”?"


def send(*, session_id, user_id, payload_type, payload):
    """Store the user's turn and start the (grounded) reply: (reply message, job)."""
    conversation = get_session(session_id, user_id=user_id)
    text = message_text(conversation, user_id=user_id, payload_type=payload_type, payload=payload)
    message = conversations.add_message(
        conversation, role="user", content=text, author_id=user_id, index=False
    )
    return replies.start_reply(conversation, user_id=user_id, parent=message)
