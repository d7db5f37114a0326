"""Actions over the management API: validation, secrets at rest, plan limit, tenancy, pagination."""

import pytest

from narrative.extensions import db
from narrative.platform import outbound
from narrative.proxy.models import Action, Plan
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of
from tests.proxy.conftest import UPSTREAM_SECRET, make_action


def test_create_get_update_delete(auth_client):
    created = make_action(
        auth_client,
        name="Send SMS",
        target_url="https://api.example.com/sms",
        headers={"Authorization": f"Bearer {UPSTREAM_SECRET}"},
        rate_limit_rph=500,
    )
    assert (
        created["method"] == "POST" and created["rate_limit_rpm"] == 60 and created["rate_limit_rph"] == 500
    )
    assert created["is_active"] is True and created["proxy_url"].endswith(f"/x/{created['id']}")
    assert created["headers"] == {"Authorization": "****6789"}

    fetched = auth_client.get(f"/api/v1/actions/{created['id']}").get_json()
    assert fetched["name"] == "Send SMS"

    updated = auth_client.patch(
        f"/api/v1/actions/{created['id']}",
        json={"rate_limit_rpm": 10, "method": "put", "rate_limit_rph": None},
    )
    assert updated.status_code == 200
    assert updated.get_json()["rate_limit_rpm"] == 10 and updated.get_json()["method"] == "PUT"
    assert updated.get_json()["rate_limit_rph"] is None

    assert auth_client.delete(f"/api/v1/actions/{created['id']}").status_code == 204
    assert auth_client.get(f"/api/v1/actions/{created['id']}").status_code == 404
    assert auth_client.get("/api/v1/actions").get_json()["items"] == []
    # Soft delete: the row and its (empty) executions log stay.
    assert db.session.get(Action, __import__("uuid").UUID(created["id"])).deleted_at is not None
    assert auth_client.get(f"/api/v1/actions/{created['id']}/executions").status_code == 200


