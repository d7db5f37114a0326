"""Conversations, their messages, folders, participants and attachments: one model for every family.

The core chat, the assistant and the studio all read and write these rows, so a history reads the
same whichever family asks for it. Every row carries `workspace_id`; a conversation belongs to the
user who started it and is visible to its participants (people it was shared with) and nobody else.
"""

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from narrative.extensions import db
from narrative.platform.models import IdMixin, JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.tenancy import WorkspaceScoped

ROLES = ("user", "assistant", "system", "tool")
STREAMING = "streaming"
COMPLETE = "complete"
CANCELED = "canceled"
FAILED = "failed"
MESSAGE_STATUSES = (COMPLETE, STREAMING, CANCELED, FAILED)
FAMILIES = ("core", "assistant", "studio")


class ChatFolder(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    """A user's folder of conversations in the chat sidebar."""

    __tablename__ = "chat_folders"
    __display_name__ = "Folder"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    name: Mapped[str] = mapped_column(sa.String(120), nullable=False)
    color: Mapped[str | None] = mapped_column(sa.String(20))
    icon: Mapped[str | None] = mapped_column(sa.String(40))
    position: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    is_collapsed: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)


class Conversation(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "conversations"
    __display_name__ = "Conversation"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    title: Mapped[str | None] = mapped_column(sa.String(200))
    # True once someone named it: a generated title never overwrites a chosen one.
    title_is_custom: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    folder_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("chat_folders.id", ondelete="SET NULL"), index=True
    )
    is_pinned: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    is_archived: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    family: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="core")
    system_prompt: Mapped[str | None] = mapped_column(sa.Text)
    prompt_context: Mapped[str | None] = mapped_column(sa.String(80))
    meta: Mapped[dict | None] = mapped_column("metadata", JSONType)
    client_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    project_id: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    branched_from_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="SET NULL")
    )
    branched_at_message_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The assistant's delete is a soft delete; every read hides deleted conversations.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    # Loaded when read: a turn of chat never needs them; lists load them in one query
    # (`service.list_conversations_query`).
    participants = relationship("ConversationParticipant", cascade="all, delete-orphan", passive_deletes=True)

    def participant_ids(self):
        return {p.user_id for p in self.participants}


class ConversationParticipant(WorkspaceScoped, db.Model):
    """Someone a conversation was shared with (the owner is a participant too, role "owner")."""

    __tablename__ = "conversation_participants"
    __table_args__ = (sa.UniqueConstraint("conversation_id", "user_id"),)

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
    )
    role: Mapped[str] = mapped_column(sa.String(20), nullable=False, default="participant")
    added_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class Message(WorkspaceScoped, IdMixin, TimestampMixin, db.Model):
    __tablename__ = "chat_messages"
    __display_name__ = "Message"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    role: Mapped[str] = mapped_column(sa.String(20), nullable=False)
    content: Mapped[str] = mapped_column(sa.Text, nullable=False, default="")
    # [{file_id, filename, content_type, size}] — ids of platform storage files.
    attachments: Mapped[list | None] = mapped_column(JSONType)
    # Assistant turns: [{id, name, arguments, status, result}]; tool turns: tool_call_id.
    tool_calls: Mapped[list | None] = mapped_column(JSONType)
    tool_call_id: Mapped[str | None] = mapped_column(sa.String(80))
    # The message this one answers or follows; a branch or a regenerated reply shares a parent.
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("chat_messages.id", ondelete="SET NULL"), index=True
    )
    feedback_rating: Mapped[str | None] = mapped_column(sa.String(10))  # "up" | "down"
    feedback_comment: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=COMPLETE)
    is_partial: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    error: Mapped[str | None] = mapped_column(sa.Text)
    provider: Mapped[str | None] = mapped_column(sa.String(40))
    model: Mapped[str | None] = mapped_column(sa.String(120))
    tokens_in: Mapped[int | None] = mapped_column(sa.Integer)
    tokens_out: Mapped[int | None] = mapped_column(sa.Integer)
    job_id: Mapped[str | None] = mapped_column(sa.String(40))
    # Replaced by a regenerated reply: kept for the record, left out of the history sent to the AI.
    superseded: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    # A data-loss-prevention finding awaiting the sender's decision (allow | redact | block).
    dlp_finding: Mapped[dict | None] = mapped_column(JSONType)


class ChatAttachment(WorkspaceScoped, IdMixin, db.Model):
    """A file uploaded into a conversation (bytes in platform storage, text extracted for the AI)."""

    __tablename__ = "chat_attachments"
    __display_name__ = "File"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True, nullable=False
    )
    conversation_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True, nullable=False
    )
    file_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("stored_files.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    uploaded_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    extracted_text: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)

    file = relationship("StoredFile", lazy="joined")
