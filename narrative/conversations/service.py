"""Conversation rules shared by the core chat, the assistant and the studio.

Who sees what: a conversation is visible to its owner and to the people it was shared with
(participants), inside its workspace only; anyone else gets a 404, as for a conversation that does
not exist. Only the owner changes, shares or deletes it. Routes stay thin and call these functions.
"""

import logging
import re
from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from narrative.conversations.models import (
    COMPLETE,
    ROLES,
    ChatAttachment,
    ChatFolder,
    Conversation,
    ConversationParticipant,
    Message,
)
from narrative.extensions import db
from narrative.platform.errors import BadRequest, Conflict, Forbidden, NotFound, ValidationFailed
from narrative.platform.jobs import publish
from narrative.platform.models import new_id, parse_uuid, utcnow
from narrative.platform.tenancy import current_workspace_id, get_or_404, resolve_reference, tenant_select
from narrative.platform.transactions import on_commit

log = logging.getLogger("narrative.conversations")

TITLE_MAX_WORDS = 6
TITLE_MIN_WORDS = 3
EVENT_STREAM_TTL_SECONDS = 24 * 3600

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "about",
        "into",
        "over",
        "under",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "do",
        "does",
        "did",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "he",
        "she",
        "it",
        "its",
        "they",
        "them",
        "their",
        "this",
        "that",
        "these",
        "those",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "why",
        "when",
        "where",
        "please",
        "help",
        "tell",
        "show",
        "give",
        "let",
        "lets",
        "let's",
        "need",
        "want",
        "like",
        "just",
        "also",
        "some",
        "any",
        "all",
        "there",
        "here",
        "have",
        "has",
        "had",
        "get",
        "got",
        "make",
        "made",
        "up",
        "out",
        "as",
        "not",
        "no",
        "yes",
        "hi",
        "hello",
        "hey",
        "thanks",
        "thank",
        "am",
        "us",
        "me",
    ]
)


# --- events for live participants ---------------------------------------------------------------


def events_stream_key(conversation_id):
    return f"narrative:chat:{conversation_id}:events"


def publish_event(conversation_id, payload):
    """Tell the conversation's live participants (after the commit, so they can read what changed)."""
    key = events_stream_key(conversation_id)
    on_commit(lambda: publish(key, payload, ttl=EVENT_STREAM_TTL_SECONDS))


# --- conversations ----------------------------------------------------------------------------


def visible_conversations(user_id, *criteria):
    """The caller's workspace's live conversations that `user_id` owns or takes part in."""
    shared = sa.select(ConversationParticipant.conversation_id).where(
        ConversationParticipant.user_id == user_id
    )
    return tenant_select(
        Conversation,
        Conversation.deleted_at.is_(None),
        sa.or_(Conversation.owner_id == user_id, Conversation.id.in_(shared)),
        *criteria,
    )


def list_conversations_query(
    *,
    user_id,
    archived=None,
    folder_id=None,
    pinned_only=False,
    uncategorized=False,
    search=None,
    client_id=None,
    project_id=None,
):
    criteria = []
    if archived is not None:
        criteria.append(Conversation.is_archived.is_(archived))
    if folder_id:
        criteria.append(Conversation.folder_id == _folder_for(folder_id, user_id).id)
    if pinned_only:
        criteria.append(Conversation.is_pinned.is_(True))
    if uncategorized:
        criteria.append(Conversation.folder_id.is_(None))
    if client_id:
        criteria.append(Conversation.client_id == client_id)
    if project_id:
        criteria.append(Conversation.project_id == project_id)
    if search:
        pattern = f"%{search.strip()}%"
        in_messages = sa.select(Message.conversation_id).where(Message.content.ilike(pattern))
        criteria.append(sa.or_(Conversation.title.ilike(pattern), Conversation.id.in_(in_messages)))
    return visible_conversations(user_id, *criteria).options(selectinload(Conversation.participants))


def get_conversation(conversation_id, *, user_id, must_own=False, field=None):
    """The conversation if `user_id` may see it (404 otherwise); `must_own` also needs ownership (403).

    `field` names the payload field the id came from: an unknown one is then a 422 naming it.
    """
    ident = parse_uuid(conversation_id)
    conversation = None
    if ident is not None:
        conversation = db.session.scalar(visible_conversations(user_id, Conversation.id == ident))
    if conversation is None:
        if field is not None:
            raise _unknown(field, f"Conversation {conversation_id} does not exist in this workspace.")
        raise NotFound("Conversation not found.")
    if must_own and conversation.owner_id != user_id:
        raise Forbidden("Only the owner of this conversation can do that.")
    return conversation


