"""Webhook endpoints: CRUD on both families' shapes, secrets shown once, permissions, tenancy."""

import uuid

import sqlalchemy as sa

from narrative.extensions import db
from narrative.webhooks.models import WebhookEndpoint
from tests.identity.factories import auth_headers, make_user, workspace_of
from tests.webhooks.conftest import create_webhook

URL = "https://hooks.example.test/narrative"


def test_create_shows_the_secret_once_and_stores_it_encrypted(auth_client):
    created = create_webhook(auth_client, URL, events=["probe.note.added"], description="CRM sync")
    assert created["secret"].startswith("whsec_") and created["is_active"] is True
    fetched = auth_client.get(f"/api/v1/webhooks/{created['id']}").get_json()
    assert fetched["secret"] != created["secret"] and fetched["secret"].endswith(created["secret"][-4:])
    assert "*" in fetched["secret"]
    row = db.session.get(WebhookEndpoint, uuid.UUID(created["id"]))
    assert created["secret"] not in row.secret_encrypted
    assert created["secret"][6:] not in row.secret_encrypted


def test_neuromancer_body_with_its_own_secret_and_active_flag(auth_client):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    response = auth_client.post(
        "/api/v1/webhooks",
        json={"url": URL, "events": ["*"], "secret": secret, "headers": {"X-Token": "t"}, "active": False},
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["secret"] == secret and body["active"] is False and body["headers"] == {"X-Token": "t"}
    bad = auth_client.post("/api/v1/webhooks", json={"url": URL, "secret": "plain-text"})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "secret"


def test_invalid_input_is_refused(auth_client):
    cases = [
        ({"url": "ftp://example.test/x"}, "url"),
        ({"url": URL, "events": ["no.such.event"]}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "headers": {"webhook-signature": "forged"}}, "headers.webhook-signature"),
        ({"url": URL, "headers": {"Content-Type": "text/plain"}}, "headers.Content-Type"),
    ]
    for body, field in cases:
        response = auth_client.post("/api/v1/webhooks", json=body)
        assert response.status_code == 422, body
        assert response.get_json()["details"][0]["field"] == field


def test_list_count_filter_and_paginate(auth_client):
    first = create_webhook(auth_client, URL)
    create_webhook(auth_client, URL + "/2")
    auth_client.post(f"/api/v1/webhooks/{first['id']}/toggle")
    listed = auth_client.get("/api/v1/webhooks?skip=0&limit=1").get_json()
    assert listed["total"] == 2 and len(listed["items"]) == 1 and listed["has_more"] is True
    assert all("*" in item["secret"] for item in listed["items"])
    inactive = auth_client.get("/api/v1/webhooks?is_active=false").get_json()
    assert [item["id"] for item in inactive["items"]] == [first["id"]]
    assert auth_client.get("/api/v1/webhooks/count").get_json() == {"count": 2}
    assert auth_client.get("/api/v1/webhooks/count?is_active=true").get_json() == {"count": 1}


def test_patch_and_put_are_one_update(auth_client):
    hook = create_webhook(auth_client, URL)
    patched = auth_client.patch(f"/api/v1/webhooks/{hook['id']}", json={"description": "patched"})
    assert patched.status_code == 200 and patched.get_json()["description"] == "patched"
    put = auth_client.put(
        f"/api/v1/webhooks/{hook['id']}", json={"url": URL + "/v2", "events": ["*"], "active": False}
    )
    body = put.get_json()
    assert put.status_code == 200
    assert (body["url"], body["events"], body["is_active"], body["description"]) == (
        URL + "/v2",
        ["*"],
        False,
        "patched",
    )


def test_toggle_regenerate_and_delete(auth_client):
    hook = create_webhook(auth_client, URL)
    assert auth_client.post(f"/api/v1/webhooks/{hook['id']}/toggle").get_json()["is_active"] is False
    assert auth_client.post(f"/api/v1/webhooks/{hook['id']}/toggle").get_json()["is_active"] is True
    regenerated = auth_client.post(f"/api/v1/webhooks/{hook['id']}/regenerate-secret").get_json()
    assert regenerated["secret"].startswith("whsec_") and regenerated["secret"] != hook["secret"]
    assert auth_client.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
    assert auth_client.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookEndpoint)) == 0


def test_event_catalog_lists_registered_types(auth_client):
    body = auth_client.get("/api/v1/webhooks/events").get_json()
    names = body["event_types"]
    assert {"probe.note.added", "webhook.disabled", "job.completed"} <= set(names)
    item = next(e for e in body["events"] if e["name"] == "probe.note.added")
    assert item["example"] == {"text": "Call the supplier back"} and item["description"]


def test_another_workspace_sees_nothing(client, auth_client):
    hook = create_webhook(auth_client, URL)
    stranger = make_user()
    headers = auth_headers(stranger)
    for method, path in [
        ("get", f"/api/v1/webhooks/{hook['id']}"),
        ("patch", f"/api/v1/webhooks/{hook['id']}"),
        ("delete", f"/api/v1/webhooks/{hook['id']}"),
        ("post", f"/api/v1/webhooks/{hook['id']}/toggle"),
        ("get", f"/api/v1/webhooks/{hook['id']}/deliveries"),
        ("get", "/api/v1/webhooks/not-a-uuid"),
    ]:
        assert getattr(client, method)(path, headers=headers, json={}).status_code == 404, path
    assert client.get("/api/v1/webhooks", headers=headers).get_json()["total"] == 0


def test_viewers_read_but_do_not_manage(client, auth_client):
    hook = create_webhook(auth_client, URL)
    viewer = make_user(role="viewer", workspace=workspace_of(auth_client.user))
    headers = auth_headers(viewer)
    assert client.get("/api/v1/webhooks", headers=headers).status_code == 200
    created = client.post("/api/v1/webhooks", json={"url": URL}, headers=headers)
    assert created.status_code == 403 and created.get_json()["error"] == "forbidden"
    assert client.delete(f"/api/v1/webhooks/{hook['id']}", headers=headers).status_code == 403
    assert client.post(f"/api/v1/webhooks/{hook['id']}/test", json={}, headers=headers).status_code == 403
    assert client.get("/api/v1/webhooks").status_code == 401
