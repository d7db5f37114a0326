"""Fixtures for the records tests: a workspace owner and a recordset with every field type."""

import pytest

from narrative.extensions import db
from narrative.records import service
from tests.identity.factories import make_user, workspace_of

ALL_FIELDS = [
    {"name": "Name", "type": "text", "required": True},
    {"name": "Notes", "type": "long_text"},
    {"name": "Amount", "type": "number"},
    {"name": "Price", "type": "currency"},
    {"name": "Rate", "type": "percent"},
    {"name": "Due", "type": "date"},
    {"name": "Seen at", "key": "seen_at", "type": "datetime"},
    {"name": "Active", "type": "boolean"},
    {
        "name": "Stage",
        "type": "single_select",
        "options": {"choices": ["lead", "won", {"value": "lost", "label": "Lost deal"}]},
    },
    {"name": "Labels", "type": "multi_select", "options": {"choices": ["red", "green", "blue"]}},
    {"name": "Email", "type": "email"},
    {"name": "Phone", "type": "phone"},
    {"name": "Website", "type": "url"},
    {"name": "Address", "type": "address"},
    {"name": "Location", "type": "geo_point"},
    {"name": "Assignee", "type": "user"},
    {"name": "Attachment", "type": "file"},
    {"name": "Extra", "type": "json"},
]


@pytest.fixture
def owner(app):
    return make_user()


@pytest.fixture
def workspace(owner):
    return workspace_of(owner)


@pytest.fixture
def recordset(owner, workspace):
    recordset = service.create_recordset(
        workspace_id=workspace.id, user_id=owner.id, name="Deals", fields=ALL_FIELDS
    )
    db.session.commit()
    return recordset
