"""The access decorator, credential resolution, x-workspace-id and the tenancy helpers."""

from datetime import timedelta

from narrative.extensions import db
from narrative.identity.models import ApiKey, Member, Team
from narrative.platform.crypto import hash_secret
from narrative.platform.models import utcnow
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of


def test_no_credential_is_401_and_public_views_stay_open(client):
    response = client.get("/_probe/identity/signed-in")
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized"
    public = client.get("/_probe/identity/public")
    assert public.status_code == 200 and public.json["kind"] is None


def test_garbage_bearer_token_is_invalid_token(client):
    response = client.get("/_probe/identity/signed-in", headers={"Authorization": "Bearer not.a.jwt"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"


def test_user_token_names_user_workspace_and_role(client):
    user = make_user()
    response = client.get("/_probe/identity/signed-in", headers=auth_headers(user))
    assert response.status_code == 200
    assert response.json == {
        "kind": "user",
        "user_id": str(user.id),
        "email": user.email,
        "workspace_id": str(workspace_of(user).id),
        "role": "owner",
    }


def test_missing_permission_is_403_naming_it_before_any_work(client):
    owner = make_user()
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    refused = client.post("/_probe/identity/invite", json={"name": "x"}, headers=auth_headers(viewer))
    assert refused.status_code == 403
    assert refused.json["error"] == "forbidden"
    assert refused.json["required_permission"] == "members.invite"
    assert "members.invite" in refused.json["message"]
    assert db.session.scalar(db.select(db.func.count()).select_from(Team)) == 0
    allowed = client.post("/_probe/identity/invite", json={"name": "x"}, headers=auth_headers(owner))
    assert allowed.status_code == 200


def test_role_change_takes_effect_on_the_next_request(client):
    owner = make_user()
    admin = make_user(role="admin", workspace=workspace_of(owner))
    headers = auth_headers(admin)
    assert client.post("/_probe/identity/invite", json={"name": "a"}, headers=headers).status_code == 200
    member = db.session.scalar(db.select(Member).filter_by(user_id=admin.id))
    member.role = "viewer"
    db.session.commit()
    assert client.post("/_probe/identity/invite", json={"name": "b"}, headers=headers).status_code == 403


def test_platform_admin_only(client):
    plain = make_user()
    admin = make_user(platform_admin=True)
    assert client.get("/_probe/identity/admin-only", headers=auth_headers(plain)).status_code == 403
    assert client.get("/_probe/identity/admin-only", headers=auth_headers(admin)).status_code == 200


def test_api_key_authenticates_with_its_workspace_and_scopes(client):
    user = make_user()
    raw = make_api_key(user, scopes=["members.read"])
    seen = client.get("/_probe/identity/signed-in", headers={"Authorization": f"Bearer {raw}"})
    assert seen.status_code == 200
    assert seen.json["kind"] == "api_key" and seen.json["workspace_id"] == str(workspace_of(user).id)
    refused = client.post("/_probe/identity/invite", json={"name": "x"}, headers={"X-API-Key": raw})
    assert refused.status_code == 403 and refused.json["required_permission"] == "members.invite"
    module_wide = make_api_key(user, scopes=["members.*"])
    assert (
        client.post(
            "/_probe/identity/invite", json={"name": "x"}, headers={"X-API-Key": module_wide}
        ).status_code
        == 200
    )
    key = db.session.scalar(db.select(ApiKey).filter_by(key_hash=hash_secret(raw)))
    db.session.refresh(key)
    assert key.last_used_at is not None


def test_api_key_never_exceeds_its_owners_role(client):
    owner = make_user()
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    raw = make_api_key(viewer, scopes=["*"])
    response = client.post("/_probe/identity/invite", json={"name": "x"}, headers={"X-API-Key": raw})
    assert response.status_code == 403


def test_revoked_disabled_or_expired_api_key_is_401(client):
    user = make_user()
    raw = make_api_key(user)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/_probe/identity/signed-in", headers=headers).status_code == 200
    key = db.session.scalar(db.select(ApiKey).filter_by(key_hash=hash_secret(raw)))
    key.revoked_at = utcnow()
    db.session.commit()
    response = client.get("/_probe/identity/signed-in", headers=headers)
    assert response.status_code == 401 and response.json["error"] == "invalid_api_key"
    key.revoked_at, key.is_active = None, False
    db.session.commit()
    assert client.get("/_probe/identity/signed-in", headers=headers).status_code == 401
    key.is_active, key.expires_at = True, utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get("/_probe/identity/signed-in", headers=headers).status_code == 401
    unknown = client.get("/_probe/identity/signed-in", headers={"Authorization": "Bearer sk_nope"})
    assert unknown.status_code == 401


def test_execution_tokens_are_left_to_the_proxy(client):
    response = client.get("/_probe/identity/signed-in", headers={"Authorization": "Bearer sxt_whatever"})
    assert response.status_code == 401 and response.json["error"] == "unauthorized"


def test_x_workspace_id_selects_a_workspace_after_membership_check(client):
    alice = make_user()
    bob = make_user()
    bobs_workspace = workspace_of(bob)
    make_user(email="alice-in-b@example.com")  # unrelated
    from narrative.identity.service import add_member

    add_member(workspace=bobs_workspace, user=alice, role="viewer")
    db.session.commit()
    headers = auth_headers(alice)
    switched = client.get(
        "/_probe/identity/signed-in", headers={**headers, "x-workspace-id": str(bobs_workspace.id)}
    )
    assert switched.status_code == 200
    assert switched.json["workspace_id"] == str(bobs_workspace.id) and switched.json["role"] == "viewer"

    carol_workspace = workspace_of(make_user())
    answers = [
        client.get("/_probe/identity/signed-in", headers={**headers, "x-workspace-id": value})
        for value in (str(carol_workspace.id), "00000000-0000-7000-8000-000000000000", "not-a-uuid")
    ]
    assert {r.status_code for r in answers} == {403}
    assert {r.json["error"] for r in answers} == {"not_a_member"}
    assert len({r.json["message"] for r in answers}) == 1


def test_tenancy_helpers_hide_other_workspaces_objects(client):
    alice = make_user()
    bob = make_user()
    mine = Team(workspace_id=workspace_of(alice).id, name="Mine")
    theirs = Team(workspace_id=workspace_of(bob).id, name="Theirs")
    db.session.add_all([mine, theirs])
    db.session.commit()
    headers = auth_headers(alice)
    assert client.get("/_probe/identity/teams", headers=headers).json == {"names": ["Mine"]}
    assert client.get(f"/_probe/identity/teams/{mine.id}", headers=headers).json == {"name": "Mine"}
    other = client.get(f"/_probe/identity/teams/{theirs.id}", headers=headers)
    assert other.status_code == 404 and other.json["error"] == "not_found"
    assert client.get("/_probe/identity/teams/12345", headers=headers).status_code == 404


def test_auth_client_fixture_is_signed_in_as_owner(auth_client):
    response = auth_client.get("/_probe/identity/signed-in")
    assert response.status_code == 200
    assert response.json["email"] == auth_client.user.email
    assert response.json["workspace_id"] == str(auth_client.workspace.id)
