"""Ids a client names inside a payload or a query (an owner, a grantee, a related record, a parent
comment, a view, a recordset) must be of the caller's workspace: another workspace's id and a random
one are the same 422 naming the field, and nothing is written."""

import uuid

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member, Team
from narrative.platform.errors import ValidationFailed
from narrative.platform.tenancy import workspace_scope
from narrative.records import related, service, sharing
from narrative.records.models import Record, RecordComment, RecordsetGrant, RecordView
from tests.identity.factories import auth_headers, make_user, workspace_of


@pytest.fixture
def headers(owner):
    return auth_headers(owner)


@pytest.fixture
def other(app):
    """Another workspace, with its owner, a recordset, a record, a comment and a view."""
    user = make_user()
    workspace = workspace_of(user)
    recordset = service.create_recordset(
        workspace_id=workspace.id, user_id=user.id, name="Theirs", fields=[{"name": "Name", "type": "text"}]
    )
    record = service.create_record(recordset=recordset, values={"name": "Theirs"}, user_id=user.id)
    comment = related.add_comment(record, user_id=user.id, body="theirs")
    view = sharing.create_view(recordset, user_id=user.id, settings={"name": "Their view"})
    team = Team(workspace_id=workspace.id, name="Their team")
    db.session.add(team)
    db.session.commit()
    member = db.session.scalar(sa.select(Member).filter_by(workspace_id=workspace.id, user_id=user.id))
    return {
        "user": user,
        "workspace": workspace,
        "recordset": recordset,
        "record": record,
        "comment": comment,
        "view": view,
        "team": team,
        "member": member,
    }


def _refused(response, field):
    assert response.status_code == 422, response.json
    assert response.json["error"] == "validation_failed"
    assert field in {item["field"] for item in response.json["details"]}, response.json


def _record(recordset, owner, name="Acme"):
    record = service.create_record(recordset=recordset, values={"name": name}, user_id=owner.id)
    db.session.commit()
    return record


def _records_count():
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count()).select_from(Record))


@pytest.mark.parametrize("path", ["/api/v1/records", "/api/v1/crud/records"])
def test_create_refuses_an_owner_of_another_workspace_or_unknown(client, headers, recordset, other, path):
    before = _records_count()
    for owner_id in (other["user"].id, uuid.uuid4(), "not-a-uuid"):
        response = client.post(
            path,
            headers=headers,
            json={
                "recordset_id": str(recordset.id),
                "field_values": {"name": "x"},
                "owner_id": str(owner_id),
            },
        )
        _refused(response, "owner_id")
    assert _records_count() == before


def test_create_accepts_a_member_of_the_workspace_as_owner(client, headers, workspace, recordset):
    colleague = make_user(role="member", workspace=workspace)
    response = client.post(
        "/api/v1/records",
        headers=headers,
        json={
            "recordset_id": str(recordset.id),
            "field_values": {"name": "x"},
            "owner_id": str(colleague.id),
        },
    )
    assert response.status_code == 201, response.json
    assert response.json["owner_id"] == str(colleague.id)


@pytest.mark.parametrize(
    ("method", "path"), [("patch", "/api/v1/records/{}"), ("put", "/api/v1/crud/records/{}")]
)
def test_update_refuses_an_owner_of_another_workspace_or_unknown(
    client, headers, owner, recordset, other, method, path
):
    record = _record(recordset, owner)
    for owner_id in (other["user"].id, uuid.uuid4()):
        response = getattr(client, method)(
            path.format(record.id),
            headers=headers,
            json={"field_values": {"name": "Renamed"}, "owner_id": str(owner_id)},
        )
        _refused(response, "owner_id")
    db.session.expire_all()
    stored = db.session.get(Record, record.id)
    assert (stored.owner_id, stored.values["name"], stored.version) == (owner.id, "Acme", 1)


def test_bulk_create_refuses_an_owner_of_another_workspace_or_unknown(owner, workspace, recordset, other):
    before = _records_count()
    # As an import job runs: scoped to its workspace.
    with workspace_scope(workspace.id):
        for owner_id in (other["user"].id, uuid.uuid4()):
            with pytest.raises(ValidationFailed) as refused:
                service.create_records_bulk(
                    recordset=recordset,
                    rows=[{"name": "a"}, {"name": "b"}],
                    user_id=owner.id,
                    owner_id=owner_id,
                )
            assert [item["field"] for item in refused.value.details] == ["owner_id"]
        created, errors = service.create_records_bulk(
            recordset=recordset, rows=[{"name": "a"}], user_id=owner.id, owner_id=owner.id
        )
    db.session.commit()
    assert (created, errors) == (1, [])
    assert _records_count() == before + 1


def test_grants_refuse_members_and_teams_of_other_workspaces(client, headers, recordset, other):
    base = f"/api/v1/recordsets/{recordset.slug}/grants"
    for member_id in (other["member"].id, uuid.uuid4()):
        _refused(
            client.post(base, headers=headers, json={"member_id": str(member_id), "level": "view"}),
            "member_id",
        )
    for team_id in (other["team"].id, uuid.uuid4()):
        _refused(
            client.post(base, headers=headers, json={"team_id": str(team_id), "level": "view"}), "team_id"
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecordsetGrant)) == 0


