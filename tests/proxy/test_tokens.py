"""Execution tokens: shown once, hashed, bound to one action, revoked and rotated at once."""

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.crypto import hash_secret
from narrative.proxy.models import ExecutionToken
from tests.identity.factories import auth_headers, make_user
from tests.proxy.conftest import call, issue_token, make_action


def test_token_is_shown_once_and_stored_hashed(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    issued = issue_token(auth_client, action["id"], label="partner")
    raw = issued["token"]
    assert raw.startswith("sxt_") and issued["prefix"] == raw[:10] and issued["status"] == "active"
    row = db.session.get(ExecutionToken, __import__("uuid").UUID(issued["id"]))
    assert row.token_hash == hash_secret(raw) and raw not in row.token_hash
    fetched = auth_client.get(f"/api/v1/tokens/{issued['id']}").get_json()
    assert "token" not in fetched and fetched["label"] == "partner"
    listed = auth_client.get("/api/v1/tokens", query_string={"action_id": action["id"]}).get_json()
    assert [t["id"] for t in listed["items"]] == [issued["id"]]
    assert raw not in auth_client.get("/api/v1/tokens").get_data(as_text=True)
    assert call(auth_client, action["id"], raw, json={}).status_code == 200


def test_revoked_token_fails_at_once(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    raw = issue_token(auth_client, action["id"])["token"]
    token_id = auth_client.get("/api/v1/tokens").get_json()["items"][0]["id"]
    assert call(auth_client, action["id"], raw, json={}).status_code == 200  # the grant is now cached
    assert auth_client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    refused = call(auth_client, action["id"], raw, json={})
    assert refused.status_code == 401 and refused.get_json()["error"] == "unauthorized"
    assert auth_client.get(f"/api/v1/tokens/{token_id}").get_json()["status"] == "revoked"


def test_rotated_away_token_fails_and_the_new_one_works(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    old = issue_token(auth_client, action["id"], label="ci")
    assert call(auth_client, action["id"], old["token"], json={}).status_code == 200
    rotated = auth_client.post(f"/api/v1/actions/{action['id']}/rotate-token")
    assert rotated.status_code == 201
    new = rotated.get_json()
    assert new["revoked_token_ids"] == [old["id"]] and new["rotated_from_id"] == old["id"]
    assert new["label"] == "ci" and new["token"] != old["token"]
    assert call(auth_client, action["id"], old["token"], json={}).status_code == 401
    assert call(auth_client, action["id"], new["token"], json={}).status_code == 200


def test_token_of_action_a_cannot_call_action_b(auth_client, upstream):
    a = make_action(auth_client, name="A", target_url=f"{upstream.base}/echo")
    b = make_action(auth_client, name="B", target_url=f"{upstream.base}/echo")
    token_a = issue_token(auth_client, a["id"])["token"]
    wrong = call(auth_client, b["id"], token_a, json={})
    missing = call(auth_client, "01a20000-0000-7000-8000-000000000000", token_a, json={})
    garbage = call(auth_client, a["id"], "sxt_not-a-token", json={})
    none = auth_client.post(f"/x/{a['id']}", json={}, headers={"Authorization": ""})
    bodies = [r.get_json() for r in (wrong, missing, garbage, none)]
    assert {r.status_code for r in (wrong, missing, garbage, none)} == {401}
    # The same answer whether the action exists or not: nothing leaks.
    assert {(b["error"], b["message"]) for b in bodies[:3]} == {("unauthorized", bodies[0]["message"])}


def test_expired_token_fails(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    issued = issue_token(
        auth_client, action["id"], expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    )
    row = db.session.get(ExecutionToken, __import__("uuid").UUID(issued["id"]))
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    db.session.commit()
    assert call(auth_client, action["id"], issued["token"], json={}).status_code == 401
    past = auth_client.post(
        "/api/v1/tokens", json={"action_id": action["id"], "expires_at": "2001-01-01T00:00:00Z"}
    )
    assert past.status_code == 422 and past.get_json()["details"][0]["field"] == "expires_at"


def test_execution_token_is_not_a_management_credential(auth_client, client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    raw = issue_token(auth_client, action["id"])["token"]
    response = client.get("/api/v1/actions", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 401


def test_tokens_of_another_workspace_are_404(auth_client, client):
    action = make_action(auth_client)
    issued = issue_token(auth_client, action["id"])
    headers = auth_headers(make_user())
    assert client.get(f"/api/v1/tokens/{issued['id']}", headers=headers).status_code == 404
    assert client.delete(f"/api/v1/tokens/{issued['id']}", headers=headers).status_code == 404
    # An action named in the payload is a reference: 422 naming the field, like an unknown id.
    stolen = client.post("/api/v1/tokens", headers=headers, json={"action_id": action["id"]})
    assert stolen.status_code == 422 and stolen.get_json()["details"][0]["field"] == "action_id"
    assert client.post(f"/api/v1/actions/{action['id']}/rotate-token", headers=headers).status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExecutionToken)) == 1


def test_a_token_for_an_unknown_or_deleted_action_is_422(auth_client):
    random = auth_client.post("/api/v1/tokens", json={"action_id": str(uuid.uuid4())})
    assert random.status_code == 422 and random.get_json()["details"][0]["field"] == "action_id"
    action = make_action(auth_client)
    assert auth_client.delete(f"/api/v1/actions/{action['id']}").status_code == 204
    deleted = auth_client.post("/api/v1/tokens", json={"action_id": action["id"]})
    assert deleted.status_code == 422 and deleted.get_json()["details"][0]["field"] == "action_id"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ExecutionToken)) == 0


def test_rotating_a_token_of_another_action_or_workspace_is_422(auth_client, client):
    a = make_action(auth_client, name="A")
    b = make_action(auth_client, name="B")
    token_b = issue_token(auth_client, b["id"])
    other_headers = auth_headers(make_user())
    other_action = client.post(
        "/api/v1/actions",
        headers=other_headers,
        json={"name": "X", "target_url": "https://api.example.com/x"},
    ).get_json()
    foreign = client.post("/api/v1/tokens", headers=other_headers, json={"action_id": other_action["id"]})
    for token_id in (token_b["id"], foreign.get_json()["id"], str(uuid.uuid4())):
        response = auth_client.post(f"/api/v1/actions/{a['id']}/rotate-token", json={"token_id": token_id})
        assert response.status_code == 422 and response.get_json()["details"][0]["field"] == "token_id"
    assert db.session.get(ExecutionToken, uuid.UUID(token_b["id"])).revoked_at is None


def test_deleting_the_action_revokes_its_tokens(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo")
    raw = issue_token(auth_client, action["id"])["token"]
    assert call(auth_client, action["id"], raw, json={}).status_code == 200
    auth_client.delete(f"/api/v1/actions/{action['id']}")
    assert call(auth_client, action["id"], raw, json={}).status_code == 401
