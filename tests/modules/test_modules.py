"""Module settings (defaults, create, toggle, update) and workspace health with its migration job."""

import json

import pytest

from narrative.extensions import db
from narrative.identity.models import Role
from narrative.modules import registry
from narrative.modules.models import ModuleSetting
from narrative.modules.service import is_enabled
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of
from workers.worker import run_jobs_in_process


def frames(response):
    return [
        json.loads(line[len("data: ") :])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]


@pytest.fixture
def widgets_module():
    """A module of the test's own, with default settings, removed from the registry afterwards."""
    info = registry.register_module(
        "widgets", name="Widgets", description="Test widgets", settings={"colour": "blue", "size": 3}
    )
    yield info
    registry.unregister_module("widgets")


def test_modules_have_registry_defaults_until_configured(client, widgets_module):
    owner = make_user()
    listed = client.get("/api/v1/modules", headers=auth_headers(owner)).json
    by_key = {item["module"]: item for item in listed["items"]}
    assert {"crm", "chat", "widgets"} <= set(by_key) and listed["total"] == len(listed["items"])
    assert by_key["widgets"] == {
        **by_key["widgets"],
        "enabled": True,
        "settings": {"colour": "blue", "size": 3},
        "is_default": True,
        "id": None,
    }
    assert client.get("/api/v1/modules/nope", headers=auth_headers(owner)).status_code == 404


def test_toggle_turns_a_module_off_and_on(client):
    owner = make_user()
    workspace = workspace_of(owner)
    off = client.post("/api/v1/modules/crm/toggle", headers=auth_headers(owner))
    assert off.status_code == 200 and off.json["enabled"] is False and off.json["is_default"] is False
    assert is_enabled(workspace_id=workspace.id, module="crm") is False
    health = client.get("/api/v1/workspace-health", headers=auth_headers(owner)).json
    assert "crm" not in health["features"]["modules_enabled"]
    on = client.post("/api/v1/modules/crm/toggle", headers=auth_headers(owner)).json
    assert on["enabled"] is True and is_enabled(workspace_id=workspace.id, module="crm")


def test_create_and_update_settings(client, widgets_module):
    owner = make_user()
    headers = auth_headers(owner)
    created = client.post(
        "/api/v1/modules", json={"module": "widgets", "settings": {"colour": "red"}}, headers=headers
    )
    assert created.status_code == 201 and created.json["settings"] == {"colour": "red", "size": 3}
    assert client.post("/api/v1/modules", json={"module": "widgets"}, headers=headers).status_code == 409
    unknown = client.post("/api/v1/modules", json={"module": "nope"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json["details"][0]["field"] == "module"

    updated = client.patch(
        "/api/v1/modules/widgets",
        json={"enabled": False, "settings": {"size": 9, "colour": None}},
        headers=headers,
    ).json
    assert updated["enabled"] is False and updated["settings"] == {"colour": "blue", "size": 9}
    assert client.get("/api/v1/modules/widgets", headers=headers).json == updated


def test_module_settings_are_per_workspace_and_need_the_permission(client):
    owner = make_user()
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    other = make_user()
    client.post("/api/v1/modules/chat/toggle", headers=auth_headers(owner))
    assert client.get("/api/v1/modules/chat", headers=auth_headers(other)).json["enabled"] is True
    assert client.get("/api/v1/modules/chat", headers=auth_headers(viewer)).json["enabled"] is False
    refused = client.post("/api/v1/modules/chat/toggle", headers=auth_headers(viewer))
    assert refused.status_code == 403 and refused.json["required_permission"] == "modules.manage"


def test_a_fresh_workspace_is_healthy(client):
    owner = make_user()
    make_api_key(owner)
    response = client.get("/api/v1/workspace-health", headers=auth_headers(owner))
    assert response.status_code == 200
    body = response.json
    assert body["migration_required"] is False and body["pending_migrations"] == []
    assert body["brand"] is False
    assert body["personal_onboarding_complete"] is False and body["company_onboarding_complete"] is False
    assert body["features"]["members"] == 1 and body["features"]["api_keys"] == 1
    assert body["features"]["email_delivery"] == "outbox"


def make_stale(workspace, module):
    """Rows written by older code: a setting the module gained since, a permission that is gone."""
    db.session.add(
        ModuleSetting(workspace_id=workspace.id, module=module, enabled=False, settings={"colour": "red"})
    )
    db.session.add(
        Role(
            workspace_id=workspace.id,
            key="member",
            name="Member",
            is_system=True,
            permissions=["teams.read", "workspace.read", "legacy.export"],
        )
    )
    db.session.commit()


def test_the_migration_job_brings_defaults_up_to_date_and_streams_to_completed(app, client, widgets_module):
    owner = make_user()
    member = make_user(role="member", workspace=workspace_of(owner))
    workspace = workspace_of(owner)
    make_stale(workspace, "widgets")
    # Headers up front: the stream closes the database session, detaching these users.
    owner_headers, member_headers = auth_headers(owner), auth_headers(member)

    unhealthy = client.get("/api/v1/workspace-health", headers=member_headers)
    assert unhealthy.status_code == 503 and unhealthy.json["error"] == "migration_required"
    assert unhealthy.json["migration_required"] is True
    assert {(p["area"], p["item"]) for p in unhealthy.json["pending_migrations"]} == {
        ("system_roles", "member"),
        ("module_settings", "widgets"),
    }

    started = client.post("/api/v1/workspace-health/migrate", headers=member_headers)
    assert started.status_code == 200
    job_id = started.json["job_id"]
    assert started.json["stream_url"] == f"/api/v1/workspace-health/migrate/jobs/{job_id}/stream"
    duplicate = client.post("/api/v1/workspace-health/migrate", headers=owner_headers)
    assert duplicate.status_code == 409 and duplicate.json["job_id"] == job_id

    run_jobs_in_process(app)
    events = frames(client.get(started.json["stream_url"], headers=member_headers))
    assert events[-1]["status"] == "COMPLETED" and events[-1]["progress"] == 100
    assert events[-1]["error_message"] is None
    steps = [event["current_step"] for event in events if event["status"] == "RUNNING"]
    assert {"system_roles", "module_settings", "verifying"} <= set(steps)
    assert events[-1]["result"]["module_settings"]["updated"] == ["widgets"]

    healthy = client.get("/api/v1/workspace-health", headers=member_headers)
    assert healthy.status_code == 200 and healthy.json["migration_job_id"] is None
    widgets = client.get("/api/v1/modules/widgets", headers=owner_headers).json
    # New defaults merged in; the workspace's own choices kept.
    assert widgets["settings"] == {"colour": "red", "size": 3} and widgets["enabled"] is False
    role = client.get("/api/v1/permissions/roles/member", headers=owner_headers).json
    assert role["permissions"] == ["teams.read", "workspace.read"]
    # The lock is gone: another migration may start (and finds nothing to do).
    assert client.post("/api/v1/workspace-health/migrate", headers=owner_headers).status_code == 200


def test_another_workspace_cannot_follow_the_migration(app, client):
    owner = make_user()
    stranger = make_user()
    job_id = client.post("/api/v1/workspace-health/migrate", headers=auth_headers(owner)).json["job_id"]
    url = f"/api/v1/workspace-health/migrate/jobs/{job_id}/stream"
    assert client.get(url, headers=auth_headers(stranger)).status_code == 404
    assert client.get(url.replace(job_id, "job_" + "x" * 22), headers=auth_headers(owner)).status_code == 404
