"""Organisation assistant: setup, admin login, signup modes and the waitlist, session tokens,
users, the organisation and its groups."""

import re
import uuid
from urllib.parse import unquote

import pytest

from narrative.extensions import db
from narrative.identity import assistant_service, tokens
from narrative.identity.models import Member, User
from narrative.platform.email import EmailMessage
from tests.identity.factories import DEFAULT_PASSWORD, auth_headers, make_api_key, make_user, workspace_of

PASSWORD = "a long enough password"


def setup_installation(client, **extra):
    body = {
        "email": "admin@example.com",
        "password": PASSWORD,
        "name": "Ada",
        "organization_name": "Acme",
        **extra,
    }
    return client.post("/auth/setup", json=body)


def bearer(body):
    return {"Authorization": f"Bearer {body['access_token']}"}


def set_signup(client, headers, **settings):
    response = client.put("/auth/admin/signup-settings", json=settings, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def login(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"email": email, "password": password})


def last_link_token(email):
    message = db.session.scalar(
        db.select(EmailMessage).filter_by(to_address=email).order_by(EmailMessage.created_at.desc())
    )
    assert message is not None, f"no email to {email}"
    return unquote(re.search(r"token=([^&\s]+)", message.text_body).group(1))


@pytest.fixture
def admin(client):
    """The installation after setup: the administrator's session body."""
    response = setup_installation(client)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- setup and admin login --------------------------------------------------------------------


def test_setup_runs_once_then_409(client):
    before = client.get("/auth/setup-status").get_json()
    assert before["bootstrapped"] is False and before["setup_required"] is True
    assert before["locales"] == ["en"]
    assert before["oauth_providers"]["google"] is False

    first = setup_installation(client)
    assert first.status_code == 201
    body = first.get_json()
    assert body["user"]["is_platform_admin"] is True
    assert body["organization"]["name"] == "Acme" and body["organization"]["role"] == "owner"
    assert client.get("/auth/user", headers=bearer(body)).status_code == 200

    again = setup_installation(client, email="intruder@example.com")
    assert again.status_code == 409
    assert again.get_json()["error"] == "setup_completed"
    assert db.session.scalar(db.select(User).filter_by(email="intruder@example.com")) is None

    after = client.get("/auth/setup-status").get_json()
    assert after["bootstrapped"] is True and after["organization"]["name"] == "Acme"


def test_setup_refused_when_an_administrator_already_exists(client):
    make_user(platform_admin=True)
    assert setup_installation(client).status_code == 409


def test_admin_login_refuses_non_admins(client, admin):
    ok = client.post("/auth/admin-login", json={"username": "admin@example.com", "password": PASSWORD})
    assert ok.status_code == 200
    assert ok.get_json()["user"]["email"] == "admin@example.com"

    regular = make_user(email="regular@example.com")
    refused = client.post("/auth/admin-login", json={"username": regular.email, "password": DEFAULT_PASSWORD})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "admin_required"
    wrong = client.post("/auth/admin-login", json={"email": "admin@example.com", "password": "nope-nope"})
    assert wrong.status_code == 401


# --- signup modes -------------------------------------------------------------------------------


def test_signup_disabled_by_default(client, admin):
    response = client.post("/auth/signup", json={"email": "x@example.com", "password": PASSWORD})
    assert response.status_code == 403
    assert response.get_json()["error"] == "signup_disabled"


