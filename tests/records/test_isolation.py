"""Another workspace's recordsets and records are 404 everywhere; roles and grants decide the rest."""

import pytest

from narrative.extensions import db
from narrative.identity.models import Member
from narrative.records import service
from tests.identity.factories import auth_headers, make_user, workspace_of


@pytest.fixture
def foreign(recordset, owner):
    record = service.create_record(recordset=recordset, values={"name": "Secret"}, user_id=owner.id)
    db.session.commit()
    return record


def test_other_workspaces_see_nothing(client, recordset, foreign):
    outsider = make_user()
    headers = auth_headers(outsider)
    rid, slug = foreign.id, recordset.slug
    for method, url in [
        ("get", f"/api/v1/records/{rid}"),
        ("get", f"/api/v1/crud/records/{rid}"),
        ("patch", f"/api/v1/records/{rid}"),
        ("delete", f"/api/v1/records/{rid}"),
        ("get", f"/api/v1/records/{rid}/history"),
        ("get", f"/api/v1/records/{rid}/comments"),
        ("get", f"/api/v1/records/{rid}/relationships"),
        ("get", f"/api/v1/crud/records/{rid}/attachments"),
        ("get", f"/api/v1/recordsets/{slug}"),
        ("get", f"/api/v1/crud/recordsets/{recordset.id}"),
        ("get", f"/api/v1/recordsets/{slug}/views"),
        ("delete", f"/api/v1/recordsets/{slug}"),
        ("get", f"/api/v1/recordsets/{recordset.id}/pipeline"),
        ("get", f"/api/v1/records?recordset_id={recordset.id}"),
    ]:
        kwargs = {"json": {"field_values": {"name": "x"}}} if method == "patch" else {}
        response = getattr(client, method)(url, headers=headers, **kwargs)
        assert response.status_code == 404, (method, url, response.status_code)
    created = client.post(
        "/api/v1/records",
        headers=headers,
        json={"recordset_id": str(recordset.id), "field_values": {"name": "x"}},
    )
    assert created.status_code == 404
    own_list = client.get("/api/v1/records", headers=headers).json
    assert own_list["items"] == [] and own_list["total"] == 0
    assert client.get("/api/v1/recordsets", headers=headers).json["items"] == []
    # The same slug can exist in another workspace.
    other = client.post("/api/v1/recordsets", headers=headers, json={"name": "Deals"})
    assert other.status_code == 201 and other.json["slug"] == recordset.slug
    relate = client.post(
        f"/api/v1/records/{foreign.id}/relationships",
        headers=headers,
        json={"target_record_id": str(foreign.id)},
    )
    assert relate.status_code == 404


def test_members_need_a_grant_and_own_records(client, owner, workspace, recordset, foreign):
    member = make_user(role="member", workspace=workspace)
    headers = auth_headers(member)
    assert client.get(f"/api/v1/recordsets/{recordset.slug}", headers=headers).status_code == 404
    assert (
        client.get(f"/api/v1/recordsets/{recordset.slug}/permissions/me", headers=headers).json["can_view"]
        is False
    )
    member_row = db.session.query(Member).filter_by(workspace_id=workspace.id, user_id=member.id).one()
    granted = client.post(
        f"/api/v1/recordsets/{recordset.slug}/grants",
        headers=auth_headers(owner),
        json={"member_id": str(member_row.id), "level": "edit"},
    )
    assert granted.status_code == 201, granted.json
    perms = client.get(f"/api/v1/recordsets/{recordset.slug}/permissions/me", headers=headers).json
    assert (
        perms["level"] == "edit" and perms["can_edit"] and not perms["can_delete"] and perms["can_delete_own"]
    )
    mine = client.post(
        "/api/v1/records",
        headers=headers,
        json={"recordset_id": str(recordset.id), "field_values": {"name": "Mine"}},
    )
    assert mine.status_code == 201
    assert client.delete(f"/api/v1/records/{foreign.id}", headers=headers).status_code == 403
    assert client.delete(f"/api/v1/records/{mine.json['id']}", headers=headers).status_code == 204
    assert (
        client.patch(f"/api/v1/recordsets/{recordset.slug}", headers=headers, json={"name": "x"}).status_code
        == 403
    )
    assert (
        client.get(f"/api/v1/recordsets/{recordset.slug}/grants", headers=auth_headers(owner)).json["items"][
            0
        ]["level"]
        == "edit"
    )
    revoked = client.delete(
        f"/api/v1/recordsets/{recordset.slug}/grants/members/{member_row.id}", headers=auth_headers(owner)
    )
    assert revoked.status_code == 204
    assert client.get(f"/api/v1/records/{foreign.id}", headers=headers).status_code == 404


def test_viewers_cannot_write_even_with_an_edit_grant(client, owner, workspace, recordset, foreign):
    viewer = make_user(role="viewer", workspace=workspace)
    response = client.post(
        "/api/v1/records",
        headers=auth_headers(viewer),
        json={"recordset_id": str(recordset.id), "field_values": {"name": "x"}},
    )
    assert response.status_code == 403
    assert (
        client.post("/api/v1/recordsets", headers=auth_headers(viewer), json={"name": "x"}).status_code == 403
    )
    assert workspace_of(viewer).id == workspace.id
