"""What hangs off a record: comments, its history with the people who wrote it, relationships to
other records (typed, listed from both ends) and attached files. Nothing here commits: the
request's unit of work does."""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import User
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.storage import delete_file, signed_download_url, store_file
from narrative.platform.tenancy import get_or_404, resolve_reference
from narrative.records.models import (
    ACTIVE,
    Record,
    RecordAttachment,
    RecordComment,
    RecordHistory,
    RecordRelationship,
)

# Well-known relationship types and the name of the other direction.
INVERSE_TYPES = {
    "parent_of": "child_of",
    "child_of": "parent_of",
    "owns": "owned_by",
    "owned_by": "owns",
    "employs": "works_at",
    "works_at": "employs",
    "related_to": "related_to",
    "duplicate_of": "duplicate_of",
    "blocks": "blocked_by",
    "blocked_by": "blocks",
}


def _users_by_id(user_ids):
    ids = {user_id for user_id in user_ids if user_id is not None}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def _brief(user):
    return None if user is None else {"id": user.id, "name": user.name, "email": user.email}


# --- comments ------------------------------------------------------------------------------------


def list_comments(record):
    comments = db.session.scalars(
        sa.select(RecordComment)
        .where(RecordComment.record_id == record.id)
        .order_by(RecordComment.created_at, RecordComment.id)
    ).all()
    users = _users_by_id(comment.user_id for comment in comments)
    for comment in comments:
        comment.user = _brief(users.get(comment.user_id))
    return comments


def add_comment(record, *, user_id, body, parent_id=None):
    parent = resolve_reference(RecordComment, parent_id, field="parent_id")
    if parent is not None and parent.record_id != record.id:
        raise ValidationFailed(
            "The comment replied to is not a comment of this record.",
            details=[{"field": "parent_id", "message": "is a comment of another record"}],
        )
    comment = RecordComment(
        workspace_id=record.workspace_id, record_id=record.id, user_id=user_id, body=body, parent_id=parent_id
    )
    db.session.add(comment)
    db.session.flush()
    comment.user = _brief(db.session.get(User, user_id)) if user_id else None
    return comment


# --- history -------------------------------------------------------------------------------------


def list_history(record):
    """Newest first, each entry with the user who made it."""
    entries = db.session.scalars(
        sa.select(RecordHistory)
        .where(RecordHistory.record_id == record.id)
        .order_by(RecordHistory.version.desc(), RecordHistory.created_at.desc())
    ).all()
    users = _users_by_id(entry.user_id for entry in entries)
    for entry in entries:
        entry.user = _brief(users.get(entry.user_id))
    return entries


# --- relationships -------------------------------------------------------------------------------


def _seen_from(link, record_id, records):
    outgoing = link.source_record_id == record_id
    other_id = link.target_record_id if outgoing else link.source_record_id
    other = records.get(other_id)
    return {
        "id": link.id,
        "source_record_id": link.source_record_id,
        "target_record_id": link.target_record_id,
        "relationship_type": link.relationship_type,
        "inverse_type": link.inverse_type,
        "direction": "outgoing" if outgoing else "incoming",
        "type": link.relationship_type if outgoing else (link.inverse_type or link.relationship_type),
        "related_record_id": other_id,
        "related_recordset_id": other.recordset_id if other is not None else None,
        "details": link.details,
        "created_by_id": link.created_by_id,
        "created_at": link.created_at,
    }


def list_relationships(record):
    """Every link of the record, in both directions, as the record sees it (active records only)."""
    links = db.session.scalars(
        sa.select(RecordRelationship)
        .where(
            sa.or_(
                RecordRelationship.source_record_id == record.id,
                RecordRelationship.target_record_id == record.id,
            )
        )
        .order_by(RecordRelationship.created_at)
    ).all()
    other_ids = {
        link.target_record_id if link.source_record_id == record.id else link.source_record_id
        for link in links
    }
    records = (
        {
            other.id: other
            for other in db.session.scalars(
                sa.select(Record).where(Record.id.in_(other_ids), Record.status == ACTIVE)
            )
        }
        if other_ids
        else {}
    )
    return [
        _seen_from(link, record.id, records)
        for link in links
        if (link.target_record_id if link.source_record_id == record.id else link.source_record_id) in records
    ]


def add_relationship(
    record, *, target_record_id, relationship_type, inverse_type=None, details=None, user_id
):
    target = resolve_reference(Record, target_record_id, field="target_record_id")
    if target.status != ACTIVE:
        raise ValidationFailed(details=[{"field": "target_record_id", "message": "This record was deleted."}])
    if target.id == record.id:
        raise ValidationFailed(
            "A record cannot be related to itself.",
            details=[{"field": "target_record_id", "message": "is this record"}],
        )
    exists = db.session.scalar(
        sa.select(RecordRelationship.id).where(
            RecordRelationship.source_record_id == record.id,
            RecordRelationship.target_record_id == target.id,
            RecordRelationship.relationship_type == relationship_type,
        )
    )
    if exists:  # a friendly answer; a concurrent twin is refused by the unique constraint (409)
        raise Conflict("These records are already related this way.")
    link = RecordRelationship(
        workspace_id=record.workspace_id,
        source_record_id=record.id,
        target_record_id=target.id,
        relationship_type=relationship_type,
        inverse_type=inverse_type or INVERSE_TYPES.get(relationship_type),
        details=details or {},
        created_by_id=user_id,
    )
    db.session.add(link)
    db.session.flush()
    return _seen_from(link, record.id, {target.id: target}), target


# --- attachments ---------------------------------------------------------------------------------


def _with_url(attachment):
    attachment.download_url = signed_download_url(attachment.file, filename=attachment.file.filename)
    return attachment


def list_attachments(record):
    rows = db.session.scalars(
        sa.select(RecordAttachment)
        .where(RecordAttachment.record_id == record.id)
        .order_by(RecordAttachment.created_at)
    ).all()
    return [_with_url(row) for row in rows]


def attach_file(record, *, upload, filename, user_id):
    stored = store_file(
        workspace_id=record.workspace_id,
        data=upload,
        filename=filename or "attachment",
        owner_id=user_id,
        purpose="record_attachment",
    )
    attachment = RecordAttachment(
        workspace_id=record.workspace_id, record_id=record.id, file_id=stored.id, uploaded_by_id=user_id
    )
    db.session.add(attachment)
    db.session.flush()
    attachment.file = stored
    return _with_url(attachment)


def get_attachment(record, attachment_id):
    attachment = get_or_404(RecordAttachment, attachment_id)
    if attachment.record_id != record.id:
        raise NotFound("Attachment not found.")
    return attachment


def remove_attachment(attachment):
    stored = attachment.file
    db.session.delete(attachment)
    db.session.flush()
    delete_file(stored)
