"""Fixtures for record tracking: an owner, a contacts recordset and helpers that age a record."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.records import service
from narrative.records.models import Record, RecordHistory
from tests.identity.factories import auth_headers, make_user, workspace_of

CONTACT_FIELDS = [
    {"name": "Name", "type": "text", "required": True},
    {"name": "Company", "type": "text", "required": True, "key": "company"},
    {"name": "Email", "type": "email"},
    {"name": "Phone", "type": "phone"},
    {"name": "Notes", "type": "long_text"},
]


@pytest.fixture
def owner(app):
    return make_user(name="Olivia Owner")


@pytest.fixture
def workspace(owner):
    return workspace_of(owner)


@pytest.fixture
def headers(owner):
    return auth_headers(owner)


@pytest.fixture
def contacts(owner, workspace):
    recordset = service.create_recordset(
        workspace_id=workspace.id, user_id=owner.id, name="Contacts", fields=CONTACT_FIELDS
    )
    db.session.commit()
    return recordset


@pytest.fixture
def make_record(owner, contacts):
    def make(values=None, *, days_old=0):
        record = service.create_record(
            recordset=contacts,
            values=values or {"name": "Jane Doe", "company": "Acme", "email": "jane@acme.test"},
            user_id=owner.id,
        )
        db.session.commit()
        if days_old:
            age(record, days_old)
        return record

    return make


def age(record, days):
    """Move the record's creation and every history entry `days` into the past."""
    moment = utcnow() - timedelta(days=days)
    db.session.execute(
        sa.update(Record).where(Record.id == record.id).values(created_at=moment, updated_at=moment)
    )
    db.session.execute(
        sa.update(RecordHistory).where(RecordHistory.record_id == record.id).values(created_at=moment)
    )
    db.session.commit()
    db.session.expire_all()
    return moment
