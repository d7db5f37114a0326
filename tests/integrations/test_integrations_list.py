"""GET /api/integrations: the caller's integrations in camelCase, filtered by type, paginated, isolated."""

from narrative.extensions import db
from narrative.integrations.models import Integration
from tests.identity.factories import auth_headers, make_user, workspace_of


def _integration(user, provider, integration_type="bank", status="connected", workspace=None):
    row = Integration(
        workspace_id=(workspace or workspace_of(user)).id,
        user_id=user.id,
        provider=provider,
        integration_type=integration_type,
        status=status,
        name=provider.title(),
        config={},
    )
    row.set_secrets({"token": "very-secret"})
    db.session.add(row)
    db.session.commit()
    return row


def test_list_is_camel_case_and_hides_secrets(app):
    user = make_user()
    _integration(user, "saltedge", status="pending")
    response = app.test_client().get("/api/integrations", headers=auth_headers(user))
    assert response.status_code == 200
    body = response.get_json()
    [item] = body["integrations"]
    assert item["provider"] == "saltedge" and item["status"] == "pending"
    assert {
        "id",
        "integrationType",
        "lastSyncedAt",
        "lastError",
        "createdAt",
        "externalId",
        "name",
    } <= item.keys()
    assert "integration_type" not in item and "credentials" not in item and "config" not in item
    assert "very-secret" not in response.get_data(as_text=True)
    assert body["has_more"] is False and body["next_cursor"] is None


def test_integration_type_filter_and_pagination(app):
    user = make_user()
    _integration(user, "saltedge")
    _integration(user, "statement")
    _integration(user, "gmail", integration_type="email")
    client = app.test_client()
    banks = client.get("/api/integrations?integration_type=bank", headers=auth_headers(user)).get_json()
    assert sorted(i["provider"] for i in banks["integrations"]) == ["saltedge", "statement"]
    email = client.get("/api/integrations?integration_type=email", headers=auth_headers(user)).get_json()
    assert [i["provider"] for i in email["integrations"]] == ["gmail"]
    first = client.get("/api/integrations?limit=2", headers=auth_headers(user)).get_json()
    assert len(first["integrations"]) == 2 and first["has_more"] is True
    rest = client.get(
        f"/api/integrations?limit=2&cursor={first['next_cursor']}", headers=auth_headers(user)
    ).get_json()
    assert len(rest["integrations"]) == 1


def test_only_the_callers_integrations_in_the_callers_workspace(app):
    owner = make_user()
    _integration(owner, "saltedge")
    colleague = make_user(role="member", workspace=workspace_of(owner))
    stranger = make_user()
    client = app.test_client()
    assert client.get("/api/integrations", headers=auth_headers(colleague)).get_json()["integrations"] == []
    assert client.get("/api/integrations", headers=auth_headers(stranger)).get_json()["integrations"] == []
    assert client.get("/api/integrations").status_code == 401


def test_openapi_names_both_families(client):
    doc = client.get("/openapi.json").get_json()
    operation = doc["paths"]["/api/integrations"]["get"]
    assert operation["operationId"] == "narrative-sdk.integrations.list"
    assert "assistant.integrations.list" in operation["description"]
    connect = doc["paths"]["/api/integrations/saltedge/connect"]["post"]
    assert connect["operationId"] == "narrative-sdk.integrations.saltedge-connect"
