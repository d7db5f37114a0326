"""One factory per id kind: a real object in workspace A, through A's own API where it has one.

Each factory takes the `World` and returns the path parameters naming what it made, parents
included: `view(world)` is {"recordset_slug": ..., "view_id": ...}. Objects with no create endpoint
(a notification, a proxy execution, a waiting sign-up) are made by the domain's own service or,
for the proxy's execution log, the row its recorder writes.
"""

import uuid

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member
from narrative.platform.models import utcnow
from tests.identity.factories import make_user
from tests.system.isolation.bodies import Upload

CONTACT_FIELDS = [
    {"name": "Name", "type": "text", "required": True},
    {"name": "Email", "type": "email"},
    {"name": "Phone", "type": "phone"},
    {"name": "Address", "type": "text", "key": "address"},
    {"name": "Stage", "type": "single_select", "key": "stage", "options": {"choices": ["lead", "won"]}},
    {"name": "Location", "type": "geo_point", "key": "location"},
]
CSV = b"name,email\nJane Doe,jane@example.com\nJohn Roe,john@example.com\n"
# One row the import rejects (a date column with "not a date"), so the job has an error report.
CSV_WITH_A_BAD_ROW = (
    b"Name;Joined\nAnn;2024-01-02\nBob;not a date\nCy;2024-03-04\nDan;2024-05-06\nEve;2024-05-07\n"
)


def _file(content=b"sweep attachment\n", name="sweep.txt", content_type="text/plain"):
    return Upload(content, name, content_type)


# --- identity ---------------------------------------------------------------------------------


def colleague(world):
    """Another active member of A (not its owner, so removing or demoting them is allowed)."""
    user = make_user(role="member", workspace=world.a.workspace)
    member = db.session.scalar(
        sa.select(Member).filter_by(workspace_id=world.a.workspace.id, user_id=user.id)
    )
    return {"user_id": user.id, "member_id": member.id}


def workspace(world):
    return {"workspace_id": world.a.workspace.id}


def workspace_member(world):
    return {**workspace(world), "member_id": colleague(world)["member_id"]}


def workspace_user(world):
    return {**workspace(world), "user_id": colleague(world)["user_id"]}


def member(world):
    return {"member_id": colleague(world)["member_id"]}


def user(world):
    return {"user_id": colleague(world)["user_id"]}


def organisation_user(world):
    """The assistant family names a user of the organisation `{id}`."""
    return {"id": colleague(world)["user_id"]}


def waitlisted_user(world):
    """Someone waiting to join A: A turns the waitlist on, a visitor asks to join."""
    world.call_a("PUT", "/auth/admin/signup-settings", json={"enabled": True, "mode": "waitlist"})
    email = f"waiting-{uuid.uuid4().hex[:8]}@example.com"
    response = world.client.post(
        "/auth/pending-signup", json={"email": email, "organization": str(world.a.workspace.id)}
    )
    assert response.status_code == 202, response.get_json()
    waiting = world.call_a("GET", "/auth/admin/waitlist")["items"]
    return {"user_id": next(entry["user_id"] for entry in waiting if entry["email"] == email)}


def team(world):
    made = world.call_a("POST", "/api/v1/teams", json={"name": f"Team {uuid.uuid4().hex[:6]}"})
    return {"team_id": made["id"]}


def team_member(world):
    ids = team(world)
    member_id = colleague(world)["member_id"]
    world.call_a("POST", f"/api/v1/teams/{ids['team_id']}/members", json={"member_id": str(member_id)})
    return {**ids, "member_id": member_id}


def group(world):
    made = world.call_a("POST", "/api/organisation/groups", json={"name": f"Group {uuid.uuid4().hex[:6]}"})
    return {"id": made["id"]}


def group_member(world):
    ids = group(world)
    user_id = colleague(world)["user_id"]
    world.call_a("POST", f"/api/organisation/groups/{ids['id']}/members", json={"user_id": str(user_id)})
    return {**ids, "user_id": user_id}


def api_key(world):
    made = world.call_a("POST", "/api/v1/api-keys", json={"name": "Key to probe", "scopes": ["*"]})
    return {"api_key_id": made["id"]}


# --- records ----------------------------------------------------------------------------------


