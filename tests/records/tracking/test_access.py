"""Access follows the record: another workspace's ids and records the caller cannot view are 404s;
viewing without edit rights allows reads and refuses writes (403)."""

import uuid

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member
from narrative.records.models import RecordsetGrant
from narrative.records.tracking import service
from tests.identity.factories import auth_headers, make_user


@pytest.fixture
def items(owner, make_record):
    record = make_record({"name": "Jane", "company": "Acme"})
    interaction = service.log_interaction(record, user_id=owner.id, interaction_type="call")
    task = service.create_record_task(record, user_id=owner.id, title="Call back")
    db.session.commit()
    insight = service.generate_insights(record, user_id=owner.id)["insights"][0]
    db.session.commit()
    return {"record": record, "interaction": interaction, "task": task, "insight": insight}


def _calls(items, recordset):
    record, interaction = items["record"].id, items["interaction"].id
    task, insight = items["task"].id, items["insight"].id
    reads = [
        ("GET", f"/api/v1/records/{record}/insights", None),
        ("GET", f"/api/v1/records/{record}/interactions", None),
        ("GET", f"/api/v1/records/{record}/tasks", None),
        ("GET", f"/api/v1/recordsets/{recordset.id}/dashboard", None),
        ("POST", f"/api/v1/records/{record}/analyze", {}),
        ("POST", f"/api/v1/records/{record}/draft-message", {}),
        ("POST", f"/api/v1/recordsets/{recordset.id}/follow-up-suggestions", {}),
    ]
    writes = [
        ("POST", f"/api/v1/records/{record}/insights/generate", {}),
        ("POST", f"/api/v1/records/insights/{insight}/action-taken", {}),
        ("POST", f"/api/v1/records/insights/{insight}/dismiss", {}),
        ("POST", f"/api/v1/records/{record}/interactions", {"interaction_type": "note"}),
        ("PATCH", f"/api/v1/records/interactions/{interaction}", {"outcome": "x"}),
        ("POST", f"/api/v1/records/{record}/tasks", {"title": "x"}),
        ("PATCH", f"/api/v1/records/tasks/{task}", {"title": "y"}),
        ("POST", f"/api/v1/records/tasks/{task}/complete", {}),
        ("DELETE", f"/api/v1/records/interactions/{interaction}", None),
        ("DELETE", f"/api/v1/records/tasks/{task}", None),
    ]
    return reads, writes


def _status(client, headers, method, url, body):
    return client.open(url, method=method, headers=headers, json=body).status_code


def test_another_workspace_gets_404_everywhere(client, items, contacts):
    stranger = auth_headers(make_user())
    reads, writes = _calls(items, contacts)
    for method, url, body in reads + writes:
        assert _status(client, stranger, method, url, body) == 404, (method, url)


def test_member_without_a_grant_sees_nothing(client, workspace, items, contacts):
    colleague = auth_headers(make_user(role="member", workspace=workspace))
    reads, writes = _calls(items, contacts)
    for method, url, body in reads + writes:
        assert _status(client, colleague, method, url, body) == 404, (method, url)


def test_view_grant_reads_but_cannot_write(client, workspace, items, contacts):
    user = make_user(role="member", workspace=workspace)
    member = db.session.scalar(sa.select(Member).filter_by(workspace_id=workspace.id, user_id=user.id))
    db.session.add(
        RecordsetGrant(workspace_id=workspace.id, recordset_id=contacts.id, member_id=member.id, level="view")
    )
    db.session.commit()
    headers = auth_headers(user)
    reads, writes = _calls(items, contacts)
    for method, url, body in reads:
        assert _status(client, headers, method, url, body) == 200, (method, url)
    for method, url, body in writes:
        assert _status(client, headers, method, url, body) == 403, (method, url)


def test_editor_grant_can_write(client, workspace, items, contacts):
    user = make_user(role="member", workspace=workspace)
    member = db.session.scalar(sa.select(Member).filter_by(workspace_id=workspace.id, user_id=user.id))
    db.session.add(
        RecordsetGrant(workspace_id=workspace.id, recordset_id=contacts.id, member_id=member.id, level="edit")
    )
    db.session.commit()
    headers = auth_headers(user)
    _, writes = _calls(items, contacts)
    for method, url, body in writes:
        assert _status(client, headers, method, url, body) == 200, (method, url)


def test_unknown_ids_are_404(client, headers):
    for url in (
        "/api/v1/records/insights/not-an-id/dismiss",
        f"/api/v1/records/tasks/{uuid.uuid4()}/complete",
    ):
        assert client.post(url, headers=headers).status_code == 404
    assert (
        client.patch(f"/api/v1/records/interactions/{uuid.uuid4()}", headers=headers, json={}).status_code
        == 404
    )


def test_signed_out_is_401(client, items):
    assert client.get(f"/api/v1/records/{items['record'].id}/insights").status_code == 401
