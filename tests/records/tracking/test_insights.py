"""Insights: deterministic facts for crafted records, worded through the AI layer (logged), with
regeneration that refreshes instead of duplicating, and action-taken / dismiss."""

import uuid
from datetime import timedelta

import sqlalchemy as sa

from narrative.ai.models import AiCall
from narrative.extensions import db
from narrative.platform.events.models import OutboxEvent
from narrative.platform.models import utcnow
from narrative.records.tracking import insights, service
from narrative.records.tracking.models import RecordInsight
from narrative.tasks.service import create_task
from tests.records.tracking.conftest import age


def _open_insights(record):
    return db.session.scalars(
        sa.select(RecordInsight)
        .where(RecordInsight.record_id == record.id, RecordInsight.status == "open")
        .order_by(RecordInsight.insight_type)
    ).all()


def _by_type(items):
    return {item["insight_type"]: item for item in items}


def test_fresh_complete_record_has_no_insights(owner, make_record):
    record = make_record(
        {"name": "Jane", "company": "Acme", "email": "j@acme.test", "phone": "+44 20 7946 0000"}
    )
    facts = insights.gather(record)
    assert facts.days_since_activity == 0 and facts.completeness == 80  # notes empty
    assert insights.candidates(facts) == []


def test_stale_after_n_days_with_a_fixed_clock(owner, make_record):
    record = make_record(
        {"name": "Jane", "company": "Acme", "email": "j@acme.test", "phone": "+44 20 7946 0001"}
    )
    created = age(record, 10)
    facts = insights.gather(record, now=created + timedelta(days=29, hours=23))
    assert facts.days_since_activity == 29 and insights.candidates(facts) == []
    facts = insights.gather(record, now=created + timedelta(days=30))
    (stale,) = insights.candidates(facts)
    assert stale["insight_type"] == "stale" and stale["title"] == "No activity in 30 days"
    assert stale["facts"]["days_since_activity"] == 30 and stale["facts"]["last_activity_kind"] == "update"
    assert stale["priority"] == "medium"
    assert (
        insights.candidates(insights.gather(record, now=created + timedelta(days=60)))[0]["priority"]
        == "high"
    )
    # A smaller threshold from the request, then from the recordset's settings.
    assert insights.candidates(insights.gather(record, now=created + timedelta(days=8), stale_after_days=7))
    record.recordset.settings = {"tracking": {"stale_after_days": 5}}
    assert insights.gather(record, now=created + timedelta(days=1)).stale_after_days == 5


def test_an_interaction_resets_staleness(owner, make_record):
    record = make_record(
        {"name": "Jane", "company": "Acme", "email": "j@acme.test", "phone": "+44 20 7946 0001"}, days_old=90
    )
    now = utcnow()
    service.log_interaction(
        record, user_id=owner.id, interaction_type="call", occurred_at=now - timedelta(days=3)
    )
    db.session.commit()
    facts = insights.gather(record, now=now)
    assert facts.last_activity_kind == "interaction" and facts.days_since_activity == 3
    assert insights.candidates(facts) == []


def test_missing_fields_required_and_important(owner, contacts, make_record):
    record = make_record({"name": "Jane", "company": "Acme"})
    (missing,) = insights.candidates(insights.gather(record))
    assert missing["insight_type"] == "missing_fields"
    # No field flagged important: the recordset's email and phone fields are.
    assert missing["facts"] == {
        "missing_required": [],
        "missing_important": ["email", "phone"],
        "completeness": 40,
    }
    assert missing["priority"] == "medium" and missing["title"] == "Missing Email, Phone"
    # A required field emptied later (values can predate a field becoming required).
    contacts.fields = [
        {**spec, "required": spec["key"] in ("name", "company", "notes")} for spec in contacts.fields
    ]
    contacts.settings = {"tracking": {"important_fields": ["phone"]}}
    (missing,) = insights.candidates(insights.gather(record))
    assert missing["facts"]["missing_required"] == ["notes"] and missing["facts"]["missing_important"] == [
        "phone"
    ]
    assert missing["priority"] == "high"


def test_follow_up_due_and_overdue_tasks(owner, workspace, make_record):
    record = make_record(
        {"name": "Jane", "company": "Acme", "email": "j@acme.test", "phone": "+44 20 7946 0001"}
    )
    now = utcnow()
    call = service.log_interaction(
        record,
        user_id=owner.id,
        interaction_type="call",
        subject="Renewal",
        occurred_at=now - timedelta(days=12),
        follow_up_at=now - timedelta(days=9),
    )
    task = service.create_record_task(
        record, user_id=owner.id, title="Send quote", due_at=now - timedelta(days=4)
    )
    service.create_record_task(record, user_id=owner.id, title="Not yet", due_at=now + timedelta(days=4))
    db.session.commit()
    found = {item["insight_type"]: item for item in insights.candidates(insights.gather(record, now=now))}
    assert set(found) == {"follow_up_due", "overdue_task"}
    assert found["follow_up_due"]["facts"]["days_overdue"] == 9
    assert found["follow_up_due"]["facts"]["interaction_id"] == str(call.id)
    assert found["follow_up_due"]["priority"] == "high"
    assert found["overdue_task"]["facts"]["task_ids"] == [str(task.id)]
    assert found["overdue_task"]["facts"]["max_days_overdue"] == 4
    assert found["overdue_task"]["title"] == "1 overdue task: Send quote"
    # An interaction on or after the follow-up date answers it.
    service.log_interaction(
        record, user_id=owner.id, interaction_type="email", occurred_at=now - timedelta(days=1)
    )
    db.session.commit()
    found = {item["insight_type"] for item in insights.candidates(insights.gather(record, now=now))}
    assert found == {"overdue_task"}


