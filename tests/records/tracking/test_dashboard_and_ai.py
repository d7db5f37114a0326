"""The recordset dashboard's numbers (exact), follow-up suggestions (ranking), a record's AI
analysis and message drafts, and the AI call log entries they leave."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from narrative.ai.models import AiCall
from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.records import service as records
from narrative.records.tracking import service
from narrative.records.tracking.insights import day
from narrative.records.tracking.models import RecordInsight

COMPLETE = {"name": "Jane Doe", "company": "Acme", "email": "jane@acme.test", "phone": "+442079460001"}


@pytest.fixture
def scene(owner, contacts, make_record):
    """A: complete and active, B: stale with gaps and an overdue task, C: a follow-up due,
    D: deleted (ignored), E: in another recordset (ignored)."""
    now = utcnow()
    a = make_record(COMPLETE)
    b = make_record({"name": "Bob Brown", "company": "Beta"}, days_old=50)
    c = make_record({**COMPLETE, "name": "Cara Cole"}, days_old=10)
    d = make_record(COMPLETE)
    log = service.log_interaction
    log(a, user_id=owner.id, interaction_type="call", subject="Renewal", occurred_at=now - timedelta(days=2))
    log(a, user_id=owner.id, interaction_type="email", occurred_at=now - timedelta(days=40))
    log(
        c,
        user_id=owner.id,
        interaction_type="meeting",
        occurred_at=now - timedelta(days=10),
        follow_up_at=now - timedelta(days=3),
    )
    log(d, user_id=owner.id, interaction_type="call", occurred_at=now - timedelta(days=1))
    task = service.create_record_task
    task(a, user_id=owner.id, title="Prepare renewal", due_at=now + timedelta(days=3))
    done = task(a, user_id=owner.id, title="Send deck")
    service.complete_record_task(done, a, user_id=owner.id)
    task(b, user_id=owner.id, title="Call back", due_at=now - timedelta(days=2))
    task(b, user_id=owner.id, title="Old idea", status="cancelled")
    task(d, user_id=owner.id, title="Gone", due_at=now - timedelta(days=2))
    other = records.create_recordset(workspace_id=contacts.workspace_id, user_id=owner.id, name="Other")
    e = records.create_record(recordset=other, values={}, user_id=owner.id)
    log(e, user_id=owner.id, interaction_type="call", occurred_at=now)
    db.session.commit()
    for record in (b, c, d):
        service.generate_insights(record, user_id=owner.id)
    db.session.commit()
    records.delete_record(d, user_id=owner.id)
    db.session.commit()
    return {"a": a, "b": b, "c": c, "d": d, "now": now}


def test_dashboard_numbers_are_exact(client, headers, contacts, scene):
    c_follow_up = db.session.scalar(
        sa.select(RecordInsight).where(
            RecordInsight.record_id == scene["c"].id, RecordInsight.insight_type == "follow_up_due"
        )
    )
    taken = client.post(f"/api/v1/records/insights/{c_follow_up.id}/action-taken", headers=headers)
    assert taken.status_code == 200

    response = client.get(f"/api/v1/recordsets/{contacts.id}/dashboard", headers=headers)
    assert response.status_code == 200, response.json
    board = response.json
    assert (board["period_days"], board["stale_after_days"]) == (30, 30)
    assert board["records"] == {
        "total": 3,
        "with_open_insights": 1,
        "without_interaction_last_30_days": 1,
        "never_contacted": 1,
        "stale": 1,
        "follow_up_due": 1,
        "with_overdue_tasks": 1,
    }
    assert board["insights"] == {
        "open": 3,
        "open_by_type": {"stale": 1, "missing_fields": 1, "overdue_task": 1},
        "open_by_priority": {"medium": 2, "high": 1},
        "action_taken_last_30_days": 1,
        "dismissed_last_30_days": 0,
    }
    assert board["interactions"] == {"last_30_days": 2, "by_type_last_30_days": {"call": 1, "meeting": 1}}
    assert board["tasks"] == {
        "open": 2,
        "overdue": 1,
        "due_next_7_days": 1,
        "completed": 1,
        "completed_last_30_days": 1,
        "cancelled": 1,
        "by_status": {"todo": 2, "completed": 1, "cancelled": 1},
    }
    assert [item["interaction_type"] for item in board["recent_interactions"]] == ["call", "meeting", "email"]
    # The slug names the recordset too; an unknown one is a 404.
    assert (
        client.get(f"/api/v1/recordsets/{contacts.slug}/dashboard", headers=headers).json["records"]["total"]
        == 3
    )
    assert client.get("/api/v1/recordsets/nope/dashboard", headers=headers).status_code == 404


def test_empty_dashboard(client, headers, contacts):
    board = client.get(f"/api/v1/recordsets/{contacts.id}/dashboard", headers=headers).json
    assert (
        board["records"]["total"] == 0
        and board["tasks"]["open"] == 0
        and board["insights"]["open_by_type"] == {}
    )


def test_follow_up_suggestions_are_ranked(client, headers, owner, contacts, scene):
    url = f"/api/v1/recordsets/{contacts.id}/follow-up-suggestions"
    response = client.post(url, headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert body["total"] == 2 and body["provider"] == "local"
    b, c = body["suggestions"]
    # Equal scores: the longest quiet first.
    assert (b["record_id"], b["score"], b["overdue_tasks"], b["follow_up_due"]) == (
        str(scene["b"].id),
        30,
        1,
        False,
    )
    assert (c["record_id"], c["score"], c["follow_up_due"]) == (str(scene["c"].id), 30, True)
    assert b["title"] == "Bob Brown" and b["days_since_activity"] == 50 and b["priority"] == "medium"
    assert b["reasons"][0].startswith("1 overdue task, the oldest due ")
    assert c["suggested_action"] == "Get back in touch as promised"
    assert "The reason to contact Bob Brown is 1 overdue task" in body["summary"]
    assert body["scoring"] == {"follow_up_due": 30, "per_overdue_task": 20, "per_stale_threshold": 10}
    only = client.post(url, headers=headers, json={"record_ids": [str(scene["c"].id)], "limit": 1}).json
    assert only["total"] == 1 and [s["record_id"] for s in only["suggestions"]] == [str(scene["c"].id)]
    assert client.post(url, headers=headers, json={"limit": 0}).status_code == 422
    calls = db.session.scalars(sa.select(AiCall).where(AiCall.function == "records.follow_up")).all()
    assert len(calls) == 2 and calls[0].user_id == owner.id


def test_no_suggestions_no_ai_call(client, headers, contacts, make_record):
    make_record(COMPLETE)
    body = client.post(f"/api/v1/recordsets/{contacts.id}/follow-up-suggestions", headers=headers).json
    assert body["suggestions"] == [] and body["total"] == 0 and body["provider"] is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AiCall)) == 0


def test_analyze_a_record(client, headers, scene):
    response = client.post(f"/api/v1/records/{scene['b'].id}/analyze", headers=headers)
    assert response.status_code == 200, response.json
    body = response.json
    assert (
        body["title"] == "Bob Brown" and body["health_score"] == 60
    )  # 100 - 20 stale - 10 gaps - 10 overdue
    assert body["facts"]["days_since_activity"] == 50 and body["facts"]["overdue_tasks"] == 1
    assert (
        body["facts"]["missing_important"] == ["email", "phone"] and body["facts"]["interaction_count"] == 0
    )
    assert {s["insight_type"] for s in body["signals"]} == {"stale", "missing_fields", "overdue_task"}
    assert body["recommendations"] == [
        'Complete or reschedule "Call back"',
        "Get back in touch: nothing has happened in 50 days",
        "Fill in Email, Phone",
        "Log the first interaction with this contact",
    ]
    assert "Its health score is 60 out of 100." in body["summary"]
    assert (
        db.session.scalar(
            sa.select(sa.func.count()).select_from(AiCall).where(AiCall.function == "records.analyze")
        )
        == 1
    )
    healthy = client.post(f"/api/v1/records/{scene['a'].id}/analyze", headers=headers, json={}).json
    assert healthy["health_score"] == 100 and healthy["recommendations"] == []


def test_draft_message(client, headers, scene):
    a = scene["a"]
    response = client.post(
        f"/api/v1/records/{a.id}/draft-message", headers=headers, json={"tone": "friendly"}
    )
    assert response.status_code == 200, response.json
    draft = response.json
    assert draft["recipient"] == {"name": "Jane Doe", "email": "jane@acme.test", "phone": "+442079460001"}
    assert draft["subject"] == "Following up: Jane Doe" and draft["channel"] == "email"
    call_day = day(scene["now"] - timedelta(days=2))
    assert draft["body"].startswith(
        f"Hi Jane,\n\nThe reason for my message is to follow up on our call of {call_day} about Renewal."
    )
    assert draft["body"].endswith("Cheers,\nOlivia Owner")
    assert draft["facts"]["last_interaction_type"] == "call" and draft["facts"]["preferred_channel"] == "call"
    sms = client.post(
        f"/api/v1/records/{a.id}/draft-message",
        headers=headers,
        json={
            "channel": "sms",
            "purpose": "Confirm Thursday's visit",
            "additional_context": "Bring the contract",
        },
    ).json
    assert sms["subject"] is None and sms["body"].startswith(
        "Hello Jane, The reason for my message is to confirm"
    )
    assert "Bring the contract" in sms["body"]
    for bad in ({"channel": "pigeon"}, {"tone": "angry"}, {"purpose": ""}):
        assert (
            client.post(f"/api/v1/records/{a.id}/draft-message", headers=headers, json=bad).status_code == 422
        )
    calls = db.session.scalars(sa.select(AiCall).where(AiCall.function == "records.draft_message")).all()
    assert len(calls) == 2 and all(call.provider == "local" for call in calls)