def _unknown(field, message):
    return ValidationFailed(details=[{"field": field, "message": message}])


def _folder_for(folder_id, user_id, *, field="folder_id"):
    """The caller's folder named in a payload or query (another member's is unknown too: 422)."""
    message = f"Folder {folder_id} is not one of your folders."
    folder = resolve_reference(ChatFolder, folder_id, field=field, message=message)
    if folder is not None and folder.owner_id != user_id:
        raise _unknown(field, message)
    return folder


def create_conversation(
    *,
    user_id,
    family,
    title=None,
    metadata=None,
    folder_id=None,
    prompt_context=None,
    system_prompt=None,
    client_id=None,
    project_id=None,
    is_pinned=False,
):
    """Start a conversation owned by `user_id` in the caller's workspace."""
    workspace_id = current_workspace_id()
    folder = _folder_for(folder_id, user_id)
    conversation = Conversation(
        workspace_id=workspace_id,
        owner_id=user_id,
        title=(title or "").strip() or None,
        title_is_custom=bool((title or "").strip()),
        folder_id=folder.id if folder else None,
        family=family,
        meta=metadata,
        prompt_context=prompt_context,
        system_prompt=None if prompt_context else system_prompt,
        client_id=client_id,
        project_id=project_id,
        is_pinned=bool(is_pinned),
    )
    db.session.add(conversation)
    db.session.flush()
    db.session.add(
        ConversationParticipant(
            workspace_id=workspace_id,
            conversation_id=conversation.id,
            user_id=user_id,
            role="owner",
            added_by_id=user_id,
        )
    )
    db.session.flush()
    return conversation


UPDATABLE = ("title", "folder_id", "is_pinned", "is_archived", "metadata", "system_prompt", "prompt_context")


def update_conversation(conversation, *, user_id, changes):
    """Apply the fields sent (only the owner may)."""
    if "folder_id" in changes:
        folder = _folder_for(changes["folder_id"], user_id)
        conversation.folder_id = folder.id if folder else None
    if "title" in changes:
        title = (changes["title"] or "").strip()
        conversation.title = title or None
        conversation.title_is_custom = bool(title)
    if "metadata" in changes:
        conversation.meta = changes["metadata"]
    for name in ("is_pinned", "is_archived", "system_prompt", "prompt_context", "client_id", "project_id"):
        if name in changes:
            setattr(conversation, name, changes[name])
    conversation.updated_at = utcnow()
    db.session.flush()
    publish_event(conversation.id, {"type": "conversation.updated", "conversation_id": str(conversation.id)})
    return conversation


def delete_conversation(conversation, *, soft=False):
    """Delete for good (core, studio) or hide it and keep the rows (the assistant's soft delete)."""
    _remove_from_retrieval(conversation)
    if soft:
        conversation.deleted_at = utcnow()
        db.session.flush()
    else:
        db.session.delete(conversation)
        db.session.flush()


# --- messages ---------------------------------------------------------------------------------


def messages_query(conversation):
    return sa.select(Message).where(Message.conversation_id == conversation.id)


def ordered_messages(conversation, *, include_superseded=True):
    stmt = messages_query(conversation)
    if not include_superseded:
        stmt = stmt.where(Message.superseded.is_(False))
    return db.session.scalars(stmt.order_by(Message.created_at, Message.id)).all()


def get_message(message_id, *, user_id):
    """A message in a conversation `user_id` may see (404 otherwise)."""
    message = get_or_404(Message, message_id, message="Message not found.")
    try:
        get_conversation(message.conversation_id, user_id=user_id)
    except NotFound:
        raise NotFound("Message not found.") from None
    return message