def recordset(world):
    made = world.call_a(
        "POST",
        "/api/v1/recordsets",
        json={"name": f"Contacts {uuid.uuid4().hex[:6]}", "fields": CONTACT_FIELDS},
    )
    return {"recordset_id": made["id"], "recordset_slug": made["slug"]}


def recordset_by_slug(world):
    return {"recordset_slug": recordset(world)["recordset_slug"]}


def recordset_by_id(world):
    return {"recordset_id": recordset(world)["recordset_id"]}


def trashed_recordset(world):
    ids = recordset(world)
    world.call_a("DELETE", f"/api/v1/recordsets/{ids['recordset_slug']}", expect=(200, 204))
    return {"recordset_slug": ids["recordset_slug"]}


def view(world):
    ids = recordset(world)
    made = world.call_a("POST", f"/api/v1/recordsets/{ids['recordset_slug']}/views", json={"name": "Sweep"})
    return {"recordset_slug": ids["recordset_slug"], "view_id": made["id"]}


def member_grant(world):
    ids = recordset(world)
    member_id = colleague(world)["member_id"]
    world.call_a(
        "POST",
        f"/api/v1/recordsets/{ids['recordset_slug']}/grants",
        json={"member_id": str(member_id), "level": "view"},
    )
    return {"recordset_slug": ids["recordset_slug"], "member_id": member_id}


def team_grant(world):
    ids = recordset(world)
    team_id = team(world)["team_id"]
    world.call_a(
        "POST",
        f"/api/v1/recordsets/{ids['recordset_slug']}/grants",
        json={"team_id": str(team_id), "level": "view"},
    )
    return {"recordset_slug": ids["recordset_slug"], "team_id": team_id}


def record(world):
    ids = recordset(world)
    made = world.call_a(
        "POST",
        "/api/v1/records",
        json={"recordset_id": ids["recordset_id"], "field_values": {"name": "Jane Doe"}},
    )
    return {"record_id": made["id"]}


def history(world):
    ids = record(world)
    world.call_a("PATCH", f"/api/v1/records/{ids['record_id']}", json={"field_values": {"name": "Jane Roe"}})
    entries = world.call_a("GET", f"/api/v1/records/{ids['record_id']}/history")
    entries = entries["items"] if isinstance(entries, dict) else entries
    return {**ids, "history_id": entries[-1]["id"]}


def attachment(world):
    ids = record(world)
    made = world.call_a(
        "POST",
        f"/api/v1/crud/records/{ids['record_id']}/attachments",
        data={"file": _file()},
        content_type="multipart/form-data",
    )
    return {**ids, "attachment_id": made["id"]}


def insight(world):
    """A record with empty important fields has a `missing_fields` insight."""
    ids = record(world)
    made = world.call_a("POST", f"/api/v1/records/{ids['record_id']}/insights/generate", json={})
    return {"insight_id": made["insights"][0]["id"]}


def interaction(world):
    ids = record(world)
    made = world.call_a(
        "POST", f"/api/v1/records/{ids['record_id']}/interactions", json={"interaction_type": "call"}
    )
    return {"interaction_id": made["id"]}


def task(world):
    ids = record(world)
    made = world.call_a("POST", f"/api/v1/records/{ids['record_id']}/tasks", json={"title": "Call back"})
    return {"task_id": made["id"]}


# --- jobs -------------------------------------------------------------------------------------


def _uploaded_csv(world, content=CSV):
    return world.call_a(
        "POST",
        "/api/v1/import/upload",
        data={"file": _file(content, "people.csv", "text/csv")},
        content_type="multipart/form-data",
    )["file_uri"]


def import_job(world):
    """A finished import that rejected a row (so it has an error report to link to)."""
    from workers.worker import run_jobs_in_process

    file_uri = _uploaded_csv(world, CSV_WITH_A_BAD_ROW)
    made = world.call_a("POST", "/api/v1/import", json={"file_uri": file_uri}, expect=(200, 201, 202))
    run_jobs_in_process(world.client.application)
    job = world.call_a("GET", f"/api/v1/import/jobs/{made['job_id']}")
    assert job["status"] == "COMPLETED" and job["rows_failed"] == 1, job
    return {"job_id": made["job_id"]}


