"""Interactions (the record's timeline) and a record's tasks through the API: create, list with
filters and pages, update, complete, delete, validation, events and the record's activity."""

import uuid

import sqlalchemy as sa

from narrative.activity.service import describe
from narrative.extensions import db
from narrative.platform.events.models import OutboxEvent
from narrative.records.tracking.models import RecordInteraction
from narrative.tasks.models import Task
from narrative.tasks.service import create_task


def _event_types():
    return [row.event_type for row in db.session.scalars(sa.select(OutboxEvent).order_by(OutboxEvent.id))]


def test_interaction_crud(client, headers, make_record):
    record = make_record()
    url = f"/api/v1/records/{record.id}/interactions"
    logged = client.post(
        url,
        headers=headers,
        json={
            "interaction_type": "call",
            "direction": "outbound",
            "subject": "Pricing",
            "summary": "Discussed the renewal",
            "occurred_at": "2026-11-01T10:00:00",
            "duration_minutes": 25,
            "outcome": "positive",
            "participants": [{"name": "Jane Doe", "email": "jane@acme.test"}],
            "follow_up_at": "2026-11-08T09:00:00Z",
        },
    )
    assert logged.status_code == 200, logged.json
    body = logged.json
    assert body["record_id"] == str(record.id) and body["recordset_id"] == str(record.recordset_id)
    assert body["occurred_at"].startswith("2026-11-01T10:00:00") and body["duration_minutes"] == 25
    assert body["participants"] == [{"name": "Jane Doe", "email": "jane@acme.test"}]
    client.post(
        url, headers=headers, json={"interaction_type": "email", "occurred_at": "2026-11-03T10:00:00Z"}
    )
    client.post(
        url, headers=headers, json={"interaction_type": "note", "occurred_at": "2026-10-01T10:00:00Z"}
    )

    listed = client.get(url, headers=headers).json
    assert listed["total"] == 3 and [item["interaction_type"] for item in listed["items"]] == [
        "email",
        "call",
        "note",
    ]
    calls = client.get(url, headers=headers, query_string={"interaction_type": "call"}).json
    assert [item["id"] for item in calls["items"]] == [body["id"]]
    paged = client.get(url, headers=headers, query_string={"page": 2, "page_size": 2}).json
    assert (paged["page"], paged["pages"], len(paged["items"])) == (2, 2, 1)

    item_url = f"/api/v1/records/interactions/{body['id']}"
    changed = client.patch(item_url, headers=headers, json={"outcome": "won", "follow_up_at": None})
    assert (
        changed.status_code == 200
        and changed.json["outcome"] == "won"
        and changed.json["follow_up_at"] is None
    )
    deleted = client.delete(item_url, headers=headers)
    assert deleted.status_code == 200 and deleted.json == {"id": body["id"], "deleted": True}
    assert db.session.get(RecordInteraction, uuid.UUID(body["id"])) is None
    assert client.delete(item_url, headers=headers).status_code == 404
    kinds = _event_types()
    assert kinds.count("record.interaction_logged") == 3
    assert "record.interaction_updated" in kinds and "record.interaction_deleted" in kinds


def test_interaction_validation(client, headers, make_record):
    record = make_record()
    url = f"/api/v1/records/{record.id}/interactions"
    for payload in (
        {},
        {"interaction_type": "fax"},
        {"interaction_type": "call", "direction": "sideways"},
        {"interaction_type": "call", "duration_minutes": -1},
        {"interaction_type": "call", "occurred_at": "yesterday"},
        {"interaction_type": "call", "subject": "x" * 301},
    ):
        response = client.post(url, headers=headers, json=payload)
        assert response.status_code == 422, payload
        assert response.json["error"] == "validation_failed"
    logged = client.post(url, headers=headers, json={"interaction_type": "meeting"}).json
    patched = client.patch(
        f"/api/v1/records/interactions/{logged['id']}", headers=headers, json={"occurred_at": None}
    )
    assert patched.status_code == 422
    assert client.get(url, headers=headers, query_string={"interaction_type": "fax"}).status_code == 422
    missing = client.post(
        f"/api/v1/records/{uuid.uuid4()}/interactions", headers=headers, json={"interaction_type": "call"}
    )
    assert missing.status_code == 404


def test_record_events_land_in_the_records_activity(client, headers, make_record):
    record = make_record()
    client.post(
        f"/api/v1/records/{record.id}/interactions",
        headers=headers,
        json={"interaction_type": "call", "subject": "Intro"},
    )
    event = db.session.scalar(
        sa.select(OutboxEvent).where(OutboxEvent.event_type == "record.interaction_logged")
    )
    object_type, verb, object_id, summary = describe(event.event_type, event.payload)
    assert (object_type, verb, object_id) == ("record", "interaction_logged", str(record.id))
    assert summary == "Record interaction logged: Intro"