def test_open_signup_joins_the_organisation_at_once(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="open", default_role="viewer")
    response = client.post(
        "/auth/signup", json={"email": "Open@Example.com", "password": PASSWORD, "name": "O"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "active" and body["organization"]["role"] == "viewer"
    me = client.get("/auth/my-permissions", headers=bearer(body)).get_json()
    assert me["role"] == "viewer" and "workspace.read" in me["permissions"]
    assert "members.manage" not in me["permissions"]
    assert (
        client.post("/auth/signup", json={"email": "open@example.com", "password": PASSWORD}).status_code
        == 409
    )


def test_email_domain_restriction(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="open", allowed_email_domains=["@acme.test"])
    refused = client.post("/auth/signup", json={"email": "x@elsewhere.test", "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "email_domain_not_allowed"
    assert client.post("/auth/signup", json={"email": "x@acme.test", "password": PASSWORD}).status_code == 201


def test_waitlist_signup_then_approve_then_login(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="waitlist")
    response = client.post(
        "/auth/signup", json={"email": "wait@example.com", "password": PASSWORD, "name": "W"}
    )
    assert response.status_code == 202
    assert response.get_json()["status"] == "pending"
    assert "access_token" not in response.get_json() or response.get_json()["access_token"] is None
    assert login(client, "wait@example.com").status_code == 403  # account not active yet

    waiting = client.get("/auth/admin/waitlist", headers=bearer(admin)).get_json()
    assert [entry["email"] for entry in waiting["items"]] == ["wait@example.com"]
    user_id = waiting["items"][0]["user_id"]
    # Waiting people are not users of the organisation yet.
    listed = client.get("/api/users", headers=bearer(admin)).get_json()
    assert "wait@example.com" not in [u["email"] for u in listed["items"]]

    approved = client.post(f"/auth/admin/waitlist/{user_id}/approve", headers=bearer(admin))
    assert approved.status_code == 200 and approved.get_json()["status"] == "active"
    signed_in = login(client, "wait@example.com")
    assert signed_in.status_code == 200
    assert signed_in.get_json()["workspace_id"] == admin["organization"]["id"]
    assert client.get("/auth/admin/waitlist", headers=bearer(admin)).get_json()["total"] == 0
    assert db.session.scalar(db.select(EmailMessage).filter_by(kind="waitlist_approved")) is not None


def test_pending_signup_without_password_gets_an_activation_link_on_approval(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="waitlist")
    assert client.post("/auth/pending-signup", json={"email": "np@example.com"}).status_code == 202
    user_id = client.get("/auth/admin/waitlist", headers=bearer(admin)).get_json()["items"][0]["user_id"]
    approved = client.post(f"/auth/admin/waitlist/{user_id}/approve", headers=bearer(admin)).get_json()
    assert approved["status"] == "invited"
    token = last_link_token("np@example.com")
    done = client.post("/api/v1/auth/activation/complete", json={"token": token, "password": PASSWORD})
    assert done.status_code == 200
    assert login(client, "np@example.com").status_code == 200


def test_waitlist_reject_removes_the_request(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="waitlist")
    client.post("/auth/pending-signup", json={"email": "no@example.com", "password": PASSWORD})
    user_id = client.get("/auth/admin/waitlist", headers=bearer(admin)).get_json()["items"][0]["user_id"]
    rejected = client.post(f"/auth/admin/waitlist/{user_id}/reject", headers=bearer(admin))
    assert rejected.status_code == 200 and rejected.get_json()["status"] == "rejected"
    assert client.get("/auth/admin/waitlist", headers=bearer(admin)).get_json()["total"] == 0
    assert db.session.scalar(db.select(User).filter_by(email="no@example.com")) is None
    assert login(client, "no@example.com").status_code == 401
    assert client.post(f"/auth/admin/waitlist/{user_id}/approve", headers=bearer(admin)).status_code == 404


def test_pending_signup_refused_when_the_organisation_keeps_no_waitlist(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="open")
    response = client.post("/auth/pending-signup", json={"email": "w@example.com"})
    assert response.status_code == 403 and response.get_json()["error"] == "waitlist_closed"


def test_invite_only_refuses_uninvited_and_accepts_invited(client, admin):
    set_signup(client, bearer(admin), enabled=True, mode="invite_only")
    refused = client.post("/auth/signup", json={"email": "guest@example.com", "password": PASSWORD})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == "invitation_required"

    invited = client.post(
        "/api/users", json={"email": "guest@example.com", "role": "member"}, headers=bearer(admin)
    )
    assert invited.status_code == 201, invited.get_json()
    assert invited.get_json()["status"] == "invited"
    token = last_link_token("guest@example.com")

    resolved = client.get(f"/auth/invite/{token}")
    assert resolved.status_code == 200
    assert resolved.get_json()["organization"]["name"] == "Acme"
    assert resolved.get_json()["needs_password"] is True

    joined = client.post("/auth/signup", json={"invite_token": token, "password": PASSWORD})
    assert joined.status_code == 201, joined.get_json()
    assert joined.get_json()["organization"]["id"] == admin["organization"]["id"]
    assert client.get(f"/auth/invite/{token}").status_code == 400  # spent


def test_public_organisations_lists_only_opted_in(client, admin):
    hidden = workspace_of(make_user())
    assert client.get("/auth/organizations/public").get_json()["items"] == []
    client.patch("/api/organisation", json={"is_public": True}, headers=bearer(admin))
    names = [org["name"] for org in client.get("/auth/organizations/public").get_json()["items"]]
    assert names == ["Acme"] and hidden.name not in names


# --- session, profile and permissions -----------------------------------------------------------


def test_session_token_is_single_use_and_stored_hashed(client, admin):
    response = client.post("/api/session-token", headers=bearer(admin))
    assert response.status_code == 200
    raw = response.get_json()["session_token"]
    assert response.get_json()["expires_in"] == 60
    from narrative.identity.credential_models import OneTimeToken

    row = db.session.scalar(db.select(OneTimeToken).filter_by(purpose="session"))
    assert row.token_hash == tokens.hash_secret(raw) and raw not in row.token_hash

    user, pair = assistant_service.exchange_session_token(token=raw)
    assert user.email == "admin@example.com"
    assert str(pair.workspace_id) == admin["organization"]["id"]
    with pytest.raises(tokens.InvalidOneTimeToken):
        assistant_service.exchange_session_token(token=raw)

    key = make_api_key(db.session.get(User, user.id))
    refused = client.post("/api/session-token", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403


def test_logout_ends_the_session(client, admin):
    assert client.post("/auth/logout", headers=bearer(admin)).status_code == 200
    assert client.get("/auth/user", headers=bearer(admin)).status_code == 401


def test_current_user_profile_and_permissions(client, admin):
    updated = client.post(
        "/auth/update-profile",
        json={"name": "Ada L.", "avatar": "https://img.example.com/a.png", "language": "de"},
        headers=bearer(admin),
    )
    assert updated.status_code == 200
    me = client.get("/auth/user", headers=bearer(admin)).get_json()
    assert me["name"] == "Ada L." and me["language"] == "de"
    assert me["avatar_url"] == "https://img.example.com/a.png"
    assert me["role"] == "owner" and me["organization"]["name"] == "Acme"

    client.patch("/api/organisation", json={"beta_features": ["voice"]}, headers=bearer(admin))
    group = client.post("/api/organisation/groups", json={"name": "Ops"}, headers=bearer(admin)).get_json()
    client.post(
        f"/api/organisation/groups/{group['id']}/members",
        json={"user_id": admin["user"]["id"], "role": "lead"},
        headers=bearer(admin),
    )
    perms = client.get("/auth/my-permissions", headers=bearer(admin)).get_json()
    assert perms["beta_features"] == ["voice"]
    assert perms["groups"] == [{"id": group["id"], "name": "Ops", "role": "lead"}]
    assert [org["name"] for org in perms["organizations"]] == ["Acme"]
    assert perms["tier"] == "community" and "members.manage" in perms["permissions"]


# --- users --------------------------------------------------------------------------------------


def test_users_list_paginates_and_filters(client):
    owner = make_user(name="Aaron Owner")
    workspace = workspace_of(owner)
    for index in range(4):
        make_user(name=f"Member {index}", role="member", workspace=workspace)
    first = client.get("/api/users?page=1&page_size=2", headers=auth_headers(owner)).get_json()
    assert first["total"] == 5 and first["pages"] == 3 and first["has_more"] is True
    assert [u["name"] for u in first["items"]] == ["Aaron Owner", "Member 0"]
    last = client.get("/api/users?page=3&page_size=2", headers=auth_headers(owner)).get_json()
    assert [u["name"] for u in last["items"]] == ["Member 3"] and last["has_more"] is False
    found = client.get("/api/users?search=member 2", headers=auth_headers(owner)).get_json()
    assert [u["name"] for u in found["items"]] == ["Member 2"]
    # Another organisation's users never appear.
    make_user(name="Stranger")
    assert client.get("/api/users", headers=auth_headers(owner)).get_json()["total"] == 5


def test_users_update_and_soft_delete(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    promoted = client.patch(f"/api/users/{member.id}", json={"role": "admin"}, headers=auth_headers(owner))
    assert promoted.status_code == 200 and promoted.get_json()["role"] == "admin"

    deleted = client.delete(f"/api/users/{member.id}", headers=auth_headers(owner))
    assert deleted.status_code == 200
    row = db.session.scalar(db.select(Member).filter_by(workspace_id=workspace.id, user_id=member.id))
    assert row.status == "deactivated" and row.removed_at is not None
    assert db.session.get(User, member.id) is not None  # soft: the account stays
    # They lose the organisation at once (their account still signs in).
    removed_headers = auth_headers(member, workspace)
    assert client.get("/api/organisation", headers=removed_headers).status_code == 403
    assert client.get("/auth/my-permissions", headers=removed_headers).get_json()["permissions"] == []
    listed = client.get("/api/users?status=deactivated", headers=auth_headers(owner)).get_json()
    assert [u["id"] for u in listed["items"]] == [str(member.id)]

    # Only admins manage users; another organisation's user is a 404.
    viewer = make_user(role="viewer", workspace=workspace)
    assert client.get("/api/users", headers=auth_headers(viewer)).status_code == 403
    stranger = make_user()
    assert (
        client.patch(
            f"/api/users/{stranger.id}", json={"role": "viewer"}, headers=auth_headers(owner)
        ).status_code
        == 404
    )
    assert client.delete(f"/api/users/{owner.id}", headers=auth_headers(owner)).status_code == 409


# --- organisation and groups --------------------------------------------------------------------


def test_organisation_settings(client):
    owner = make_user()
    body = client.get("/api/organisation", headers=auth_headers(owner)).get_json()
    assert body["tier"] == "community" and body["is_public"] is False
    updated = client.patch(
        "/api/organisation",
        json={"name": "Renamed", "default_language": "fr", "settings": {"theme": "dark", "signup": "hack"}},
        headers=auth_headers(owner),
    ).get_json()
    assert updated["name"] == "Renamed" and updated["default_language"] == "fr"
    assert updated["settings"] == {"theme": "dark"}
    member = make_user(role="member", workspace=workspace_of(owner))
    assert client.get("/api/organisation", headers=auth_headers(member)).status_code == 200
    assert (
        client.patch("/api/organisation", json={"name": "X"}, headers=auth_headers(member)).status_code == 403
    )


def test_groups_crud_and_members(client):
    owner = make_user()
    member = make_user(role="member", workspace=workspace_of(owner))
    headers = auth_headers(owner)
    group = client.post("/api/organisation/groups", json={"name": "Sales"}, headers=headers)
    assert group.status_code == 201
    group_id = group.get_json()["id"]
    assert client.post("/api/organisation/groups", json={"name": "Sales"}, headers=headers).status_code == 409

    added = client.post(
        f"/api/organisation/groups/{group_id}/members", json={"user_id": str(member.id)}, headers=headers
    )
    assert added.status_code == 201
    assert [m["user_id"] for m in added.get_json()["members"]] == [str(member.id)]
    listed = client.get("/api/organisation/groups", headers=auth_headers(member)).get_json()
    assert listed["items"][0]["member_count"] == 1

    renamed = client.patch(
        f"/api/organisation/groups/{group_id}", json={"name": "Field sales"}, headers=headers
    )
    assert renamed.get_json()["name"] == "Field sales"
    removed = client.delete(f"/api/organisation/groups/{group_id}/members/{member.id}", headers=headers)
    assert removed.status_code == 200 and removed.get_json()["members"] == []
    assert (
        client.post("/api/organisation/groups", json={"name": "X"}, headers=auth_headers(member)).status_code
        == 403
    )

    other = make_user()
    assert (
        client.delete(f"/api/organisation/groups/{group_id}", headers=auth_headers(other)).status_code == 404
    )
    assert client.delete(f"/api/organisation/groups/{group_id}", headers=headers).status_code == 200
    assert client.get("/api/organisation/groups", headers=headers).get_json()["total"] == 0


def test_group_members_come_from_this_organisation_only(client):
    owner = make_user()
    outsider = make_user()
    headers = auth_headers(owner)
    group_id = client.post("/api/organisation/groups", json={"name": "Ops"}, headers=headers).get_json()["id"]
    for user_id in (outsider.id, uuid.uuid4()):
        refused = client.post(
            f"/api/organisation/groups/{group_id}/members", json={"user_id": str(user_id)}, headers=headers
        )
        assert refused.status_code == 422
        assert [d["field"] for d in refused.get_json()["details"]] == ["user_id"]
    group = client.get("/api/organisation/groups", headers=headers).get_json()["items"][0]
    assert group["members"] == []
