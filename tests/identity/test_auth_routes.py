"""The core and SDK authentication endpoints, through real requests."""

import io
import re

from narrative.extensions import db
from narrative.identity import auth_service
from narrative.identity.models import Member, RefreshToken, User, Workspace
from narrative.platform.email import EmailMessage
from tests.identity.factories import DEFAULT_PASSWORD, auth_headers, make_user, make_workspace, workspace_of


def login(client, email, password=DEFAULT_PASSWORD, path="/api/v1/auth/login", **extra):
    return client.post(path, json={"email": email, "password": password}, **extra)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_tokens_that_work(client):
    user = make_user()
    response = login(client, user.email.upper())
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "bearer" and body["user"]["email"] == user.email
    assert body["workspace_id"] == str(workspace_of(user).id) and body["role"] == "owner"
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json["email"] == user.email and me.json["member"]["role"] == "owner"
    assert "members.invite" in me.json["permissions"]


def test_login_401_does_not_reveal_whether_the_email_exists(client):
    user = make_user()
    wrong_password = login(client, user.email, "not the password")
    unknown_email = login(client, "nobody@example.com")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json["error"] == unknown_email.json["error"] == "invalid_credentials"
    assert wrong_password.json["message"] == unknown_email.json["message"]


def test_login_is_limited_to_five_per_minute_per_address(client):
    user = make_user()
    statuses = [login(client, user.email, "wrong password").status_code for _ in range(5)]
    assert statuses == [401] * 5
    refused = login(client, user.email)
    assert refused.status_code == 429 and refused.json["error"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) >= 1
    # The SDK's login shares the per-address limit.
    assert login(client, user.email, path="/api/auth/login").status_code == 429
    other_address = login(client, user.email, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other_address.status_code == 200


def test_account_locks_after_100_failed_logins_in_an_hour(client):
    user = make_user()
    # From many addresses, so the per-address limit is not what stops them.
    for attempt in range(100):
        failed = login(
            client, user.email, "wrong password", environ_base={"REMOTE_ADDR": f"10.0.{attempt}.1"}
        )
        assert failed.status_code == 401
    response = login(client, user.email, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert response.status_code == 429
    assert response.json["error"] == "too_many_failed_logins"
    assert "failed sign-in attempts" in response.json["message"]
    assert int(response.headers["Retry-After"]) > 0
    assert login(client, make_user().email, environ_base={"REMOTE_ADDR": "10.9.9.8"}).status_code == 200


def test_refresh_rotates_and_reuse_revokes_the_session(client):
    user = make_user()
    first = login(client, user.email).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    reused = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reused.status_code == 401 and reused.json["error"] == "token_revoked"
    # The thief's reuse ended the legitimate holder's session too.
    assert client.get("/api/v1/auth/me", headers=bearer(second.json["access_token"])).status_code == 401
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]})
    assert again.status_code == 401
    # The revocation was kept although the refusing request rolled back.
    family = db.session.scalars(db.select(RefreshToken).filter_by(user_id=user.id)).all()
    assert len(family) == 2 and all(row.revoked_at is not None for row in family)


def test_logout_makes_the_access_and_refresh_tokens_fail(client):
    user = make_user()
    session = login(client, user.email).json
    other = login(client, user.email).json
    out = client.post("/api/v1/auth/logout", headers=bearer(session["access_token"]))
    assert out.status_code == 200 and out.json["ok"] is True
    after = client.get("/api/v1/auth/me", headers=bearer(session["access_token"]))
    assert after.status_code == 401 and after.json["error"] == "token_revoked"
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code
        == 401
    )
    assert client.get("/api/v1/auth/me", headers=bearer(other["access_token"])).status_code == 200


def _reset_link_token(email):
    message = db.session.scalar(db.select(EmailMessage).filter_by(to_address=email, kind="password_reset"))
    return re.search(r"token=([\w-]+)", message.text_body).group(1)


def test_password_reset_revokes_sessions_and_the_token_is_single_use(client):
    user = make_user()
    session = login(client, user.email).json
    asked = client.post("/api/v1/auth/request-password-reset", json={"email": user.email})
    assert asked.status_code == 200
    token = _reset_link_token(user.email)
    reset = client.post(
        "/api/v1/auth/reset-password", json={"token": token, "password": "a brand new secret"}
    )
    assert reset.status_code == 200
    assert client.get("/api/v1/auth/me", headers=bearer(session["access_token"])).status_code == 401
    assert (
        client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]}).status_code
        == 401
    )
    again = client.post("/api/v1/auth/reset-password", json={"token": token, "password": "another secret!"})
    assert again.status_code == 400 and again.json["error"] == "invalid_token"
    assert login(client, user.email).status_code == 401
    assert login(client, user.email, "a brand new secret").status_code == 200


