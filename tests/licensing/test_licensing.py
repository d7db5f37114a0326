"""Licence keys: verification (Ed25519 and RSA), applying, reverting, and the tier gates."""

import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from narrative.extensions import db
from narrative.licensing import service
from narrative.platform.tenancy import workspace_scope
from tests.identity.factories import auth_headers, make_user, workspace_of

AUDIENCE = "narrative-assistant"


def _public_pem(private_key):
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
def vendor(app, monkeypatch, ed_key):
    """The vendor's key pair, with its public key configured on the app."""
    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", _public_pem(ed_key))
    return ed_key


def sign(private_key, *, algorithm="EdDSA", **overrides):
    now = int(time.time())
    claims = {
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "jti": f"lic_{now}_{id(overrides)}",
        "sub": "Acme Ltd",
        "tier": "pro",
        **overrides,
    }
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, private_key, algorithm=algorithm)


def apply(client, owner, token):
    return client.post("/api/license/apply", json={"license_key": token}, headers=auth_headers(owner))


def status(client, owner):
    return client.get("/api/license/status", headers=auth_headers(owner)).get_json()


def test_community_by_default(client):
    owner = make_user()
    body = status(client, owner)
    assert body["tier"] == "community"
    assert "automations" not in body["features"] and "chat" in body["features"]
    assert body["limits"]["users"] == service.TIERS["community"].limits["users"]
    assert body["license"] is None


def test_unconfigured_public_key_is_503_naming_the_setting(client, app, monkeypatch, ed_key):
    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", None)
    owner = make_user()
    response = apply(client, owner, sign(ed_key))
    assert response.status_code == 503
    assert response.get_json()["error"] == "provider_not_configured"
    assert "LICENSE_PUBLIC_KEY" in response.get_json()["message"]


def test_good_licence_raises_the_tier_and_revert_goes_back(client, vendor):
    owner = make_user()
    response = apply(client, owner, sign(vendor, tier="pro", limits={"users": 500}, features=["beta_x"]))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["tier"] == "pro"
    assert {"automations", "webpages", "skills", "meeting_notes", "ticket_assistant", "beta_x"} <= set(
        body["features"]
    )
    assert "sso" not in body["features"]
    assert body["limits"]["users"] == 500
    assert body["license"]["licensee"] == "Acme Ltd"
    assert status(client, owner)["tier"] == "pro"

    reverted = client.delete("/api/license", headers=auth_headers(owner))
    assert reverted.status_code == 200
    assert reverted.get_json()["tier"] == "community"
    assert status(client, owner)["license"] is None


def test_tampered_licence_is_422(client, vendor):
    owner = make_user()
    token = sign(vendor, tier="pro")
    header, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(
        jwt.utils.base64url_decode(payload).replace(b'"pro"', b'"enterprise"')
    ).decode()
    response = apply(client, owner, f"{header}.{forged}.{signature}")
    assert response.status_code == 422
    assert response.get_json()["error"] == "invalid_license"
    assert response.get_json()["reason"] == "signature"
    assert status(client, owner)["tier"] == "community"


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "expired"),
        ({"aud": "another-product"}, "audience"),
        ({"tier": "platinum"}, "tier"),
        ({"tier": None}, "malformed"),
    ],
)
def test_invalid_claims_are_422(client, vendor, overrides, reason):
    owner = make_user()
    response = apply(client, owner, sign(vendor, **overrides))
    assert response.status_code == 422
    assert response.get_json()["reason"] == reason


def test_key_of_another_vendor_and_garbage_are_refused(client, vendor):
    owner = make_user()
    stranger = ed25519.Ed25519PrivateKey.generate()
    assert apply(client, owner, sign(stranger)).get_json()["reason"] == "signature"
    # The algorithm follows the configured key: an HMAC token is refused outright.
    assert (
        apply(
            client, owner, sign("a shared secret of at least thirty-two bytes", algorithm="HS256")
        ).get_json()["reason"]
        == "signature"
    )
    assert apply(client, owner, "not-a-jwt").get_json()["reason"] == "malformed"


def test_rsa_public_key_verifies_rs256_licences(client, app, monkeypatch):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    monkeypatch.setitem(app.config, "LICENSE_PUBLIC_KEY", _public_pem(private).replace("\n", "\\n"))
    owner = make_user()
    response = apply(client, owner, sign(private, algorithm="RS256", tier="enterprise"))
    assert response.status_code == 200, response.get_json()
    assert {"audit", "compliance", "sso"} <= set(response.get_json()["features"])


