"""Files attached to conversations: stored through platform storage, text extracted for the AI.

The bytes and their type are the platform's business (`store_file` sniffs the type and enforces
the size cap); this module decides what a chat accepts, links the file to its conversation, pulls
out the text the AI can read, and hands out signed download URLs (valid for an hour).
"""

import io
import re
import zipfile

import sqlalchemy as sa

from narrative.conversations.models import ChatAttachment
from narrative.extensions import db
from narrative.platform.errors import NotFound
from narrative.platform.models import parse_uuid
from narrative.platform.storage import open_file, signed_download_url, store_file

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# PDF, DOCX, TXT, MD, CSV and images (the studio's list); JSON is text too.
ALLOWED_TYPES = {"application/pdf", DOCX, "text/plain", "text/csv", "application/json", "image/*"}
MAX_BYTES = 20 * 1024 * 1024
URL_TTL_SECONDS = 3600
# Enough text for the AI to work with; a whole book would crowd out the conversation.
MAX_EXTRACTED_CHARS = 100_000


def upload_attachment(conversation, *, upload, user_id):
    stored = store_file(
        workspace_id=conversation.workspace_id,
        data=upload.stream,
        filename=upload.filename or "upload",
        max_bytes=MAX_BYTES,
        allowed_types=ALLOWED_TYPES,
        owner_id=user_id,
        purpose="chat",
    )
    attachment = ChatAttachment(
        workspace_id=conversation.workspace_id,
        conversation_id=conversation.id,
        file_id=stored.id,
        uploaded_by_id=user_id,
        extracted_text=extract_text(stored),
    )
    attachment.file = stored
    db.session.add(attachment)
    db.session.flush()
    return attachment


def extract_text(stored):
    """Readable text of a text or DOCX file; None for images and PDFs (no local PDF text reader)."""
    with open_file(stored) as handle:
        data = handle.read(MAX_BYTES)
    if stored.content_type.startswith("text/") or stored.content_type == "application/json":
        return data.decode("utf-8", "replace")[:MAX_EXTRACTED_CHARS]
    if stored.content_type == DOCX:
        return _docx_text(data)
    return None


def _docx_text(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            xml = archive.read("word/document.xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError):
        return None
    paragraphs = re.split(r"</w:p>", xml)
    text = "\n".join(re.sub(r"<[^>]+>", "", p) for p in paragraphs)
    return re.sub(r"\n{3,}", "\n\n", text).strip()[:MAX_EXTRACTED_CHARS] or None


def conversation_attachments(conversation):
    return db.session.scalars(
        sa.select(ChatAttachment)
        .where(ChatAttachment.conversation_id == conversation.id)
        .order_by(ChatAttachment.created_at, ChatAttachment.id)
    ).all()


def attachment_by_file_id(file_id, *, user_id):
    """The attachment of a conversation the caller can see, by its storage file id (404 otherwise)."""
    from narrative.conversations.service import get_conversation

    ident = parse_uuid(file_id)
    attachment = (
        db.session.scalar(sa.select(ChatAttachment).where(ChatAttachment.file_id == ident)) if ident else None
    )
    if attachment is None:
        raise NotFound("File not found.")
    try:
        get_conversation(attachment.conversation_id, user_id=user_id)
    except NotFound:
        raise NotFound("File not found.") from None
    return attachment


def describe(attachment):
    """The attachment as responses show it, with a fresh signed URL."""
    stored = attachment.file
    return {
        "file_id": stored.id,
        "id": stored.id,
        "conversation_id": attachment.conversation_id,
        "filename": stored.filename,
        "content_type": stored.content_type,
        "size": stored.size,
        "has_text": bool(attachment.extracted_text),
        "url": signed_download_url(stored, expires_in=URL_TTL_SECONDS),
        "expires_in": URL_TTL_SECONDS,
        "created_at": attachment.created_at,
    }
