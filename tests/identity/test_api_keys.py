"""API keys over HTTP: shown once, authenticate, scopes, toggle, revoke, rotate, paging, isolation."""

import uuid

from narrative.extensions import db
from narrative.identity.models import ApiKey
from narrative.platform.crypto import hash_secret
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of

TEAMS_PROBE = "/_probe/identity/teams"


def bearer(raw):
    return {"Authorization": f"Bearer {raw}"}


def create(client, user, **body):
    response = client.post("/api/v1/api-keys", json={"name": "CI", **body}, headers=auth_headers(user))
    assert response.status_code == 201, response.json
    return response.json


def test_the_raw_key_is_shown_once_and_only_its_hash_is_stored(client):
    owner = make_user()
    created = create(client, owner, description="deploys", scopes=["teams.read"])
    raw = created["key"]
    assert raw.startswith("sk_") and created["prefix"] == raw[: len(created["prefix"])]
    assert created["scopes"] == ["teams.read"] and created["status"] == "active"

    row = db.session.get(ApiKey, uuid.UUID(created["id"]))
    assert row.key_hash == hash_secret(raw) and raw not in (row.key_hash, row.prefix)

    shown = client.get(f"/api/v1/api-keys/{created['id']}", headers=auth_headers(owner)).json
    listed = client.get("/api/v1/api-keys", headers=auth_headers(owner)).json["items"]
    assert "key" not in shown and all("key" not in item for item in listed)
    assert raw not in str(shown) + str(listed)


def test_a_key_authenticates_until_revoked_and_records_its_use(client):
    owner = make_user()
    created = create(client, owner, scopes=["teams.read"])
    assert client.get(TEAMS_PROBE, headers=bearer(created["key"])).status_code == 200
    assert client.get(TEAMS_PROBE, headers={"X-API-Key": created["key"]}).status_code == 200
    used = client.get(f"/api/v1/api-keys/{created['id']}", headers=auth_headers(owner)).json
    assert used["last_used_at"] is not None

    revoked = client.post(f"/api/v1/api-keys/{created['id']}/revoke", headers=auth_headers(owner))
    assert (
        revoked.status_code == 200
        and revoked.json["is_revoked"] is True
        and revoked.json["status"] == "revoked"
    )
    refused = client.get(TEAMS_PROBE, headers=bearer(created["key"]))
    assert refused.status_code == 401 and refused.json["error"] == "invalid_api_key"
    # Revoked for good: neither toggle nor update brings it back.
    assert (
        client.post(f"/api/v1/api-keys/{created['id']}/toggle", headers=auth_headers(owner)).status_code
        == 409
    )
    again = client.patch(
        f"/api/v1/api-keys/{created['id']}", json={"is_active": True}, headers=auth_headers(owner)
    )
    assert again.status_code == 409


def test_rotation_stops_the_old_key_at_once_and_the_new_one_works(client):
    owner = make_user()
    old = create(client, owner, scopes=["teams.read"], description="bot")
    rotated = client.post(f"/api/v1/api-keys/{old['id']}/rotate", headers=auth_headers(owner))
    assert rotated.status_code == 200
    new = rotated.json
    assert new["key"] != old["key"] and new["rotated_from_id"] == old["id"]
    assert (new["name"], new["description"], new["scopes"]) == ("CI", "bot", ["teams.read"])
    assert client.get(TEAMS_PROBE, headers=bearer(old["key"])).status_code == 401
    assert client.get(TEAMS_PROBE, headers=bearer(new["key"])).status_code == 200


def test_a_key_with_limited_scopes_is_refused_outside_them(client):
    owner = make_user()
    created = create(client, owner, scopes=["teams.read"])
    refused = client.get("/api/v1/api-keys", headers=bearer(created["key"]))
    assert refused.status_code == 403 and refused.json["required_permission"] == "api_keys.read"
    assert client.get(TEAMS_PROBE, headers=bearer(created["key"])).status_code == 200


def test_scopes_are_checked_against_the_catalog(client):
    owner = make_user()
    for scope in ("teams.fly", "nosuchmodule.*"):
        response = client.post(
            "/api/v1/api-keys", json={"name": "x", "scopes": [scope]}, headers=auth_headers(owner)
        )
        assert response.status_code == 422 and response.json["details"][0]["field"] == "scopes"
    for scopes in (["*"], ["teams.*"], ["members.read", "teams.read"]):
        assert create(client, owner, scopes=scopes)["scopes"] == sorted(scopes)
    missing_name = client.post("/api/v1/api-keys", json={}, headers=auth_headers(owner))
    assert missing_name.status_code == 422 and missing_name.json["details"][0]["field"] == "name"


def test_narrowapi_manages_keys_with_an_sk_key_and_cannot_mint_broader_ones(client):
    owner = make_user()
    manager = make_api_key(owner, scopes=["api_keys.*", "teams.read"])
    made = client.post(
        "/api/v1/api-keys", json={"name": "child", "scopes": ["teams.read"]}, headers=bearer(manager)
    )
    assert made.status_code == 201 and made.json["key"].startswith("sk_")
    broader = client.post("/api/v1/api-keys", json={"name": "root", "scopes": ["*"]}, headers=bearer(manager))
    assert broader.status_code == 403
    deleted = client.delete(f"/api/v1/api-keys/{made.json['id']}", headers=bearer(manager))
    assert deleted.status_code == 204
    assert client.get(TEAMS_PROBE, headers=bearer(made.json["key"])).status_code == 401
    assert db.session.get(ApiKey, uuid.UUID(made.json["id"])) is None