def test_licence_bound_to_another_organisation_or_in_use_elsewhere(client, vendor):
    owner, other = make_user(), make_user()
    bound = sign(vendor, workspace_id=str(workspace_of(other).id))
    assert apply(client, owner, bound).get_json()["reason"] == "workspace"
    shared = sign(vendor, jti="lic_shared")
    assert apply(client, owner, shared).status_code == 200
    response = apply(client, other, shared)
    assert response.status_code == 409
    assert status(client, owner)["tier"] == "pro" and status(client, other)["tier"] == "community"
    # Once the first organisation reverts, the licence number is free for another one.
    assert client.delete("/api/license", headers=auth_headers(owner)).status_code == 200
    assert apply(client, other, shared).status_code == 200
    assert status(client, owner)["tier"] == "community" and status(client, other)["tier"] == "pro"


def test_the_vendors_revocation_reaches_every_organisation(client, vendor):
    owner = make_user()
    assert apply(client, owner, sign(vendor, jti="lic_revoked", tier="enterprise")).status_code == 200
    # Whatever workspace is in scope where the revocation arrives, it retires the licence everywhere.
    with workspace_scope(uuid.uuid4()):
        assert service.revoke_license(license_id="lic_revoked") == 1
    db.session.commit()
    assert status(client, owner)["tier"] == "community"


def test_anonymous_health_reports_the_installations_highest_tier(client, vendor):
    assert client.get("/api/health").get_json()["tier"] == "community"
    assert apply(client, make_user(), sign(vendor, tier="enterprise")).status_code == 200
    assert apply(client, make_user(), sign(vendor, tier="pro")).status_code == 200
    assert client.get("/api/health").get_json()["tier"] == "enterprise"


def test_only_admins_apply_and_revert(client, vendor):
    owner = make_user()
    member = make_user(role="member", workspace=workspace_of(owner))
    assert status(client, member)["tier"] == "community"
    assert apply(client, member, sign(vendor)).status_code == 403
    assert client.delete("/api/license", headers=auth_headers(member)).status_code == 403


def test_require_tier_refuses_on_community_and_allows_after_a_licence(client, vendor):
    owner = make_user()
    refused = client.get("/_probe/licensing/pro", headers=auth_headers(owner))
    assert refused.status_code == 403
    body = refused.get_json()
    assert body["error"] == "license_required"
    assert body["required_tier"] == "pro" and body["tier"] == "community"
    assert "Pro" in body["message"]

    assert apply(client, owner, sign(vendor, tier="pro")).status_code == 200
    assert client.get("/_probe/licensing/pro", headers=auth_headers(owner)).status_code == 200
    feature = client.get("/_probe/licensing/audit", headers=auth_headers(owner))
    assert feature.status_code == 403
    assert feature.get_json()["required_tier"] == "enterprise"


def test_expired_licence_stops_counting_and_health_reports_the_tier(client, app, vendor):
    owner = make_user()
    assert apply(client, owner, sign(vendor, tier="pro")).status_code == 200
    health = client.get("/api/health", headers=auth_headers(owner)).get_json()
    assert health["tier"] == "pro"

    from narrative.extensions import db
    from narrative.licensing.models import License
    from narrative.platform.models import utcnow

    row = db.session.scalar(db.select(License))
    row.expires_at = utcnow()
    db.session.commit()
    assert service.current_tier(workspace_of(owner).id) == "community"
    assert client.get("/api/health").get_json()["tier"] == "community"


def test_seat_limit_of_the_tier_applies_to_invitations(client, vendor, monkeypatch):
    owner = make_user()
    monkeypatch.setitem(service.TIERS["community"].limits, "users", 1)
    response = client.post("/api/users", json={"email": "new@example.com"}, headers=auth_headers(owner))
    assert response.status_code == 403
    assert response.get_json()["error"] == "license_limit_reached"
    assert apply(client, owner, sign(vendor, tier="pro")).status_code == 200
    assert (
        client.post("/api/users", json={"email": "new@example.com"}, headers=auth_headers(owner)).status_code
        == 201
    )
