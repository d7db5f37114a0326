"""Teams: CRUD, members with lead/member roles, permissions, events and tenant isolation."""

import uuid

from narrative.extensions import db
from narrative.identity.models import TeamMember
from tests.identity.factories import auth_headers, make_user, workspace_of
from tests.identity.workspace_helpers import event_types, member_of


def test_team_crud_and_members(client):
    owner = make_user()
    workspace = workspace_of(owner)
    alice = member_of(make_user(name="Alice", role="member", workspace=workspace), workspace)
    bob = member_of(make_user(name="Bob", role="member", workspace=workspace), workspace)
    headers = auth_headers(owner)

    created = client.post("/api/v1/teams", json={"name": "Sales", "color": "#2563eb"}, headers=headers)
    assert created.status_code == 201 and created.json["members"] == []
    team_id = created.json["id"]
    assert client.post("/api/v1/teams", json={"name": "sales"}, headers=headers).status_code == 409

    assert (
        client.post(
            f"/api/v1/teams/{team_id}/members", json={"member_id": str(alice.id)}, headers=headers
        ).status_code
        == 201
    )
    lead = client.post(
        f"/api/v1/teams/{team_id}/members", json={"member_id": str(bob.id), "role": "lead"}, headers=headers
    )
    assert lead.status_code == 201 and lead.json["role"] == "lead"
    duplicate = client.post(
        f"/api/v1/teams/{team_id}/members", json={"member_id": str(bob.id)}, headers=headers
    )
    assert duplicate.status_code == 409
    bad_role = client.post(
        f"/api/v1/teams/{team_id}/members", json={"member_id": str(alice.id), "role": "boss"}, headers=headers
    )
    assert bad_role.status_code == 422

    listed = client.get(f"/api/v1/teams/{team_id}/members", headers=headers)
    assert [(m["name"], m["role"]) for m in listed.json["items"]] == [("Bob", "lead"), ("Alice", "member")]

    promoted = client.patch(
        f"/api/v1/teams/{team_id}/members/{alice.id}", json={"role": "lead"}, headers=headers
    )
    assert promoted.status_code == 200 and promoted.json["role"] == "lead"
    assert client.delete(f"/api/v1/teams/{team_id}/members/{bob.id}", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/teams/{team_id}/members/{bob.id}", headers=headers).status_code == 404

    renamed = client.patch(
        f"/api/v1/teams/{team_id}", json={"name": "Sales EU", "description": "Europe"}, headers=headers
    )
    assert renamed.status_code == 200 and renamed.json["name"] == "Sales EU"
    assert [m["name"] for m in renamed.json["members"]] == ["Alice"]
    found = client.get("/api/v1/teams", query_string={"search": "eu"}, headers=headers)
    assert [t["name"] for t in found.json["items"]] == ["Sales EU"] and found.json["items"][0][
        "member_count"
    ] == 1

    assert client.delete(f"/api/v1/teams/{team_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/teams/{team_id}", headers=headers).status_code == 404
    assert event_types(workspace.id) == [
        "team.created",
        "team.member_added",
        "team.member_added",
        "team.member_role_changed",
        "team.member_removed",
        "team.updated",
        "team.deleted",
    ]


def test_members_read_teams_but_only_managers_change_them(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    team = client.post("/api/v1/teams", json={"name": "Ops"}, headers=auth_headers(owner)).json
    assert client.get(f"/api/v1/teams/{team['id']}", headers=auth_headers(member)).status_code == 200
    refused = client.post("/api/v1/teams", json={"name": "Mine"}, headers=auth_headers(member))
    assert refused.status_code == 403 and refused.json["required_permission"] == "teams.manage"
    assert client.delete(f"/api/v1/teams/{team['id']}", headers=auth_headers(member)).status_code == 403


def test_teams_list_pages(client):
    owner = make_user()
    headers = auth_headers(owner)
    for name in ("Delta", "alpha", "Charlie", "bravo"):
        client.post("/api/v1/teams", json={"name": name}, headers=headers)
    page = client.get("/api/v1/teams", query_string={"page": 2, "page_size": 3}, headers=headers)
    assert page.json["total"] == 4 and page.json["pages"] == 2
    assert [t["name"] for t in page.json["items"]] == ["Delta"]


def test_another_workspaces_team_is_404_and_its_member_in_a_payload_422(client):
    owner = make_user()
    stranger = make_user()
    their_team = client.post("/api/v1/teams", json={"name": "Theirs"}, headers=auth_headers(stranger)).json
    their_member = member_of(stranger, workspace_of(stranger))
    headers = auth_headers(owner)
    for response in (
        client.get(f"/api/v1/teams/{their_team['id']}", headers=headers),
        client.patch(f"/api/v1/teams/{their_team['id']}", json={"name": "Mine"}, headers=headers),
        client.delete(f"/api/v1/teams/{their_team['id']}", headers=headers),
        client.get(f"/api/v1/teams/{their_team['id']}/members", headers=headers),
        client.post(
            f"/api/v1/teams/{their_team['id']}/members",
            json={"member_id": str(their_member.id)},
            headers=headers,
        ),
    ):
        assert response.status_code == 404
    mine = client.post("/api/v1/teams", json={"name": "Mine"}, headers=headers).json
    for member_id in (their_member.id, uuid.uuid4()):
        refused = client.post(
            f"/api/v1/teams/{mine['id']}/members", json={"member_id": str(member_id)}, headers=headers
        )
        assert refused.status_code == 422
        assert [d["field"] for d in refused.json["details"]] == ["member_id"]
        led = client.post(
            "/api/v1/teams", json={"name": "Led", "lead_member_id": str(member_id)}, headers=headers
        )
        assert led.status_code == 422
        assert [d["field"] for d in led.json["details"]] == ["lead_member_id"]
    assert client.get("/api/v1/teams", headers=headers).json["total"] == 1
    assert (
        db.session.scalar(db.select(db.func.count(TeamMember.id)).filter_by(member_id=their_member.id)) == 0
    )