def test_validation_errors_use_the_seed_format(auth_client):
    response = auth_client.post("/api/v1/actions", json={"target_url": "ftp://example.com/x"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "validation_failed" and body["message"]
    details = {d["field"]: d["message"] for d in body["details"]}
    assert details == {"name": "is required", "target_url": "must be a valid HTTPS URL"}


def test_headers_are_encrypted_at_rest_and_never_returned(auth_client):
    created = make_action(auth_client, headers={"X-Api-Key": UPSTREAM_SECRET})
    row = db.session.get(Action, __import__("uuid").UUID(created["id"]))
    assert UPSTREAM_SECRET not in (row.headers_encrypted or "")
    for url in ("/api/v1/actions", f"/api/v1/actions/{created['id']}"):
        assert UPSTREAM_SECRET not in auth_client.get(url).get_data(as_text=True)
    # Echoing the masked preview back keeps the secret; null removes a header.
    auth_client.patch(f"/api/v1/actions/{created['id']}", json={"headers": {"X-Api-Key": "****6789"}})
    from narrative.proxy.service import decrypt_headers

    db.session.refresh(row)
    assert decrypt_headers(row.headers_encrypted) == {"X-Api-Key": UPSTREAM_SECRET}
    response = auth_client.patch(f"/api/v1/actions/{created['id']}", json={"headers": {"X-Api-Key": None}})
    assert response.get_json()["headers"] == {}


def test_reserved_headers_are_refused(auth_client):
    response = auth_client.post(
        "/api/v1/actions",
        json={"name": "x", "target_url": "https://a.example.com", "headers": {"Host": "evil"}},
    )
    assert response.status_code == 422 and response.get_json()["details"][0]["field"] == "headers.Host"


@pytest.fixture
def public_urls_only(app, monkeypatch):
    """Production's policy; example.com names resolve to a public address (no DNS in the sandbox)."""
    monkeypatch.setitem(app.config, "NARRATIVE_ALLOW_PRIVATE_URLS", False)
    real = outbound.resolve_host

    def resolve(host, port):
        return ["93.184.215.14"] if host.endswith("example.com") else real(host, port)

    monkeypatch.setattr(outbound, "resolve_host", resolve)


def test_http_and_private_targets_refused_without_the_setting(auth_client, public_urls_only):
    for url in ("http://example.com/hook", "https://127.0.0.1/x", "https://10.0.0.8/x", "https://[::1]/x"):
        response = auth_client.post("/api/v1/actions", json={"name": "x", "target_url": url})
        assert response.status_code == 422, url
        assert response.get_json()["details"][0]["field"] == "target_url"
    created = make_action(auth_client)
    response = auth_client.patch(
        f"/api/v1/actions/{created['id']}", json={"target_url": "https://192.168.1.1/"}
    )
    assert response.status_code == 422 and response.get_json()["details"][0]["field"] == "target_url"


def test_sixth_active_action_is_refused(auth_client):
    ids = [make_action(auth_client, name=f"Action {i}")["id"] for i in range(5)]
    response = auth_client.post(
        "/api/v1/actions", json={"name": "Six", "target_url": "https://a.example.com"}
    )
    assert response.status_code == 403 and response.get_json()["error"] == "action_limit_reached"
    # A paused action does not count, and re-activating one past the limit is refused too.
    paused = make_action(auth_client, name="Paused", is_active=False)
    response = auth_client.patch(f"/api/v1/actions/{paused['id']}", json={"is_active": True})
    assert response.status_code == 403 and response.get_json()["error"] == "action_limit_reached"
    auth_client.delete(f"/api/v1/actions/{ids[0]}")
    assert auth_client.patch(f"/api/v1/actions/{paused['id']}", json={"is_active": True}).status_code == 200


def test_a_plan_row_raises_the_limit(auth_client):
    auth_client.workspace.plan = "pro"
    db.session.add(Plan(key="pro", name="Pro", max_active_actions=7, monthly_executions=None))
    db.session.commit()
    for i in range(7):
        make_action(auth_client, name=f"Action {i}")
    response = auth_client.post("/api/v1/actions", json={"name": "8", "target_url": "https://a.example.com"})
    assert response.get_json()["error"] == "action_limit_reached"


def test_another_workspace_sees_404(auth_client, client):
    created = make_action(auth_client)
    stranger = make_user()
    headers = auth_headers(stranger)
    for method in ("get", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/actions/{created['id']}", headers=headers, json={})
        assert response.status_code == 404 and response.get_json()["error"] == "not_found"
    assert client.get("/api/v1/actions", headers=headers).get_json()["items"] == []
    assert client.get(f"/api/v1/actions/{created['id']}/executions", headers=headers).status_code == 404


def test_api_key_and_permissions(client, auth_client):
    owner = auth_client.user
    key = make_api_key(owner)
    response = client.post(
        "/api/v1/actions",
        headers={"Authorization": f"Bearer {key}"},
        json={"name": "By key", "target_url": "https://a.example.com"},
    )
    assert response.status_code == 201
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    assert client.get("/api/v1/actions", headers=auth_headers(viewer)).status_code == 200
    refused = client.post(
        "/api/v1/actions",
        headers=auth_headers(viewer),
        json={"name": "x", "target_url": "https://a.example.com"},
    )
    assert refused.status_code == 403 and refused.get_json()["required_permission"] == "proxy.manage"
    assert client.get("/api/v1/actions").status_code == 401


def test_cursor_pagination_walks_every_action_once(auth_client):
    auth_client.workspace.plan = "big"
    db.session.add(Plan(key="big", name="Big", max_active_actions=None, monthly_executions=None))
    db.session.commit()
    created = {make_action(auth_client, name=f"A{i}")["id"] for i in range(12)}
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = auth_client.get("/api/v1/actions", query_string=params).get_json()
        seen.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 12 and set(seen) == created
    bad = auth_client.get("/api/v1/actions", query_string={"cursor": "eyJpZCI6NDJ9"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "cursor"