def test_task_crud_and_completion(client, headers, owner, make_record):
    record = make_record()
    url = f"/api/v1/records/{record.id}/tasks"
    created = client.post(
        url,
        headers=headers,
        json={
            "title": "Send quote",
            "priority": "high",
            "due_date": "2026-12-01T17:00:00Z",
            "assignee_id": str(owner.id),
        },
    )
    assert created.status_code == 200, created.json
    task = created.json
    assert task["record_id"] == str(record.id) and task["subject_type"] == "record"
    assert task["status"] == "todo" and task["due_at"].startswith("2026-12-01T17:00:00")
    second = client.post(url, headers=headers, json={"title": "Book meeting", "priority": "low"}).json
    assert second["position"] == 2.0

    listed = client.get(url, headers=headers).json
    assert [item["title"] for item in listed["items"]] == ["Send quote", "Book meeting"]  # due first
    assert client.get(url, headers=headers, query_string={"priority": "low"}).json["total"] == 1

    updated = client.patch(
        f"/api/v1/records/tasks/{task['id']}",
        headers=headers,
        json={"title": "Send the quote", "status": "in_progress"},
    )
    assert updated.status_code == 200 and updated.json["status"] == "in_progress"
    completed = client.post(
        f"/api/v1/records/tasks/{task['id']}/complete", headers=headers, json={"note": "Sent"}
    )
    assert completed.status_code == 200
    assert completed.json["status"] == "completed" and completed.json["completion_note"] == "Sent"
    assert completed.json["completed_by_id"] == str(owner.id)
    again = client.post(f"/api/v1/records/tasks/{second['id']}/complete", headers=headers)  # no body at all
    assert again.status_code == 200 and again.json["status"] == "completed"

    assert client.get(url, headers=headers).json["total"] == 0  # completed ones hidden by default
    assert client.get(url, headers=headers, query_string={"include_completed": "true"}).json["total"] == 2
    assert client.get(url, headers=headers, query_string={"status": "completed"}).json["total"] == 2

    reopened = client.patch(f"/api/v1/records/tasks/{task['id']}", headers=headers, json={"status": "todo"})
    assert reopened.json["completed_at"] is None
    deleted = client.delete(f"/api/v1/records/tasks/{task['id']}", headers=headers)
    assert deleted.status_code == 200 and deleted.json["deleted"] is True
    assert (
        client.patch(f"/api/v1/records/tasks/{task['id']}", headers=headers, json={"title": "x"}).status_code
        == 404
    )

    kinds = _event_types()
    for kind in (
        "task.created",
        "record.task_created",
        "task.updated",
        "record.task_updated",
        "task.completed",
        "record.task_completed",
        "task.deleted",
        "record.task_deleted",
    ):
        assert kind in kinds, kind
    assert kinds.count("record.task_completed") == 2


def test_task_validation(client, headers, make_record):
    record = make_record()
    url = f"/api/v1/records/{record.id}/tasks"
    for payload in (
        {},
        {"title": ""},
        {"title": "x", "priority": "asap"},
        {"title": "x", "status": "later"},
        {"title": "x", "due_at": "soon"},
        {"title": "x", "assignee_id": str(uuid.uuid4())},
    ):
        response = client.post(url, headers=headers, json=payload)
        assert response.status_code == 422, payload
    assert client.get(url, headers=headers, query_string={"page_size": 500}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Task)) == 0


def test_tasks_of_other_subjects_are_not_record_tasks(client, headers, owner, workspace):
    task = create_task(
        workspace_id=workspace.id,
        user_id=owner.id,
        title="Kanban card",
        subject_type="channel",
        subject_id=uuid.uuid4(),
    )
    db.session.commit()
    for call in (
        lambda: client.patch(f"/api/v1/records/tasks/{task.id}", headers=headers, json={"title": "x"}),
        lambda: client.post(f"/api/v1/records/tasks/{task.id}/complete", headers=headers),
        lambda: client.delete(f"/api/v1/records/tasks/{task.id}", headers=headers),
    ):
        assert call().status_code == 404


def test_deleting_a_recordset_for_good_removes_its_tracking(owner, contacts, make_record):
    from narrative.records import service as records
    from narrative.records.tracking import service
    from narrative.records.tracking.models import RecordInsight

    record = make_record({"name": "Jane", "company": "Acme"})
    service.log_interaction(record, user_id=owner.id, interaction_type="call")
    service.create_record_task(record, user_id=owner.id, title="Call back")
    create_task(workspace_id=contacts.workspace_id, user_id=owner.id, title="Unrelated")
    service.generate_insights(record, user_id=owner.id)
    db.session.commit()
    records.delete_recordset_permanently(contacts, user_id=owner.id)
    db.session.commit()
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    assert (count(RecordInteraction), count(RecordInsight), count(Task)) == (0, 0, 1)
