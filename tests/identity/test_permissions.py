"""The permission catalog, the caller's permissions, and editing a role's grants (with their effect)."""

from narrative.extensions import db
from narrative.identity.models import Role
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of

TEAMS_PROBE = "/_probe/identity/teams"


def admin_and_member():
    owner = make_user()
    workspace = workspace_of(owner)
    admin = make_user(role="admin", workspace=workspace)
    member = make_user(role="member", workspace=workspace)
    return owner, admin, member


def test_catalog_lists_filters_and_groups_permissions(client):
    user = make_user()
    everything = client.get("/api/v1/permissions", headers=auth_headers(user)).json
    names = {item["name"] for item in everything["items"]}
    assert {"teams.read", "members.invite", "api_keys.manage"} <= names
    assert everything["total"] == len(everything["items"])

    members_only = client.get("/api/v1/permissions?resource=members", headers=auth_headers(user)).json
    assert {item["name"] for item in members_only["items"]} == {
        "members.read",
        "members.invite",
        "members.manage",
    }
    assert all(item["resource"] == "members" for item in members_only["items"])

    groups = client.get("/api/v1/permissions/grouped", headers=auth_headers(user)).json["groups"]
    teams = next(group for group in groups if group["resource"] == "teams")
    assert {p["name"] for p in teams["permissions"]} == {"teams.read", "teams.manage"}


def test_me_and_check_follow_the_callers_role(client):
    _owner, _admin, member = admin_and_member()
    me = client.get("/api/v1/permissions/me", headers=auth_headers(member)).json
    assert me["role"] == "member"
    assert "teams.read" in me["permissions"] and "roles.manage" not in me["permissions"]

    yes = client.get("/api/v1/permissions/check/teams.read", headers=auth_headers(member)).json
    no = client.get("/api/v1/permissions/check/roles.manage", headers=auth_headers(member)).json
    assert yes["allowed"] is True and yes["has_permission"] is True
    assert no["allowed"] is False


def test_an_api_keys_permissions_are_limited_to_its_scopes(client):
    owner = make_user()
    raw = make_api_key(owner, scopes=["teams.*"])
    me = client.get("/api/v1/permissions/me", headers={"Authorization": f"Bearer {raw}"}).json
    assert set(me["permissions"]) == {"teams.read", "teams.manage"}


def test_withdrawing_a_permission_takes_effect_and_reset_restores_it(client):
    _owner, admin, member = admin_and_member()
    assert client.get(TEAMS_PROBE, headers=auth_headers(member)).status_code == 200

    withdrawn = client.patch(
        "/api/v1/permissions/roles/member",
        json={"permission": "teams.read", "granted": False},
        headers=auth_headers(admin),
    )
    assert withdrawn.status_code == 200
    assert "teams.read" not in withdrawn.json["permissions"] and withdrawn.json["is_default"] is False
    refused = client.get(TEAMS_PROBE, headers=auth_headers(member))
    assert refused.status_code == 403 and refused.json["required_permission"] == "teams.read"

    reset = client.post("/api/v1/permissions/roles/member/reset", headers=auth_headers(admin))
    assert reset.status_code == 200 and reset.json["is_default"] is True
    assert "teams.read" in reset.json["permissions"]
    assert client.get(TEAMS_PROBE, headers=auth_headers(member)).status_code == 200


def test_put_replaces_the_whole_grant_list(client):
    owner, _admin, member = admin_and_member()
    response = client.put(
        "/api/v1/permissions/roles/member",
        json={"permissions": ["teams.read", "members.read"]},
        headers=auth_headers(owner),
    )
    assert response.status_code == 200
    assert response.json["permissions"] == ["members.read", "teams.read"]
    role = client.get("/api/v1/permissions/roles/member", headers=auth_headers(owner)).json
    assert role["permissions"] == ["members.read", "teams.read"]
    # roles.read went with the rest of the old list.
    assert client.get("/api/v1/permissions/roles/member", headers=auth_headers(member)).status_code == 403
    assert (
        client.get("/api/v1/permissions/check/workspace.read", headers=auth_headers(member)).json["allowed"]
        is False
    )


def test_owner_role_is_locked_and_unknown_names_are_refused(client):
    owner, _admin, _member = admin_and_member()
    locked = client.put(
        "/api/v1/permissions/roles/owner", json={"permissions": []}, headers=auth_headers(owner)
    )
    assert locked.status_code == 403 and locked.json["error"] == "owner_role_locked"
    unknown = client.put(
        "/api/v1/permissions/roles/member", json={"permissions": ["teams.fly"]}, headers=auth_headers(owner)
    )
    assert unknown.status_code == 422 and "teams.fly" in unknown.json["details"][0]["message"]
    missing = client.get("/api/v1/permissions/roles/astronaut", headers=auth_headers(owner))
    assert missing.status_code == 404


def test_an_admin_cannot_grant_what_they_do_not_hold(client):
    _owner, admin, _member = admin_and_member()
    response = client.patch(
        "/api/v1/permissions/roles/admin",
        json={"permission": "workspace.delete"},
        headers=auth_headers(admin),
    )
    assert response.status_code == 403 and response.json["error"] == "cannot_grant_unheld_permission"


def test_only_role_managers_edit_or_list_every_role(client):
    _owner, _admin, member = admin_and_member()
    edit = client.patch(
        "/api/v1/permissions/roles/member", json={"permission": "roles.manage"}, headers=auth_headers(member)
    )
    assert edit.status_code == 403 and edit.json["required_permission"] == "roles.manage"
    assert client.get("/api/v1/permissions/roles", headers=auth_headers(member)).status_code == 403


def test_roles_map_and_seed(client):
    owner, admin, _member = admin_and_member()
    roles = client.get("/api/v1/permissions/roles", headers=auth_headers(admin)).json["roles"]
    assert set(roles) == {"owner", "admin", "member", "viewer"}
    assert "workspace.delete" in roles["owner"] and "workspace.delete" not in roles["admin"]
    assert roles["viewer"] and all(name.endswith(".read") for name in roles["viewer"])

    seeded = client.post("/api/v1/permissions/seed", headers=auth_headers(owner))
    assert seeded.status_code == 201 and sorted(seeded.json["created"]) == [
        "admin",
        "member",
        "owner",
        "viewer",
    ]
    again = client.post("/api/v1/permissions/seed", headers=auth_headers(owner)).json
    assert again["created"] == [] and again["updated"] == []
    rows = db.session.scalars(db.select(Role).filter_by(workspace_id=workspace_of(owner).id)).all()
    assert {row.key for row in rows} == {"owner", "admin", "member", "viewer"}
    assert all(row.is_system and row.permissions is None for row in rows)


def test_another_workspaces_header_is_refused(client):
    owner, _admin, _member = admin_and_member()
    stranger = make_user()
    response = client.get(
        "/api/v1/permissions/roles/member",
        headers={**auth_headers(stranger), "X-Workspace-Id": str(workspace_of(owner).id)},
    )
    assert response.status_code == 403 and response.json["error"] == "not_a_member"