def test_grants_accept_a_team_of_the_workspace(client, headers, workspace, recordset):
    team = Team(workspace_id=workspace.id, name="Sales")
    db.session.add(team)
    db.session.commit()
    response = client.post(
        f"/api/v1/recordsets/{recordset.slug}/grants",
        headers=headers,
        json={"team_id": str(team.id), "level": "edit"},
    )
    assert response.status_code == 201, response.json
    assert response.json["team_id"] == str(team.id)


def test_relationships_refuse_records_of_other_workspaces(client, headers, owner, recordset, other):
    record = _record(recordset, owner)
    for target in (other["record"].id, uuid.uuid4()):
        response = client.post(
            f"/api/v1/records/{record.id}/relationships",
            headers=headers,
            json={"target_record_id": str(target)},
        )
        _refused(response, "target_record_id")
    assert client.get(f"/api/v1/records/{record.id}/relationships", headers=headers).json["items"] == []


def test_replies_refuse_comments_of_other_workspaces_and_records(client, headers, owner, recordset, other):
    record, sibling = _record(recordset, owner), _record(recordset, owner, "Sibling")
    elsewhere = related.add_comment(sibling, user_id=owner.id, body="on the sibling")
    db.session.commit()
    for parent_id in (other["comment"].id, uuid.uuid4(), elsewhere.id):
        response = client.post(
            f"/api/v1/records/{record.id}/comments",
            headers=headers,
            json={"body": "reply", "parent_id": str(parent_id)},
        )
        _refused(response, "parent_id")
    count = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecordComment).where(RecordComment.record_id == record.id)
    )
    assert count == 0


def test_default_view_must_be_a_view_of_the_recordset(client, headers, recordset, other):
    url = f"/api/v1/recordsets/{recordset.slug}"
    default = client.get(url, headers=headers).json["default_view_id"]
    for view_id in (other["view"].id, uuid.uuid4()):
        _refused(
            client.patch(url, headers=headers, json={"default_view_id": str(view_id)}), "default_view_id"
        )
    assert client.get(url, headers=headers).json["default_view_id"] == default


def test_relation_fields_link_only_recordsets_of_the_workspace(client, headers, recordset, other):
    for target in (other["recordset"].id, uuid.uuid4()):
        relation = {"name": "Company", "type": "relation", "options": {"recordset_id": str(target)}}
        created = client.post(
            "/api/v1/recordsets", headers=headers, json={"name": "Contacts", "fields": [relation]}
        )
        _refused(created, "fields.company.recordset_id")
        replaced = client.put(
            f"/api/v1/crud/recordsets/{recordset.id}",
            headers=headers,
            json={"name": recordset.name, "fields": [*recordset.fields, relation]},
        )
        _refused(replaced, "fields.company.recordset_id")
    assert client.get("/api/v1/recordsets", headers=headers).json["total"] == 1
    db.session.expire_all()
    assert all(spec["type"] != "relation" for spec in recordset.fields)


def test_listing_by_a_view_of_another_workspace_is_refused(client, headers, recordset, other):
    for view_id in (other["view"].id, uuid.uuid4()):
        response = client.get(
            "/api/v1/records",
            headers=headers,
            query_string={"recordset_id": str(recordset.id), "view_id": view_id},
        )
        _refused(response, "view_id")
    own = db.session.scalar(sa.select(RecordView.id).where(RecordView.recordset_id == recordset.id))
    listed = client.get(
        "/api/v1/records", headers=headers, query_string={"recordset_id": str(recordset.id), "view_id": own}
    )
    assert listed.status_code == 200


def test_exports_and_geocoding_refuse_recordsets_of_other_workspaces(client, headers, other):
    for recordset_id in (other["recordset"].id, uuid.uuid4()):
        export = client.post("/api/v1/export/jobs", headers=headers, json={"recordset_id": str(recordset_id)})
        _refused(export, "recordset_id")
        geocode = client.post(
            "/api/v1/geocode/jobs",
            headers=headers,
            json={"recordset_id": str(recordset_id), "address_fields": ["name"]},
        )
        _refused(geocode, "recordset_id")
    assert client.get("/api/v1/import/jobs", headers=headers).json["total"] == 0


def test_user_fields_refuse_members_of_other_workspaces(client, headers, recordset, other):
    response = client.post(
        "/api/v1/records",
        headers=headers,
        json={
            "recordset_id": str(recordset.id),
            "field_values": {"name": "x", "assignee": str(other["member"].id)},
        },
    )
    _refused(response, "assignee")


def test_interaction_participants_and_task_assignees_are_members(client, headers, owner, recordset, other):
    record = _record(recordset, owner)
    for user_id in (other["user"].id, uuid.uuid4()):
        logged = client.post(
            f"/api/v1/records/{record.id}/interactions",
            headers=headers,
            json={"interaction_type": "call", "participants": [{"name": "Them", "user_id": str(user_id)}]},
        )
        _refused(logged, "participants.0.user_id")
        task = client.post(
            f"/api/v1/records/{record.id}/tasks",
            headers=headers,
            json={"title": "x", "assignee_id": str(user_id)},
        )
        _refused(task, "assignee_id")
    ours = client.post(
        f"/api/v1/records/{record.id}/interactions",
        headers=headers,
        json={"interaction_type": "call", "participants": [{"name": "Me", "user_id": str(owner.id)}]},
    )
    assert ours.status_code == 200, ours.json
    assert ours.json["participants"] == [{"name": "Me", "user_id": str(owner.id)}]