def _attachment_entries(conversation, file_ids):
    """Validate attachment ids: files uploaded into this conversation (platform storage ids)."""
    entries = []
    for index, raw in enumerate(file_ids or ()):
        file_id = raw.get("file_id") if isinstance(raw, dict) else raw
        ident = parse_uuid(file_id)
        attachment = (
            db.session.scalar(
                sa.select(ChatAttachment).where(
                    ChatAttachment.file_id == ident, ChatAttachment.conversation_id == conversation.id
                )
            )
            if ident
            else None
        )
        if attachment is None:
            raise _unknown(f"attachments.{index}", f"File {file_id} was not uploaded to this conversation.")
        entries.append(
            {
                "file_id": str(attachment.file_id),
                "filename": attachment.file.filename,
                "content_type": attachment.file.content_type,
                "size": attachment.file.size,
            }
        )
    return entries or None


def add_message(
    conversation,
    *,
    role,
    content,
    author_id=None,
    attachments=None,
    tool_calls=None,
    tool_call_id=None,
    parent=None,
    parent_id=None,
    status=COMPLETE,
    provider=None,
    model=None,
    index=True,
):
    """Append a message; the first user message names an untitled conversation.

    It follows `parent` (a message the caller holds, e.g. the question a reply answers), else
    `parent_id` (one a client named: it must be in this conversation, else a 422), else the
    latest message of the active history.

    `index=False` leaves making it searchable to whoever finishes the turn: a question answered by
    a streamed reply is indexed by the reply's job, so its embedding is not computed while the
    asker waits for the first frame.
    """
    if role not in ROLES:
        raise BadRequest(f"role must be one of {', '.join(ROLES)}.")
    if parent is None and parent_id is not None:
        parent = _parent_in(conversation, parent_id)
    if parent is None:
        parent = db.session.scalar(
            messages_query(conversation)
            .where(Message.superseded.is_(False))
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
    parent_id = parent.id if parent is not None else None
    now = utcnow()
    # Id and times are set here, not by the flush, so nothing needs flushing yet: a turn's messages,
    # the conversation's update and the reply's job then reach the database in one flush.
    message = Message(
        id=new_id(),
        created_at=now,
        updated_at=now,
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        author_id=author_id,
        role=role,
        content=content or "",
        attachments=_attachment_entries(conversation, attachments),
        tool_calls=tool_calls,
        tool_call_id=tool_call_id,
        parent_id=parent_id,
        status=status,
        provider=provider,
        model=model,
    )
    db.session.add(message)
    conversation.last_message_at = now
    conversation.updated_at = now
    if role == "user" and not conversation.title and content:
        conversation.title = generate_title(content)
    if status == COMPLETE and index:
        index_message(message)
    publish_event(conversation.id, message_event(message))
    return message


def _parent_in(conversation, parent_id):
    """The message a new one follows: it must be in the same conversation (422 on parent_id)."""
    message = f"Message {parent_id} is not in this conversation."
    parent = resolve_reference(Message, parent_id, field="parent_id", message=message)
    if parent.conversation_id != conversation.id:
        raise _unknown("parent_id", message)
    return parent


def message_event(message, event_type="message.created"):
    return {
        "type": event_type,
        "conversation_id": str(message.conversation_id),
        "message": {
            "id": str(message.id),
            "role": message.role,
            "content": message.content,
            "author_id": str(message.author_id) if message.author_id else None,
            "status": message.status,
            "created_at": message.created_at.isoformat() if message.created_at else None,
        },
    }


def set_feedback(message, *, rating, comment=None):
    if message.role != "assistant":
        raise BadRequest("Feedback is for the assistant's replies.")
    message.feedback_rating = rating
    message.feedback_comment = comment
    db.session.flush()
    return message


# --- titles -------------------------------------------------------------------------------------


def generate_title(text):
    """A 3-6 word, topic-based title: the message's most telling words, in their order.

    Deterministic and local on purpose: a title is needed at once, on every message, offline.
    """
    words = re.findall(r"[A-Za-z0-9][A-Za-z0-9'&.-]*", text or "")
    keywords = [w.strip(".'-") for w in words if w.lower().strip(".'-") not in STOPWORDS and len(w) > 1]
    chosen = keywords[:TITLE_MAX_WORDS]
    if len(chosen) < TITLE_MIN_WORDS:
        # Too few content words: keep the opening of the message as written.
        chosen = [w.strip(".'-") for w in words[:TITLE_MAX_WORDS]] or ["New", "conversation"]
    title = " ".join(w if w.isupper() else w[:1].upper() + w[1:] for w in chosen if w)
    return title[:200] or "New conversation"


def regenerate_title(conversation):
    """Rename from the first user message (a chosen title is replaced only on request)."""
    first = db.session.scalar(
        messages_query(conversation)
        .where(Message.role == "user")
        .order_by(Message.created_at, Message.id)
        .limit(1)
    )
    conversation.title = generate_title(first.content) if first else "New conversation"
    conversation.title_is_custom = False
    db.session.flush()
    publish_event(conversation.id, {"type": "conversation.updated", "conversation_id": str(conversation.id)})
    return conversation


# --- branching ----------------------------------------------------------------------------------


def branch_conversation(conversation, *, user_id, message_id=None, title=None):
    """A new conversation owned by `user_id` holding this one's history up to `message_id`."""
    history = ordered_messages(conversation, include_superseded=False)
    if message_id is not None:
        ident = parse_uuid(message_id)
        cut = next((i for i, m in enumerate(history) if m.id == ident), None)
        if cut is None:
            raise _unknown("message_id", f"Message {message_id} is not in this conversation's history.")
        history = history[: cut + 1]
    branch = create_conversation(
        user_id=user_id,
        family=conversation.family,
        title=title or f"{conversation.title or 'Conversation'} (branch)",
        metadata=conversation.meta,
        prompt_context=conversation.prompt_context,
        system_prompt=conversation.system_prompt,
        client_id=conversation.client_id,
        project_id=conversation.project_id,
    )
    branch.branched_from_id = conversation.id
    branch.branched_at_message_id = history[-1].id if history else None
    copies = {}
    for original in history:
        copy = Message(
            workspace_id=branch.workspace_id,
            conversation_id=branch.id,
            author_id=original.author_id,
            role=original.role,
            content=original.content,
            attachments=original.attachments,
            tool_calls=original.tool_calls,
            tool_call_id=original.tool_call_id,
            parent_id=copies.get(original.parent_id),
            status=original.status,
            is_partial=original.is_partial,
            provider=original.provider,
            model=original.model,
            tokens_in=original.tokens_in,
            tokens_out=original.tokens_out,
            created_at=original.created_at,
        )
        db.session.add(copy)
        db.session.flush()
        copies[original.id] = copy.id
    branch.last_message_at = history[-1].created_at if history else None
    db.session.flush()
    return branch


# --- participants -------------------------------------------------------------------------------


def share_conversation(conversation, *, user_id, added_by_id):
    """Add an active member of the workspace as a participant (anyone else: 422 on user_id)."""
    from narrative.identity.models import Member

    target = parse_uuid(user_id)
    member = (
        db.session.scalar(sa.select(Member).where(Member.user_id == target, Member.status == "active"))
        if target
        else None
    )
    if member is None:
        raise _unknown("user_id", f"User {user_id} is not an active member of this workspace.")
    existing = db.session.scalar(
        sa.select(ConversationParticipant).where(
            ConversationParticipant.conversation_id == conversation.id,
            ConversationParticipant.user_id == target,
        )
    )
    if existing is None:
        existing = ConversationParticipant(
            workspace_id=conversation.workspace_id,
            conversation_id=conversation.id,
            user_id=target,
            role="participant",
            added_by_id=added_by_id,
        )
        db.session.add(existing)
        db.session.flush()
        publish_event(
            conversation.id,
            {"type": "participant.added", "conversation_id": str(conversation.id), "user_id": str(target)},
        )
    db.session.expire(conversation, ["participants"])
    return existing


def list_participants(conversation):
    return db.session.scalars(
        sa.select(ConversationParticipant)
        .where(ConversationParticipant.conversation_id == conversation.id)
        .order_by(ConversationParticipant.id)
    ).all()


def remove_participant(conversation, *, user_id):
    target = parse_uuid(user_id)
    if target == conversation.owner_id:
        raise Conflict("The owner cannot be removed from a conversation.")
    participant = (
        db.session.scalar(
            sa.select(ConversationParticipant).where(
                ConversationParticipant.conversation_id == conversation.id,
                ConversationParticipant.user_id == target,
            )
        )
        if target
        else None
    )
    if participant is None:
        raise NotFound("Participant not found.")
    db.session.delete(participant)
    db.session.flush()
    db.session.expire(conversation, ["participants"])
    publish_event(
        conversation.id,
        {"type": "participant.removed", "conversation_id": str(conversation.id), "user_id": str(target)},
    )


# --- folders ------------------------------------------------------------------------------------


def folders_query(user_id):
    return tenant_select(ChatFolder, ChatFolder.owner_id == user_id)


def list_folders(user_id):
    counts = dict(
        db.session.execute(
            sa.select(Conversation.folder_id, sa.func.count(Conversation.id))
            .where(
                Conversation.owner_id == user_id,
                Conversation.deleted_at.is_(None),
                Conversation.folder_id.is_not(None),
            )
            .group_by(Conversation.folder_id)
        ).all()
    )
    folders = db.session.scalars(
        folders_query(user_id).order_by(ChatFolder.position, ChatFolder.created_at)
    ).all()
    for folder in folders:
        folder.conversation_count = counts.get(folder.id, 0)
    return folders


def get_folder(folder_id, *, user_id):
    folder = get_or_404(ChatFolder, folder_id)
    if folder.owner_id != user_id:
        raise NotFound("Folder not found.")
    folder.conversation_count = db.session.scalar(
        sa.select(sa.func.count(Conversation.id)).where(
            Conversation.folder_id == folder.id, Conversation.deleted_at.is_(None)
        )
    )
    return folder


def create_folder(*, user_id, name, color=None, icon=None):
    last = db.session.scalar(
        sa.select(sa.func.max(ChatFolder.position)).where(ChatFolder.owner_id == user_id)
    )
    folder = ChatFolder(
        workspace_id=current_workspace_id(),
        owner_id=user_id,
        name=name.strip(),
        color=color,
        icon=icon,
        position=(last + 1) if last is not None else 0,
    )
    db.session.add(folder)
    db.session.flush()
    folder.conversation_count = 0
    return folder


def update_folder(folder, changes):
    for name in ("name", "color", "icon", "is_collapsed", "position"):
        if name in changes:
            setattr(folder, name, changes[name])
    db.session.flush()
    return folder


def delete_folder(folder):
    """Conversations in the folder stay, without a folder (the FK sets folder_id to NULL)."""
    db.session.execute(
        sa.update(Conversation).where(Conversation.folder_id == folder.id).values(folder_id=None)
    )
    db.session.delete(folder)
    db.session.flush()


def reorder_folders(*, user_id, folder_ids):
    folders = {f.id: f for f in db.session.scalars(folders_query(user_id)).all()}
    wanted = [parse_uuid(i) for i in folder_ids]
    for index, (raw, ident) in enumerate(zip(folder_ids, wanted, strict=True)):
        if ident not in folders:
            raise _unknown(f"folder_ids.{index}", f"Folder {raw} is not one of your folders.")
    if len(set(wanted)) != len(wanted):
        raise _unknown("folder_ids", "Each folder may be named once.")
    # Folders left out keep their relative order after the listed ones.
    rest = sorted((f for i, f in folders.items() if i not in wanted), key=lambda f: f.position)
    for position, folder in enumerate([folders[i] for i in wanted] + rest):
        folder.position = position
    db.session.flush()
    return list_folders(user_id)


# --- search and suggestions ----------------------------------------------------------------------


def search_messages(*, user_id, query, limit=20):
    """Messages containing `query` in the conversations `user_id` can see."""
    visible = visible_conversations(user_id).with_only_columns(Conversation.id)
    stmt = (
        sa.select(Message, Conversation.title)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            Message.conversation_id.in_(visible),
            Message.content.ilike(f"%{query.strip()}%"),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return [
        {
            "source_type": "chat_message",
            "source_id": str(message.id),
            "conversation_id": str(message.conversation_id),
            "title": title,
            "text": _excerpt(message.content, query),
            "role": message.role,
            "created_at": message.created_at,
        }
        for message, title in db.session.execute(stmt).all()
    ]


def _excerpt(text, query, width=160):
    at = text.lower().find(query.lower().strip())
    start = max(0, at - width // 2) if at >= 0 else 0
    piece = text[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(text) else "")


def suggestion_topics(*, user_id, limit=12):
    """What the user has been working on: frequent words of their recent messages and titles."""
    recent = db.session.scalars(
        sa.select(Message.content)
        .where(
            Message.author_id == user_id,
            Message.role == "user",
        )
        .order_by(Message.created_at.desc())
        .limit(50)
    ).all()
    titles = db.session.scalars(
        visible_conversations(user_id)
        .with_only_columns(Conversation.title)
        .order_by(Conversation.updated_at.desc())
        .limit(20)
    ).all()
    counts = Counter()
    for text in [*recent, *(t for t in titles if t)]:
        for word in re.findall(r"[A-Za-z][A-Za-z'-]{3,}", text):
            if word.lower() not in STOPWORDS:
                counts[word.lower()] += 1
    return [word for word, _ in counts.most_common(limit)], [t for t in titles if t][:4]


def prompt_suggestions(*, user_id):
    """Four prompts built from the user's recent conversations (general starters when there are none)."""
    topics, titles = suggestion_topics(user_id=user_id)
    suggestions = []
    for title in titles[:2]:
        suggestions.append(f"Continue where we left off on “{title}”: what are the next steps?")
    for topic in topics:
        if len(suggestions) >= 4:
            break
        suggestions.append(f"Summarise everything we know about {topic} in this workspace.")
    starters = [
        "What changed in this workspace this week?",
        "Which of my open tasks should I do first, and why?",
        "Draft a short status update for my team.",
        "What questions should I ask at my next client meeting?",
    ]
    for starter in starters:
        if len(suggestions) >= 4:
            break
        suggestions.append(starter)
    return suggestions[:4], topics


def today():
    return datetime.now(UTC).date().isoformat()


# --- retrieval ----------------------------------------------------------------------------------


def _retrieval():
    try:
        from narrative.ai import retrieval
    except ImportError:  # the AI layer is optional for the conversation store itself
        return None
    return retrieval


def index_message(message):
    """Make a finished message searchable by chat search and the AI (after the commit)."""
    retrieval = _retrieval()
    if retrieval is None or not (message.content or "").strip() or message.role not in ("user", "assistant"):
        return
    conversation = db.session.get(Conversation, message.conversation_id)
    args = {
        "workspace_id": message.workspace_id,
        "source_type": "chat_message",
        "source_id": str(message.id),
        "text": message.content,
        "title": (conversation.title if conversation else None) or "Conversation",
        "metadata": {"conversation_id": str(message.conversation_id), "role": message.role},
    }
    retrieval.index_document(**args)


def _remove_from_retrieval(conversation):
    retrieval = _retrieval()
    if retrieval is None:
        return
    for message_id in db.session.scalars(
        sa.select(Message.id).where(Message.conversation_id == conversation.id)
    ).all():
        retrieval.remove_document(
            workspace_id=conversation.workspace_id, source_type="chat_message", source_id=str(message_id)
        )


def search_workspace_data(*, user_id, query, limit=10, source_types=None):
    """Semantic search over the workspace's indexed data (chat's search tool), plus matching messages.

    Chat messages found by retrieval are kept only when their conversation is visible to the caller:
    another member's private conversation never shows up in someone else's search.
    """
    results = []
    retrieval = _retrieval()
    if retrieval is not None:
        hits = retrieval.search(
            workspace_id=current_workspace_id(), query=query, k=limit * 2, source_types=source_types
        )
        message_ids = [parse_uuid(h.source_id) for h in hits if h.source_type == "chat_message"]
        visible = set()
        if message_ids:
            allowed = visible_conversations(user_id).with_only_columns(Conversation.id)
            visible = {
                str(i)
                for (i,) in db.session.execute(
                    sa.select(Message.id).where(
                        Message.id.in_(message_ids), Message.conversation_id.in_(allowed)
                    )
                ).all()
            }
        for hit in hits:
            if hit.source_type == "chat_message" and hit.source_id not in visible:
                continue
            metadata = hit.metadata or {}
            results.append(
                {
                    "source_type": hit.source_type,
                    "source_id": hit.source_id,
                    "conversation_id": metadata.get("conversation_id"),
                    "title": hit.title,
                    "text": hit.text,
                    "score": hit.score,
                    "metadata": metadata,
                }
            )
    if not source_types or "chat_message" in source_types:
        seen = {r["source_id"] for r in results}
        for found in search_messages(user_id=user_id, query=query, limit=limit):
            if found["source_id"] not in seen:
                results.append({**found, "score": None, "metadata": {"role": found["role"]}})
    return results[:limit]
