"""Helpers shared by the workspaces, members and teams tests: outbox links and emitted events."""

import re
import uuid

from narrative.extensions import db
from narrative.identity.models import Member
from narrative.platform.email import EmailMessage
from narrative.platform.events import OutboxEvent

_TOKEN = re.compile(r"[?&]token=([A-Za-z0-9_\-]+)")


def last_email_to(address):
    return db.session.scalar(
        db.select(EmailMessage)
        .where(EmailMessage.to_address == address)
        .order_by(EmailMessage.created_at.desc(), EmailMessage.id.desc())
    )


def token_in(text):
    match = _TOKEN.search(text)
    assert match, f"no token link in: {text!r}"
    return match.group(1)


def event_types(workspace_id):
    """Event types emitted for a workspace, oldest first."""
    return list(
        db.session.scalars(
            db.select(OutboxEvent.event_type)
            .where(OutboxEvent.workspace_id == uuid.UUID(str(workspace_id)))
            .order_by(OutboxEvent.id)
        )
    )


def member_of(user, workspace):
    return db.session.scalar(db.select(Member).filter_by(user_id=user.id, workspace_id=workspace.id))
