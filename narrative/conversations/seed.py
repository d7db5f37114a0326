"""Demo data for chat: a folder and a first conversation in the demo workspace, so the sidebar is not empty."""

import sqlalchemy as sa

from narrative.conversations.models import ChatFolder, Conversation, ConversationParticipant, Message
from narrative.extensions import db
from narrative.platform.models import utcnow

WELCOME_TITLE = "Getting started with chat"
WELCOME_QUESTION = "What can I do in this chat?"
WELCOME_ANSWER = (
    "Ask about anything in this workspace: answers are grounded in your own records, documents and earlier "
    "conversations, and cite what they used. Attach files (PDF, DOCX, TXT, CSV, images), share a conversation "
    "with a colleague, branch it at any message, or regenerate a reply you do not like."
)


def seed_demo(demo):
    if demo.workspace is None or demo.user is None:
        return
    exists = db.session.scalar(
        sa.select(Conversation.id).where(
            Conversation.workspace_id == demo.workspace.id, Conversation.title == WELCOME_TITLE
        )
    )
    if exists is not None:
        return
    folder = ChatFolder(
        workspace_id=demo.workspace.id, owner_id=demo.user.id, name="Getting started", position=0
    )
    db.session.add(folder)
    db.session.flush()
    conversation = Conversation(
        workspace_id=demo.workspace.id,
        owner_id=demo.user.id,
        title=WELCOME_TITLE,
        title_is_custom=True,
        folder_id=folder.id,
        family="core",
        last_message_at=utcnow(),
    )
    db.session.add(conversation)
    db.session.flush()
    db.session.add(
        ConversationParticipant(
            workspace_id=demo.workspace.id,
            conversation_id=conversation.id,
            user_id=demo.user.id,
            role="owner",
        )
    )
    question = Message(
        workspace_id=demo.workspace.id,
        conversation_id=conversation.id,
        author_id=demo.user.id,
        role="user",
        content=WELCOME_QUESTION,
    )
    db.session.add(question)
    db.session.flush()
    db.session.add(
        Message(
            workspace_id=demo.workspace.id,
            conversation_id=conversation.id,
            role="assistant",
            content=WELCOME_ANSWER,
            parent_id=question.id,
        )
    )
    db.session.flush()
