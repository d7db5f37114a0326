"""Workspaces: the invite -> accept -> login -> team story, switching, invitations, admin resets."""

import uuid

from narrative.extensions import db
from narrative.identity.models import Member, User, Workspace
from tests.identity.factories import DEFAULT_PASSWORD, auth_headers, make_user, workspace_of
from tests.identity.workspace_helpers import event_types, last_email_to, member_of, token_in

COLLEAGUE = "colleague@example.com"


def invite(client, owner, workspace, email=COLLEAGUE, **extra):
    return client.post(
        f"/api/v1/workspaces/{workspace.id}/invitations",
        json={"email": email, **extra},
        headers=auth_headers(owner),
    )


def test_owner_invites_colleague_who_accepts_logs_in_and_joins_a_team(client):
    owner = make_user(name="Olivia Owner")
    workspace = workspace_of(owner)

    invited = invite(client, owner, workspace, role="member")
    assert invited.status_code == 201, invited.json
    assert invited.json["status"] == "invited" and invited.json["invite_url"] is None
    email = last_email_to(COLLEAGUE)
    assert email.kind == "invitation" and workspace.name in email.text_body
    token = token_in(email.text_body)

    details = client.get("/api/v1/workspaces/invitations/details", query_string={"token": token})
    assert details.status_code == 200
    assert details.json["needs_password"] is True
    assert details.json["workspace"]["name"] == workspace.name
    assert details.json["invited_by"] == "Olivia Owner"

    accepted = client.post(
        "/api/v1/workspaces/invitations/accept",
        json={"token": token, "password": "a new password 1", "name": "Col"},
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["workspace_id"] == str(workspace.id) and accepted.json["role"] == "member"
    assert accepted.json["member"]["status"] == "active"
    again = client.post(
        "/api/v1/workspaces/invitations/accept", json={"token": token, "password": "whatever12"}
    )
    assert again.status_code == 400 and again.json["error"] == "invalid_token"

    login = client.post("/api/v1/auth/login", json={"email": COLLEAGUE, "password": "a new password 1"})
    assert login.status_code == 200, login.json
    colleague_headers = {"Authorization": f"Bearer {login.json['access_token']}"}

    team = client.post("/api/v1/teams", json={"name": "Sales"}, headers=auth_headers(owner))
    assert team.status_code == 201
    colleague_member_id = accepted.json["member"]["id"]
    added = client.post(
        f"/api/v1/teams/{team.json['id']}/members",
        json={"member_id": colleague_member_id},
        headers=auth_headers(owner),
    )
    assert added.status_code == 201 and added.json["email"] == COLLEAGUE

    seen = client.get("/api/v1/teams", headers=colleague_headers)
    assert seen.status_code == 200
    assert [(t["name"], t["member_count"]) for t in seen.json["items"]] == [("Sales", 1)]
    types = event_types(workspace.id)
    for expected in ("member.invited", "member.joined", "team.created", "team.member_added"):
        assert expected in types
    assert types.index("member.invited") < types.index("member.joined")


def test_switch_gives_tokens_for_the_other_workspace(client):
    user = make_user()
    home = workspace_of(user)
    other_owner = make_user()
    other = workspace_of(other_owner)
    db.session.add(Member(workspace_id=other.id, user_id=user.id, role="admin", status="active"))
    db.session.commit()

    listed = client.get("/api/v1/workspaces", headers=auth_headers(user))
    assert sorted(w["id"] for w in listed.json["items"]) == sorted([str(home.id), str(other.id)])
    assert listed.json["total"] == 2

    switched = client.post(
        "/api/v1/workspaces/switch", json={"workspace_id": str(other.id)}, headers=auth_headers(user)
    )
    assert switched.status_code == 200
    assert switched.json["workspace_id"] == str(other.id) and switched.json["role"] == "admin"
    me = client.get(
        "/api/v1/members/me", headers={"Authorization": f"Bearer {switched.json['access_token']}"}
    )
    assert me.json["workspace_id"] == str(other.id) and me.json["role"] == "admin"

    stranger = workspace_of(make_user())
    refused = client.post(
        "/api/v1/workspaces/switch", json={"workspace_id": str(stranger.id)}, headers=auth_headers(user)
    )
    assert refused.status_code == 403 and refused.json["error"] == "not_a_member"


def test_invite_link_returns_the_url_sends_nothing_and_voids_older_links(client):
    owner = make_user()
    workspace = workspace_of(owner)
    first = invite(client, owner, workspace)
    old_token = token_in(last_email_to(COLLEAGUE).text_body)
    link = client.post(
        f"/api/v1/workspaces/{workspace.id}/invitations/link",
        json={"email": COLLEAGUE},
        headers=auth_headers(owner),
    )
    assert first.status_code == 201 and link.status_code == 200
    assert link.json["invite_url"].startswith("http") and link.json["email_sent"] is False
    assert token_in(last_email_to(COLLEAGUE).text_body) == old_token  # no new email
    stale = client.get("/api/v1/workspaces/invitations/details", query_string={"token": old_token})
    assert stale.status_code == 400
    fresh = client.get(
        "/api/v1/workspaces/invitations/details", query_string={"token": token_in(link.json["invite_url"])}
    )
    assert fresh.status_code == 200


def test_existing_account_accepts_only_with_its_own_password(client):
    owner = make_user()
    workspace = workspace_of(owner)
    existing = make_user(email="known@example.com")
    invite(client, owner, workspace, email="known@example.com")
    token = token_in(last_email_to("known@example.com").text_body)
    assert (
        client.get("/api/v1/workspaces/invitations/details", query_string={"token": token}).json[
            "needs_password"
        ]
        is False
    )

    wrong = client.post(
        "/api/v1/workspaces/invitations/accept", json={"token": token, "password": "not theirs 1"}
    )
    assert wrong.status_code == 401
    right = client.post(
        "/api/v1/workspaces/invitations/accept", json={"token": token, "password": DEFAULT_PASSWORD}
    )
    assert right.status_code == 200 and right.json["user_id"] == str(existing.id)
    assert member_of(existing, workspace).status == "active"


def test_cancel_and_resend_work_on_pending_invitations_only(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member_id = invite(client, owner, workspace).json["member"]["id"]
    first = token_in(last_email_to(COLLEAGUE).text_body)
    resent = client.post(
        f"/api/v1/workspaces/{workspace.id}/invitations/resend",
        json={"member_id": member_id},
        headers=auth_headers(owner),
    )
    assert resent.status_code == 200
    second = token_in(last_email_to(COLLEAGUE).text_body)
    assert second != first
    assert (
        client.get("/api/v1/workspaces/invitations/details", query_string={"token": first}).status_code == 400
    )

    canceled = client.post(
        "/api/v1/workspaces/invitations/cancel", json={"email": COLLEAGUE}, headers=auth_headers(owner)
    )
    assert canceled.status_code == 200
    assert db.session.get(Member, uuid.UUID(member_id)) is None
    # The account was made only for the invitation, so it goes too.
    assert db.session.scalar(db.select(User).filter_by(email=COLLEAGUE)) is None
    assert (
        client.get("/api/v1/workspaces/invitations/details", query_string={"token": second}).status_code
        == 400
    )
    assert "member.invitation_canceled" in event_types(workspace.id)

    owner_member = member_of(owner, workspace)
    not_pending = client.post(
        "/api/v1/workspaces/invitations/cancel",
        json={"member_id": str(owner_member.id)},
        headers=auth_headers(owner),
    )
    assert not_pending.status_code == 409

    # Another workspace's pending invitation is not one of ours: 404, and it stays.
    outsider = make_user()
    theirs = invite(client, outsider, workspace_of(outsider)).json["member"]["id"]
    for target in ({"member_id": theirs}, {"email": COLLEAGUE}):
        foreign = client.post(
            "/api/v1/workspaces/invitations/cancel", json=target, headers=auth_headers(owner)
        )
        assert foreign.status_code == 404
    assert db.session.get(Member, uuid.UUID(theirs)).status == "invited"


def test_a_viewer_cannot_invite(client):
    owner = make_user()
    workspace = workspace_of(owner)
    viewer = make_user(role="viewer", workspace=workspace)
    refused = invite(client, viewer, workspace)
    assert refused.status_code == 403
    assert refused.json["required_permission"] == "members.invite"
    assert last_email_to(COLLEAGUE) is None


def test_another_workspaces_path_is_refused_as_not_a_member(client):
    owner = make_user()
    outsider = make_user()
    workspace = workspace_of(owner)
    for response in (
        invite(client, outsider, workspace),
        client.get(f"/api/v1/workspaces/{workspace.id}", headers=auth_headers(outsider)),
        client.get(f"/api/v1/workspaces/{workspace.id}/members", headers=auth_headers(outsider)),
    ):
        assert response.status_code == 403 and response.json["error"] == "not_a_member"
    owner_member = member_of(owner, workspace)
    # Another workspace's member id under the outsider's own workspace path is a 404.
    missing = client.delete(
        f"/api/v1/workspaces/{workspace_of(outsider).id}/members/{owner_member.id}",
        headers=auth_headers(outsider),
    )
    assert missing.status_code == 404


def test_workspace_members_list_shows_pending_invitations(client):
    owner = make_user()
    workspace = workspace_of(owner)
    invite(client, owner, workspace)
    listed = client.get(f"/api/v1/workspaces/{workspace.id}/members", headers=auth_headers(owner))
    assert listed.status_code == 200
    statuses = {item["email"]: item["status"] for item in listed.json["items"]}
    assert statuses == {owner.email: "active", COLLEAGUE: "invited"}


def test_create_get_and_update_a_workspace(client):
    user = make_user()
    created = client.post(
        "/api/v1/workspaces?skip_seed=true", json={"name": "Second office"}, headers=auth_headers(user)
    )
    assert created.status_code == 201 and created.json["role"] == "owner"
    workspace_id = created.json["id"]
    got = client.get(f"/api/v1/workspaces/{workspace_id}", headers=auth_headers(user))
    assert got.status_code == 200 and got.json["name"] == "Second office" and got.json["member_count"] == 1
    updated = client.patch(
        f"/api/v1/workspaces/{workspace_id}",
        json={"name": "Head office", "settings": {"currency": "EUR"}},
        headers=auth_headers(user),
    )
    assert updated.status_code == 200 and updated.json["settings"] == {"currency": "EUR"}
    assert "workspace.updated" in event_types(workspace_id)

    viewer = make_user(role="viewer", workspace=workspace_of(user))
    home = workspace_of(user)
    refused = client.patch(f"/api/v1/workspaces/{home.id}", json={"name": "x"}, headers=auth_headers(viewer))
    assert refused.status_code == 403 and refused.json["required_permission"] == "workspace.manage"


def test_admin_reset_link_lets_the_member_choose_a_password(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    link = client.post(
        f"/api/v1/workspaces/{workspace.id}/users/{member.id}/password-reset-link",
        headers=auth_headers(owner),
    )
    assert link.status_code == 200 and link.json["expires_in"] == 24 * 3600
    reset = client.post(
        "/api/v1/auth/reset-password",
        json={"token": token_in(link.json["reset_url"]), "password": "brand new pass 9"},
    )
    assert reset.status_code == 200
    login = client.post("/api/v1/auth/login", json={"email": member.email, "password": "brand new pass 9"})
    assert login.status_code == 200

    emailed = client.post(
        f"/api/v1/workspaces/{workspace.id}/users/{member.id}/password-reset", headers=auth_headers(owner)
    )
    assert emailed.status_code == 200 and last_email_to(member.email).kind == "password_reset"

    # Someone who also belongs elsewhere only gets the email, never a link in an admin's hands.
    db.session.add(
        Member(workspace_id=workspace_of(make_user()).id, user_id=member.id, role="member", status="active")
    )
    db.session.commit()
    refused = client.post(
        f"/api/v1/workspaces/{workspace.id}/users/{member.id}/password-reset-link",
        headers=auth_headers(owner),
    )
    assert refused.status_code == 403


def test_an_admin_cannot_reset_the_owners_password(client):
    owner = make_user()
    workspace = workspace_of(owner)
    admin = make_user(role="admin", workspace=workspace)
    refused = client.post(
        f"/api/v1/workspaces/{workspace.id}/users/{owner.id}/password-reset", headers=auth_headers(admin)
    )
    assert refused.status_code == 403


def test_provision_is_for_platform_administrators(client):
    staff = make_user(platform_admin=True)
    regular = make_user()
    payload = {"email": "founder@example.com", "workspace_name": "Founder Co"}
    assert (
        client.post("/api/v1/workspaces/provision", json=payload, headers=auth_headers(regular)).status_code
        == 403
    )
    made = client.post("/api/v1/workspaces/provision", json=payload, headers=auth_headers(staff))
    assert made.status_code == 200, made.json
    assert made.json["user_created"] is True and made.json["workspace"]["name"] == "Founder Co"
    founder = db.session.scalar(db.select(User).filter_by(email="founder@example.com"))
    workspace = db.session.get(Workspace, uuid.UUID(made.json["workspace"]["id"]))
    assert member_of(founder, workspace).role == "owner"
    assert last_email_to("founder@example.com").kind == "activation"
