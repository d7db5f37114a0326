"""The studio family's auth endpoints: status, Supabase sign-in, password change, public previews."""

import time
from urllib.parse import parse_qs, urlsplit

import jwt as pyjwt
import pytest

from narrative.extensions import db
from narrative.identity.public_previews import ASSET, SCREENSHOT, preview_url
from narrative.platform.storage import store_file
from tests.identity.factories import DEFAULT_PASSWORD, auth_headers, make_user, workspace_of

SUPABASE_URL = "https://project-ref.supabase.co"
SUPABASE_SECRET = "super-secret-jwt-token-with-at-least-32-characters"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def supabase_configured(app, monkeypatch):
    monkeypatch.setitem(app.config, "SUPABASE_URL", SUPABASE_URL)
    monkeypatch.setitem(app.config, "SUPABASE_ANON_KEY", "anon-public-key")
    monkeypatch.setitem(app.config, "SUPABASE_JWT_SECRET", SUPABASE_SECRET)


def supabase_token(email, *, secret=SUPABASE_SECRET, audience="authenticated", expires_in=3600, **claims):
    now = int(time.time())
    payload = {
        "sub": "1f0c6b1e-2d1c-4e55-9c55-0a4a2f9d7e11",
        "aud": audience,
        "iss": f"{SUPABASE_URL}/auth/v1",
        "iat": now,
        "exp": now + expires_in,
        "email": email,
        "role": "authenticated",
        "app_metadata": {"provider": "google"},
        **claims,
    }
    return pyjwt.encode(payload, secret, algorithm="HS256")


def test_auth_status_is_public_and_says_auth_is_on(client, supabase_configured):
    response = client.get("/api/v1/auth/status")
    assert response.status_code == 200
    assert response.json["auth_enabled"] is True
    assert response.json["providers"] == ["password", "supabase"]


def test_supabase_config_reports_when_unconfigured(client):
    response = client.get("/api/v1/auth/supabase-config")
    assert response.status_code == 200
    assert response.json["configured"] is False and response.json["url"] is None
    assert client.get("/api/v1/auth/status").json["providers"] == ["password"]


def test_supabase_config_returns_the_public_url_and_anon_key(client, supabase_configured):
    body = client.get("/api/v1/auth/supabase-config").json
    assert body == {
        "configured": True,
        "url": SUPABASE_URL,
        "anon_key": "anon-public-key",
        "exchange_enabled": True,
    }
    assert SUPABASE_SECRET not in str(body)


def test_supabase_exchange_unconfigured_is_503_naming_the_settings(client):
    response = client.post("/api/v1/auth/supabase-exchange", json={"access_token": "x.y.z"})
    assert response.status_code == 503
    assert response.json["error"] == "provider_not_configured"
    assert "SUPABASE_JWT_SECRET" in response.json["message"]


def test_supabase_exchange_signs_in_the_matching_account(client, supabase_configured):
    user = make_user()
    response = client.post(
        "/api/v1/auth/supabase-exchange", json={"access_token": supabase_token(user.email.upper())}
    )
    assert response.status_code == 200, response.json
    assert response.json["user"]["email"] == user.email
    assert response.json["workspace_id"] == str(workspace_of(user).id)
    me = client.get("/api/v1/auth/me", headers=bearer(response.json["access_token"]))
    assert me.status_code == 200 and me.json["email"] == user.email


@pytest.mark.parametrize(
    ("token_kwargs", "error"),
    [
        ({"secret": "another-secret-another-secret-another"}, "invalid_token"),
        ({"audience": "anon"}, "invalid_token"),
        ({"expires_in": -600}, "token_expired"),
        ({"iss": "https://evil.example.com/auth/v1"}, "invalid_token"),
    ],
)
def test_supabase_exchange_refuses_tokens_it_cannot_trust(client, supabase_configured, token_kwargs, error):
    user = make_user()
    token = supabase_token(user.email, **token_kwargs)
    response = client.post("/api/v1/auth/supabase-exchange", json={"access_token": token})
    assert response.status_code == 401 and response.json["error"] == error


def test_supabase_exchange_does_not_create_accounts(client, supabase_configured):
    token = supabase_token("stranger@example.com")
    response = client.post("/api/v1/auth/supabase-exchange", json={"token": token})
    assert response.status_code == 403 and response.json["error"] == "account_not_found"


def test_change_password_needs_the_current_one_and_ends_other_sessions(client):
    user = make_user()
    headers = auth_headers(user)
    other_device = auth_headers(user)
    wrong = client.put(
        "/api/v1/auth/change-password",
        json={"current_password": "not it", "new_password": "a new long password"},
        headers=headers,
    )
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_password"
    weak = client.put(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=headers,
    )
    assert weak.status_code == 422
    done = client.put(
        "/api/v1/auth/change-password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "a new long password"},
        headers=headers,
    )
    assert done.status_code == 200, done.json
    assert client.get("/api/v1/auth/me", headers=other_device).status_code == 401
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bearer(done.json["access_token"])).status_code == 200
    # The new session's refresh token works; the old password no longer signs in.
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": done.json["refresh_token"]})
    assert refreshed.status_code == 200
    old = client.post("/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert old.status_code == 401
    new = client.post("/api/v1/auth/login", json={"email": user.email, "password": "a new long password"})
    assert new.status_code == 200


def _stored(user, purpose):
    stored = store_file(workspace_id=workspace_of(user).id, data=PNG, filename="hero.png", purpose=purpose)
    db.session.commit()
    return stored


def test_assets_and_screenshots_are_served_inline_to_link_holders(client):
    user = make_user()
    asset_link = preview_url(_stored(user, ASSET))
    screenshot_link = preview_url(_stored(user, SCREENSHOT))
    assert asset_link.startswith("/api/v1/assets?") and screenshot_link.startswith("/api/v1/screenshots?")
    for link in (asset_link, screenshot_link):
        response = client.get(link)
        assert response.status_code == 200 and response.data == PNG
        assert response.mimetype == "image/png"
        assert response.headers["Content-Disposition"] == "inline"
        assert "sandbox" in response.headers["Content-Security-Policy"]


def test_previews_refuse_bad_links(client):
    user = make_user()
    stored = _stored(user, ASSET)
    link = preview_url(stored)
    params = {key: values[0] for key, values in parse_qs(urlsplit(link).query).items()}
    tampered = client.get(
        "/api/v1/assets",
        query_string={**params, "sig": ("B" if params["sig"][0] == "A" else "A") + params["sig"][1:]},
    )
    assert tampered.status_code == 403
    # An asset link is not a screenshot link.
    assert client.get("/api/v1/screenshots", query_string=params).status_code == 404
    expired = client.get("/api/v1/assets", query_string={**params, "exp": str(int(time.time()) - 10)})
    assert expired.status_code == 403  # the expiry is signed: editing it breaks the signature
    assert client.get("/api/v1/assets").status_code == 422