def test_the_shared_list_pages_by_cursor_and_by_skip(client):
    owner = make_user()
    ids = [create(client, owner, name=f"key {n}")["id"] for n in range(5)]
    newest_first = list(reversed(ids))
    headers = auth_headers(owner)

    first = client.get("/api/v1/api-keys?limit=2", headers=headers).json
    assert [k["id"] for k in first["items"]] == newest_first[:2]
    assert first["total"] == 5 and first["has_more"] is True and first["next_cursor"]
    second = client.get(f"/api/v1/api-keys?limit=2&cursor={first['next_cursor']}", headers=headers).json
    third = client.get(f"/api/v1/api-keys?limit=2&cursor={second['next_cursor']}", headers=headers).json
    assert [k["id"] for k in second["items"] + third["items"]] == newest_first[2:]
    assert third["next_cursor"] is None and third["has_more"] is False

    skipped = client.get("/api/v1/api-keys?skip=3&limit=10", headers=headers).json
    assert [k["id"] for k in skipped["items"]] == newest_first[3:]
    assert skipped["skip"] == 3 and skipped["total"] == 5 and skipped["has_more"] is False

    bad = client.get("/api/v1/api-keys?cursor=garbage", headers=headers)
    assert bad.status_code == 422 and bad.json["details"][0]["field"] == "cursor"


def test_filters_count_toggle_and_update(client):
    owner = make_user()
    headers = auth_headers(owner)
    first, second, third = (create(client, owner, name=f"k{n}") for n in range(3))
    client.post(f"/api/v1/api-keys/{first['id']}/toggle", headers=headers)
    client.post(f"/api/v1/api-keys/{second['id']}/revoke", headers=headers)

    def count(query=""):
        return client.get(f"/api/v1/api-keys/count{query}", headers=headers).json["count"]

    assert count() == 3 and count("?is_revoked=true") == 1 and count("?is_active=true") == 1
    active = client.get("/api/v1/api-keys?is_active=true&is_revoked=false", headers=headers).json
    assert [k["id"] for k in active["items"]] == [third["id"]]

    assert client.get(TEAMS_PROBE, headers=bearer(first["key"])).status_code == 401
    enabled = client.post(f"/api/v1/api-keys/{first['id']}/toggle", headers=headers).json
    assert enabled["is_active"] is True
    assert client.get(TEAMS_PROBE, headers=bearer(first["key"])).status_code == 200

    updated = client.patch(
        f"/api/v1/api-keys/{third['id']}",
        json={"name": "renamed", "scopes": ["members.read"]},
        headers=headers,
    ).json
    assert updated["name"] == "renamed" and updated["scopes"] == ["members.read"]
    assert client.get(TEAMS_PROBE, headers=bearer(third["key"])).status_code == 403


def test_members_cannot_manage_the_workspaces_keys(client):
    owner = make_user()
    member = make_user(role="member", workspace=workspace_of(owner))
    assert client.get("/api/v1/api-keys", headers=auth_headers(member)).status_code == 403
    response = client.post("/api/v1/api-keys", json={"name": "x"}, headers=auth_headers(member))
    assert response.status_code == 403 and response.json["required_permission"] == "api_keys.manage"


def test_another_workspaces_key_is_404(client):
    owner = make_user()
    stranger = make_user()
    created = create(client, owner)
    headers = auth_headers(stranger)
    for method, suffix in (
        ("get", ""),
        ("patch", ""),
        ("delete", ""),
        ("post", "/revoke"),
        ("post", "/rotate"),
        ("post", "/toggle"),
    ):
        kwargs = {"json": {"name": "x"}} if method == "patch" else {}
        response = getattr(client, method)(
            f"/api/v1/api-keys/{created['id']}{suffix}", headers=headers, **kwargs
        )
        assert response.status_code == 404, (method, suffix)
    assert client.delete(f"/api/api-keys/{created['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/api-keys/not-a-uuid", headers=auth_headers(owner)).status_code == 404
    assert client.get(TEAMS_PROBE, headers=bearer(created["key"])).status_code == 200


def test_assistant_my_keys_are_the_callers_own(client):
    owner = make_user()
    member = make_user(role="member", workspace=workspace_of(owner))
    owners_key = create(client, owner)
    made = client.post(
        "/api/api-keys", json={"name": "laptop", "scopes": ["teams.read"]}, headers=auth_headers(member)
    )
    assert made.status_code == 201 and made.json["key"].startswith("sk_")
    mine = client.get("/api/api-keys", headers=auth_headers(member)).json
    assert [k["id"] for k in mine["items"]] == [made.json["id"]] and "next_cursor" in mine
    assert all("key" not in k for k in mine["items"])
    assert client.get(TEAMS_PROBE, headers=bearer(made.json["key"])).status_code == 200

    # Someone else's key in the same workspace is not "mine".
    assert client.delete(f"/api/api-keys/{owners_key['id']}", headers=auth_headers(member)).status_code == 404
    revoked = client.delete(f"/api/api-keys/{made.json['id']}", headers=auth_headers(member))
    assert revoked.status_code == 200 and revoked.json["status"] == "revoked"
    assert client.get(TEAMS_PROBE, headers=bearer(made.json["key"])).status_code == 401


def test_viewers_cannot_create_keys_through_the_assistant(client):
    owner = make_user()
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    response = client.post("/api/api-keys", json={"name": "x"}, headers=auth_headers(viewer))
    assert response.status_code == 403 and response.json["required_permission"] == "api_keys.own"