def test_generate_regenerate_dismiss_and_action_taken(client, headers, owner, make_record):
    record = make_record({"name": "Jane", "company": "Acme"}, days_old=45)
    url = f"/api/v1/records/{record.id}/insights/generate"
    first = client.post(url, headers=headers)
    assert first.status_code == 200, first.json
    assert (first.json["created"], first.json["updated"], first.json["resolved"]) == (2, 0, 0)
    assert first.json["provider"] == "local"
    items = _by_type(first.json["insights"])
    assert set(items) == {"stale", "missing_fields"}
    stale = items["stale"]
    assert stale["facts"]["days_since_activity"] == 45 and stale["status"] == "open"
    # The local provider words the facts, figures untouched.
    assert "45 days ago" in stale["body"] and stale["provider"] == "local"
    calls = db.session.scalars(sa.select(AiCall).where(AiCall.function == "records.insights")).all()
    assert len(calls) == 2 and all(call.user_id == owner.id and call.status == "success" for call in calls)

    # Same facts again: nothing new, no AI call, no duplicate.
    second = client.post(url, headers=headers).json
    assert (second["created"], second["updated"]) == (0, 0)
    assert len(_open_insights(record)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AiCall)) == 2

    # The facts change (a field filled): the open insight of that type is refreshed in place.
    changed = client.patch(
        f"/api/v1/records/{record.id}", headers=headers, json={"field_values": {"email": "jane@acme.test"}}
    )
    assert changed.status_code == 200
    third = client.post(url, headers=headers).json
    assert (third["created"], third["updated"], third["resolved"]) == (0, 1, 1)  # stale resolved: updated now
    (missing,) = third["insights"]
    assert missing["id"] == items["missing_fields"]["id"] and missing["facts"]["missing_important"] == [
        "phone"
    ]

    dismissed = client.post(
        f"/api/v1/records/insights/{missing['id']}/dismiss", headers=headers, json={"note": "No phone"}
    )
    assert dismissed.status_code == 200 and dismissed.json["status"] == "dismissed"
    assert dismissed.json["action_note"] == "No phone" and dismissed.json["acted_by_id"] == str(owner.id)
    # A dismissed situation is not raised again.
    fourth = client.post(url, headers=headers).json
    assert fourth["insights"] == [] and fourth["skipped"] == 1

    listed = client.get(f"/api/v1/records/{record.id}/insights", headers=headers).json
    assert listed["total"] == 0
    listed = client.get(
        f"/api/v1/records/{record.id}/insights", headers=headers, query_string={"include_dismissed": "true"}
    ).json
    assert [item["status"] for item in listed["items"]] == ["dismissed"]

    age(record, 40)
    fifth = client.post(url, headers=headers, json={"insight_types": ["stale"]}).json
    (stale,) = fifth["insights"]
    taken = client.post(f"/api/v1/records/insights/{stale['id']}/action-taken", headers=headers)
    assert taken.status_code == 200 and taken.json["status"] == "action_taken" and taken.json["acted_at"]
    listed = client.get(
        f"/api/v1/records/{record.id}/insights", headers=headers, query_string={"insight_type": "stale"}
    ).json
    assert [item["status"] for item in listed["items"]] == ["action_taken"]

    kinds = [row.event_type for row in db.session.scalars(sa.select(OutboxEvent))]
    assert kinds.count("record.insight_generated") == 3  # calls that changed nothing emit nothing
    assert "record.insight_dismissed" in kinds and "record.insight_action_taken" in kinds


def test_generate_validation_and_missing_record(client, headers, make_record):
    record = make_record()
    url = f"/api/v1/records/{record.id}/insights/generate"
    assert client.post(url, headers=headers, json={"insight_types": ["gossip"]}).status_code == 422
    assert client.post(url, headers=headers, json={"stale_after_days": 0}).status_code == 422
    assert (
        client.post(f"/api/v1/records/{uuid.uuid4()}/insights/generate", headers=headers).status_code == 404
    )
    assert client.post(f"/api/v1/records/insights/{uuid.uuid4()}/dismiss", headers=headers).status_code == 404
    assert (
        client.get(
            f"/api/v1/records/{record.id}/insights", headers=headers, query_string={"insight_type": "x"}
        ).status_code
        == 422
    )


def test_insights_of_a_deleted_record_are_gone(client, headers, owner, make_record):
    record = make_record({"name": "Jane", "company": "Acme"})
    result = client.post(f"/api/v1/records/{record.id}/insights/generate", headers=headers).json
    insight_id = result["insights"][0]["id"]
    assert client.delete(f"/api/v1/records/{record.id}", headers=headers).status_code == 204
    assert client.post(f"/api/v1/records/insights/{insight_id}/dismiss", headers=headers).status_code == 404
    assert client.get(f"/api/v1/records/{record.id}/insights", headers=headers).status_code == 404


def test_overdue_task_insight_priority_follows_the_tasks(owner, workspace, make_record):
    record = make_record(
        {"name": "Jane", "company": "Acme", "email": "j@acme.test", "phone": "+44 20 7946 0001"}
    )
    now = utcnow()
    create_task(
        workspace_id=workspace.id,
        user_id=owner.id,
        title="Urgent thing",
        priority="urgent",
        due_at=now - timedelta(hours=2),
        subject_type="record",
        subject_id=record.id,
    )
    db.session.commit()
    result = service.generate_insights(record, user_id=owner.id, now=now)
    db.session.commit()
    (insight,) = result["insights"]
    assert insight.insight_type == "overdue_task" and insight.priority == "urgent"
