"""TOTP two-step sign-in: enrollment, login with a second factor, replay, drift, backup codes, disable.

Codes are computed by pyotp, an implementation independent of ours. The clock of
`narrative.identity.mfa` is frozen per test, so a step boundary never falls inside a test.
"""

import base64
import time

import pyotp
import pytest

from narrative.extensions import db
from narrative.identity import mfa
from narrative.identity.models import User
from tests.identity.factories import DEFAULT_PASSWORD, auth_headers, make_api_key, make_user, make_workspace

PROBE_LOGIN = "/_probe/studio-auth/login"
STEP = 30


class Clock:
    def __init__(self):
        # The middle of a step, so "now" and pyotp's "now" are the same step.
        self.now = (int(time.time()) // STEP) * STEP + 15.0

    def __call__(self):
        return self.now

    def advance(self, steps=1):
        self.now += steps * STEP


@pytest.fixture
def clock(monkeypatch):
    frozen = Clock()
    monkeypatch.setattr(mfa, "clock", frozen)
    return frozen


def code_at(secret, clock, steps=0):
    return pyotp.TOTP(secret).at(clock.now + steps * STEP)


def enroll(client, user, clock):
    """Enroll and confirm MFA for `user`; returns (secret, backup codes). Leaves the clock a step on."""
    headers = auth_headers(user)
    enrollment = client.post("/api/v1/mfa/enroll", headers=headers)
    assert enrollment.status_code == 200, enrollment.json
    secret = enrollment.json["secret"]
    confirmed = client.post(
        "/api/v1/mfa/verify-enrollment", json={"code": code_at(secret, clock)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["enabled"] is True
    clock.advance()
    return secret, enrollment.json["backup_codes"]


def password_login(client, user, **extra):
    return client.post(PROBE_LOGIN, json={"email": user.email, "password": DEFAULT_PASSWORD, **extra})


def challenge(client, user):
    response = password_login(client, user)
    assert response.status_code == 403, response.json
    assert response.json["error"] == "mfa_required" and response.json["mfa_required"] is True
    assert "access_token" not in response.json
    return response.json["mfa_token"]


def complete(client, token, code):
    return client.post(PROBE_LOGIN, json={"mfa_token": token, "mfa_code": code})


def test_codes_match_the_rfc_6238_test_vectors():
    # RFC 6238 appendix B (SHA-1 seed "12345678901234567890"), last six of the eight digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert mfa.code_for_step(secret, 59 // STEP) == "287082"
    assert mfa.code_for_step(secret, 1111111109 // STEP) == "081804"
    assert mfa.code_for_step(secret, 2000000000 // STEP) == "279037"


def test_enrollment_returns_secret_uri_and_ten_backup_codes_and_needs_confirmation(client, clock):
    user = make_user()
    headers = auth_headers(user)
    enrollment = client.post("/api/v1/mfa/enroll", headers=headers).json
    parsed = pyotp.parse_uri(enrollment["otpauth_uri"])
    assert parsed.secret == enrollment["secret"] and parsed.issuer == "Narrative"
    assert parsed.name == user.email and parsed.interval == 30 and parsed.digits == 6
    assert len(enrollment["backup_codes"]) == len(set(enrollment["backup_codes"])) == 10
    stored = db.session.get(User, user.id)
    db.session.refresh(stored)
    assert len(stored.mfa_backup_code_hashes) == 10
    assert not set(enrollment["backup_codes"]) & set(stored.mfa_backup_code_hashes)  # hashed
    # Not on until a first code confirms it: the password alone still signs in.
    status = client.get("/api/v1/mfa/status", headers=headers).json
    assert status["enabled"] is False and status["enrollment_pending"] is True
    assert password_login(client, user).status_code == 200
    wrong = client.post("/api/v1/mfa/verify-enrollment", json={"code": "000000"}, headers=headers)
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_mfa_code"


def test_login_needs_the_second_factor_once_enabled(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    status = client.get("/api/v1/mfa/status", headers=auth_headers(user)).json
    assert status["enabled"] is True and status["backup_codes_remaining"] == 10

    token = challenge(client, user)
    done = complete(client, token, code_at(secret, clock))
    assert done.status_code == 200, done.json
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {done.json['access_token']}"})
    assert me.status_code == 200 and me.json["mfa_enabled"] is True
    # The challenge token is single-use.
    clock.advance()
    assert complete(client, token, code_at(secret, clock)).status_code == 400


def test_the_challenge_keeps_the_workspace_asked_for(client, clock):
    user = make_user()
    second = make_workspace(owner=user)
    secret, _ = enroll(client, user, clock)
    response = password_login(client, user, workspace_id=str(second.id))
    assert response.status_code == 403
    done = complete(client, response.json["mfa_token"], code_at(secret, clock))
    assert done.status_code == 200 and done.json["workspace_id"] == str(second.id)
    # An unknown workspace id is no error: the session starts in the default workspace.
    clock.advance()
    unknown = password_login(client, user, workspace_id="6f1b2c3d-0000-4000-8000-000000000000")
    assert complete(client, unknown.json["mfa_token"], code_at(secret, clock)).status_code == 200


def test_the_code_may_come_with_the_password(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    assert password_login(client, user, mfa_code=code_at(secret, clock)).status_code == 200
    clock.advance()
    wrong = password_login(
        client, user, mfa_code="123456" if code_at(secret, clock) != "123456" else "654321"
    )
    assert wrong.status_code == 401 and wrong.json["error"] == "invalid_mfa_code"


def test_a_code_is_never_accepted_twice(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    code = code_at(secret, clock)
    assert complete(client, challenge(client, user), code).status_code == 200
    replay = complete(client, challenge(client, user), code)
    assert replay.status_code == 401 and replay.json["error"] == "invalid_mfa_code"
    # Nor an earlier step's code, though it is still inside the drift window.
    assert complete(client, challenge(client, user), code_at(secret, clock, -1)).status_code == 401
    # The confirmation code of the enrollment was spent too.
    clock.advance()
    assert complete(client, challenge(client, user), code_at(secret, clock)).status_code == 200


def test_one_step_of_drift_is_accepted_and_two_are_refused(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    clock.advance(3)  # well past the enrollment's step
    token = challenge(client, user)
    assert complete(client, token, code_at(secret, clock, -2)).status_code == 401
    assert complete(client, token, code_at(secret, clock, +2)).status_code == 401
    assert complete(client, token, code_at(secret, clock, -1)).status_code == 200
    assert complete(client, challenge(client, user), code_at(secret, clock, +1)).status_code == 200


def test_a_backup_code_works_once(client, clock):
    user = make_user()
    _, backup_codes = enroll(client, user, clock)
    code = backup_codes[3]
    assert complete(client, challenge(client, user), code.upper()).status_code == 200
    again = complete(client, challenge(client, user), code)
    assert again.status_code == 401 and again.json["error"] == "invalid_mfa_code"
    assert complete(client, challenge(client, user), backup_codes[4]).status_code == 200
    status = client.get("/api/v1/mfa/status", headers=auth_headers(user)).json
    assert status["backup_codes_remaining"] == 8


def test_guessing_codes_is_limited_per_user(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    token = challenge(client, user)
    wrong = "000000" if code_at(secret, clock) != "000000" else "111111"
    # Enrollment's confirmation counted as one attempt.
    statuses = [complete(client, token, wrong).status_code for _ in range(9)]
    assert statuses == [401] * 9
    refused = complete(client, token, code_at(secret, clock))
    assert refused.status_code == 429 and refused.json["error"] == "rate_limited"


def test_enrolling_again_while_enabled_is_refused(client, clock):
    user = make_user()
    enroll(client, user, clock)
    again = client.post("/api/v1/mfa/enroll", headers=auth_headers(user))
    assert again.status_code == 409 and again.json["error"] == "mfa_already_enabled"


def test_disable_requires_a_current_code_and_ends_other_sessions(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    headers = auth_headers(user)
    other_device = auth_headers(user)
    missing = client.post("/api/v1/mfa/disable", json={}, headers=headers)
    assert missing.status_code == 422
    wrong = client.post("/api/v1/mfa/disable", json={"code": "12345"}, headers=headers)
    assert wrong.status_code == 400 and wrong.json["error"] == "invalid_mfa_code"
    done = client.post("/api/v1/mfa/disable", json={"code": code_at(secret, clock)}, headers=headers)
    assert done.status_code == 200, done.json
    assert done.json["enabled"] is False
    assert client.get("/api/v1/auth/me", headers=other_device).status_code == 401
    fresh = {"Authorization": f"Bearer {done.json['access_token']}"}
    status = client.get("/api/v1/mfa/status", headers=fresh)
    assert status.status_code == 200 and status.json["enabled"] is False
    # The password alone signs in again.
    assert password_login(client, user).status_code == 200


def test_disable_is_rate_limited(client, clock):
    user = make_user()
    enroll(client, user, clock)
    headers = auth_headers(user)
    statuses = [
        client.post("/api/v1/mfa/disable", json={"code": "99999"}, headers=headers).status_code
        for _ in range(6)
    ]
    assert statuses == [400] * 5 + [429]


def test_api_keys_cannot_manage_mfa(client):
    user = make_user()
    key = make_api_key(user, scopes=["*"])
    refused = client.post("/api/v1/mfa/enroll", headers={"Authorization": f"Bearer {key}"})
    assert refused.status_code == 403 and refused.json["error"] == "user_session_required"


def test_the_core_login_asks_for_the_second_factor(client, clock):
    user = make_user()
    secret, _ = enroll(client, user, clock)
    response = client.post("/api/v1/auth/login", json={"email": user.email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 403 and response.json["mfa_required"] is True
    done = client.post(
        "/api/v1/auth/login",
        json={"mfa_token": response.json["mfa_token"], "mfa_code": code_at(secret, clock)},
    )
    assert done.status_code == 200 and done.json["access_token"]