def geocode_job(world):
    ids = recordset(world)
    made = world.call_a(
        "POST",
        "/api/v1/geocode/jobs",
        json={"recordset_id": ids["recordset_id"], "address_fields": ["address"]},
        expect=(200, 201, 202),
    )
    return {"job_id": made["job_id"]}


def activity_export_job(world):
    made = world.call_a("POST", "/api/v1/activity/export", json={"format": "csv"}, expect=(200, 201, 202))
    return {"job_id": made["job_id"]}


def migration_job(world):
    made = world.call_a("POST", "/api/v1/workspace-health/migrate", expect=(200, 201, 202))
    return {"job_id": made["job_id"]}


# --- automation: webhooks, notifications --------------------------------------------------------


def webhook(world):
    made = world.call_a("POST", "/api/v1/webhooks", json={"url": "https://example.com/sweep-hook"})
    return {"webhook_id": made["id"]}


def notification(world):
    from narrative.notifications import service

    rows = service.notify(
        workspace_id=world.a.workspace.id,
        event_type="team.created",
        title="A team was created",
        user_ids=[world.a.user.id],
    )
    db.session.commit()
    return {"notification_id": rows[0].id}


def preference(world):
    made = world.call_a(
        "POST", "/api/v1/notifications/me", json={"event_type": "team.created", "muted": False}
    )
    return {"preference_id": made["id"]}


# --- the API proxy ----------------------------------------------------------------------------


def action(world, side=None):
    made = world.call(
        side or world.a,
        "POST",
        "/api/v1/actions",
        json={"name": "Echo", "target_url": "https://api.example.com/echo"},
    )
    return {"action_id": made["id"]}


def execution_token(world, side=None):
    """An action and an execution token of it (`token` is the raw sxt_ secret); A's by default."""
    ids = action(world, side)
    made = world.call(side or world.a, "POST", "/api/v1/tokens", json={"action_id": ids["action_id"]})
    return {"token_id": made["id"], "token": made["token"], **ids}


def token(world):
    return {"token_id": execution_token(world)["token_id"]}


def execution(world):
    """The row the proxy's recorder writes for one call (it has no create endpoint)."""
    from narrative.proxy.models import Execution

    ids = action(world)
    row = Execution(
        workspace_id=world.a.workspace.id,
        action_id=uuid.UUID(str(ids["action_id"])),
        created_at=utcnow(),
        method="POST",
        status_code=200,
        outcome="success",
        counted=True,
        duration_ms=12.5,
    )
    db.session.add(row)
    db.session.commit()
    return {**ids, "exec_id": row.id}


# --- conversations ----------------------------------------------------------------------------


def conversation(world):
    made = world.call_a("POST", "/api/v1/chat/conversations", json={"title": "Sweep chat"})
    return {"conversation_id": made["id"]}


def assistant_conversation(world):
    made = world.call_a("POST", "/api/conversations", json={"title": "Sweep chat"})
    return {"conversation_id": made["id"]}


def _message(world, conversation_id, role="user"):
    made = world.call_a(
        "POST",
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": "Hello from A", "role": role},
    )
    return made["id"]


def message(world):
    """An assistant's reply (what regenerate works on)."""
    ids = conversation(world)
    _message(world, ids["conversation_id"])
    return {"message_id": _message(world, ids["conversation_id"], role="assistant")}


def assistant_message(world):
    ids = assistant_conversation(world)
    return {"msg_id": _message(world, ids["conversation_id"])}


def participant(world):
    ids = conversation(world)
    user_id = colleague(world)["user_id"]
    world.call_a(
        "POST", f"/api/v1/chat/conversations/{ids['conversation_id']}/share", json={"user_id": str(user_id)}
    )
    return {**ids, "user_id": user_id}


def folder(world):
    made = world.call_a("POST", "/api/v1/chat/folders", json={"name": "Sweep folder"})
    return {"folder_id": made["id"]}


def chat_file(world):
    ids = conversation(world)
    made = world.call_a(
        "POST",
        f"/api/v1/chat/conversations/{ids['conversation_id']}/upload",
        data={"file": _file()},
        content_type="multipart/form-data",
    )
    return {"file_id": made["id"]}