def test_password_reset_answers_the_same_for_unknown_emails(client):
    user = make_user()
    known = client.post("/api/v1/auth/request-password-reset", json={"email": user.email})
    unknown = client.post("/api/v1/auth/request-password-reset", json={"email": "ghost@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.json == unknown.json
    assert db.session.scalar(db.select(db.func.count()).select_from(EmailMessage)) == 1


def test_signup_creates_workspace_owner_and_session(client):
    response = client.post(
        "/api/v1/auth/signup",
        json={"email": "founder@acme.io", "password": "long enough pw", "company_name": "Acme Inc"},
    )
    assert response.status_code == 201
    body = response.json
    assert body["checkout_url"] is None and body["workspace"]["name"] == "Acme Inc"
    user = db.session.scalar(db.select(User).filter_by(email="founder@acme.io"))
    member = db.session.scalar(db.select(Member).filter_by(user_id=user.id))
    assert member.role == "owner" and member.status == "active"
    assert str(member.workspace_id) == body["workspace_id"] == body["workspace"]["id"]
    me = client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
    assert me.json["workspace"]["name"] == "Acme Inc"
    duplicate = client.post(
        "/api/v1/auth/signup",
        json={"email": "founder@acme.io", "password": "long enough pw", "company_name": "Acme 2"},
    )
    assert duplicate.status_code == 409
    assert db.session.scalar(db.select(db.func.count()).select_from(Workspace)) == 1


def test_sdk_auth_speaks_camel_case(client):
    user = make_user()
    response = login(client, user.email, path="/api/auth/login")
    assert response.status_code == 200
    body = response.json
    assert {"accessToken", "refreshToken", "userId", "tenantId"} <= set(body)
    assert "access_token" not in body
    assert body["tenantId"] == str(workspace_of(user).id)
    me = client.get("/api/auth/me", headers=bearer(body["accessToken"]))
    assert me.json == {
        "userId": str(user.id),
        "tenantId": body["tenantId"],
        "email": user.email,
        "name": user.name,
        "role": "owner",
    }
    rotated = client.post("/api/auth/refresh", json={"refreshToken": body["refreshToken"]})
    assert rotated.status_code == 200 and rotated.json["refreshToken"] != body["refreshToken"]
    out = client.post("/api/auth/logout", headers=bearer(rotated.json["accessToken"]))
    assert out.json == {"ok": True}
    assert client.get("/api/auth/me", headers=bearer(rotated.json["accessToken"])).status_code == 401
    missing = client.post("/api/auth/refresh", json={"refresh_token": "x"})
    assert missing.status_code == 422 and missing.json["details"][0]["field"] == "refreshToken"


def test_activation_flow_for_an_invited_user(client):
    owner = make_user()
    workspace = workspace_of(owner)
    from narrative.identity.service import add_member, create_account

    invited = create_account(email="new@example.com", status="pending")
    add_member(workspace=workspace, user=invited, role="member", status="invited", invited_by=owner)
    raw = auth_service.send_activation_email(user=invited, workspace=workspace, invited_by=owner)
    db.session.commit()
    valid = client.get(
        "/api/v1/auth/activation/validate", query_string={"token": raw, "workspace_id": workspace.id}
    )
    assert valid.status_code == 200 and valid.json["user"]["email"] == "new@example.com"
    wrong_workspace = client.get(
        "/api/v1/auth/activation/validate",
        query_string={"token": raw, "workspace_id": workspace_of(make_user()).id},
    )
    assert wrong_workspace.status_code == 400
    done = client.post("/api/v1/auth/activation/complete", json={"token": raw, "password": "my own password"})
    assert (
        done.status_code == 200
        and done.json["workspace_id"] == str(workspace.id)
        and done.json["role"] == "member"
    )
    assert (
        client.post("/api/v1/auth/activation/complete", json={"token": raw, "password": "x" * 10}).status_code
        == 400
    )
    assert login(client, "new@example.com", "my own password").status_code == 200


def test_resending_an_activation_names_a_member_of_this_workspace(client):
    from narrative.identity.service import add_member, create_account

    owner = make_user()
    outsider = make_user()
    theirs = create_account(email="theirs@example.com", status="pending")
    add_member(workspace=workspace_of(outsider), user=theirs, role="member", status="invited")
    ours = create_account(email="ours@example.com", status="pending")
    add_member(workspace=workspace_of(owner), user=ours, role="member", status="invited")
    db.session.commit()
    headers = auth_headers(owner)
    for body, field in (
        ({"user_id": str(theirs.id)}, "user_id"),
        ({"user_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0e"}, "user_id"),
        ({"email": theirs.email}, "email"),
    ):
        refused = client.post("/api/v1/auth/activation/resend", json=body, headers=headers)
        assert refused.status_code == 422
        assert [d["field"] for d in refused.json["details"]] == [field]
    assert db.session.scalar(db.select(EmailMessage).filter_by(to_address=theirs.email)) is None
    sent = client.post("/api/v1/auth/activation/resend", json={"user_id": str(ours.id)}, headers=headers)
    assert sent.status_code == 200
    assert db.session.scalar(db.select(EmailMessage).filter_by(to_address=ours.email)) is not None


def test_impersonation_token_exchanges_once(client):
    admin = make_user(platform_admin=True)
    target = make_user()
    raw = auth_service.create_impersonation_token(
        target=target, workspace=workspace_of(target), created_by=admin
    )
    db.session.commit()
    first = client.post("/api/v1/auth/impersonation/exchange", json={"token": raw})
    assert first.status_code == 200 and first.json["user"]["email"] == target.email
    me = client.get("/api/v1/auth/me", headers=bearer(first.json["access_token"]))
    assert me.json["impersonated_by"] == str(admin.id)
    assert client.post("/api/v1/auth/impersonation/exchange", json={"token": raw}).status_code == 400


def test_clerk_check_unconfigured_and_configured(app, client):
    user = make_user()
    unconfigured = client.post("/api/v1/auth/clerk/check", json={"email": user.email})
    assert unconfigured.status_code == 503 and unconfigured.json["error"] == "provider_not_configured"
    app.config["CLERK_SECRET_KEY"] = "clerk-secret"
    try:
        wrong = client.post(
            "/api/v1/auth/clerk/check", json={"email": user.email}, headers={"X-Clerk-Secret": "no"}
        )
        assert wrong.status_code == 401
        found = client.post(
            "/api/v1/auth/clerk/check",
            json={"email": user.email, "clerk_id": "user_1"},
            headers={"X-Clerk-Secret": "clerk-secret"},
        )
        assert found.json["exists"] is True and found.json["access_token"]
        missing = client.post(
            "/api/v1/auth/clerk/check",
            json={"email": "nobody@x.io"},
            headers={"X-Clerk-Secret": "clerk-secret"},
        )
        assert missing.json == {"exists": False}
    finally:
        app.config.pop("CLERK_SECRET_KEY")


def test_profile_updates_and_permission_over_other_users(client):
    owner = make_user()
    workspace = workspace_of(owner)
    viewer = make_user(role="viewer", workspace=workspace)
    stranger = make_user()
    updated = client.patch(
        "/api/v1/auth/me", json={"name": "Ada", "title": "CTO"}, headers=auth_headers(viewer)
    )
    assert updated.status_code == 200 and updated.json["name"] == "Ada" and updated.json["title"] == "CTO"
    assert (
        client.get(f"/api/v1/auth/{viewer.id}", headers=auth_headers(owner)).json["member"]["role"]
        == "viewer"
    )
    assert client.get(f"/api/v1/auth/{stranger.id}", headers=auth_headers(owner)).status_code == 404
    refused = client.patch(f"/api/v1/auth/{owner.id}", json={"name": "x"}, headers=auth_headers(viewer))
    assert refused.status_code == 403
    promoted = client.patch(f"/api/v1/auth/{viewer.id}", json={"role": "admin"}, headers=auth_headers(owner))
    assert promoted.status_code == 200 and promoted.json["member"]["role"] == "admin"


def test_password_change_needs_the_current_password_and_ends_sessions(client):
    user = make_user()
    headers = auth_headers(user)
    wrong = client.patch(
        "/api/v1/auth/me", json={"current_password": "nope", "new_password": "another one!"}, headers=headers
    )
    assert wrong.status_code == 400
    changed = client.patch(
        "/api/v1/auth/me",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "another one!"},
        headers=headers,
    )
    assert changed.status_code == 200
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_avatar_upload_accepts_images_only(client):
    user = make_user()
    headers = auth_headers(user)
    ok = client.post(
        "/api/v1/auth/me/avatar",
        data={"file": (io.BytesIO(PNG), "me.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200 and ok.json["avatar_url"].startswith("/api/v1/files/")
    # The account's picture is the same everywhere: before sign-in and in another workspace.
    signed_in = login(client, user.email)
    assert signed_in.status_code == 200 and signed_in.json["user"]["avatar_url"].startswith("/api/v1/files/")
    other = make_workspace(owner=user)
    me = client.get("/api/v1/auth/me", headers=auth_headers(user, other))
    assert me.json["workspace_id"] == str(other.id)
    assert me.json["avatar_url"].startswith("/api/v1/files/")
    text = client.post(
        "/api/v1/auth/me/avatar",
        data={"file": (io.BytesIO(b"hello"), "me.png")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert text.status_code == 415
