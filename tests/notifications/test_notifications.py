"""Notifications: made from events, honouring preferences, read/delete, broadcasts, stream, email."""

import json
import uuid

import sqlalchemy as sa

from narrative.extensions import db
from narrative.notifications import service
from narrative.platform.email import EmailMessage
from narrative.platform.events import emit
from tests.identity.factories import auth_headers, make_user, workspace_of
from workers.worker import run_jobs_in_process


def job_event(app, user, event_type="job.completed", kind="contacts.import"):
    workspace = workspace_of(user)
    payload = {"job_id": "job_x", "kind": kind, "status": "COMPLETED", "user_id": str(user.id)}
    if event_type == "job.failed":
        payload.update(status="FAILED", error="The file has no header row.")
    emit(event_type, payload, workspace_id=workspace.id)
    db.session.commit()
    run_jobs_in_process(app)


def emails_to(user):
    db.session.expire_all()
    return db.session.scalars(sa.select(EmailMessage).where(EmailMessage.to_address == user.email)).all()


def test_an_event_becomes_a_notification_that_can_be_read(app, auth_client):
    job_event(app, auth_client.user)
    listed = auth_client.get("/api/v1/notifications").get_json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert item["type"] == "job.completed" and item["title"] == "contacts.import finished"
    assert item["is_read"] is False and item["category"] == "Owned Actions"
    assert auth_client.get("/api/v1/notifications/unread-count").get_json() == {"count": 1}
    read = auth_client.put(f"/api/v1/notifications/{item['id']}/read").get_json()
    assert read["is_read"] is True
    assert auth_client.get("/api/v1/notifications/unread-count").get_json() == {"count": 0}
    assert auth_client.get("/api/v1/notifications?unread_only=true").get_json()["total"] == 0
    assert emails_to(auth_client.user) == []  # job.completed: in-app only by default


def test_mark_read_one_several_all_and_delete(app, auth_client):
    for _ in range(3):
        job_event(app, auth_client.user)
    ids = [i["id"] for i in auth_client.get("/api/v1/notifications").get_json()["items"]]
    assert auth_client.post(
        "/api/v1/notifications/mark-read", json={"notification_id": ids[0]}
    ).get_json() == {"updated": 1}
    assert auth_client.post(
        "/api/v1/notifications/mark-read", json={"notification_ids": ids[:2]}
    ).get_json() == {"updated": 1}
    assert auth_client.post("/api/v1/notifications/mark-read", json={}).get_json() == {"updated": 1}
    job_event(app, auth_client.user)
    assert auth_client.put("/api/v1/notifications/read-all").get_json() == {"updated": 1}
    assert auth_client.delete(f"/api/v1/notifications/{ids[0]}").status_code == 200
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 3
    assert auth_client.delete(f"/api/v1/notifications/{ids[0]}").status_code == 404


def test_failure_notifications_are_emailed_and_preferences_are_honoured(app, auth_client):
    user = auth_client.user
    job_event(app, user, "job.failed")
    (mail,) = emails_to(user)
    assert mail.subject == "contacts.import failed" and "no header row" in mail.text_body

    # Email off for failures: in-app only.
    auth_client.put("/api/v1/notifications/preferences/v2/job.failed", json={"email_enabled": False})
    job_event(app, user, "job.failed")
    assert len(emails_to(user)) == 1
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 2

    # Muted: nothing at all.
    auth_client.put("/api/v1/notifications/preferences/v2/job.failed", json={"muted": True})
    job_event(app, user, "job.failed")
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 2

    # In-app off, email on: an email but no notification.
    auth_client.put(
        "/api/v1/notifications/preferences/v2/job.completed",
        json={"inapp_enabled": False, "email_enabled": True},
    )
    job_event(app, user, "job.completed")
    assert len(emails_to(user)) == 2
    assert auth_client.get("/api/v1/notifications?type=job.completed").get_json()["total"] == 0

    v2 = auth_client.get("/api/v1/notifications/preferences/v2").get_json()
    assert v2["job.failed"]["muted"] is True and v2["job.completed"]["email_enabled"] is True
    assert v2["webhook.disabled"] == {
        **service.default_settings("webhook.disabled"),
        "category": "Integrations",
        "customised": False,
    }


def test_digest_mode_gathers_emails(app, auth_client):
    user = auth_client.user
    settings = auth_client.put(
        "/api/v1/notifications/email-delivery",
        json={"email_delivery_mode": "digest", "digest_frequency_minutes": "30"},
    ).get_json()
    assert settings == {"email_delivery_mode": "digest", "digest_frequency_minutes": "30"}
    job_event(app, user, "job.failed")
    job_event(app, user, "job.failed")
    assert emails_to(user) == []
    assert service.send_notification_digests() == {"digests": 1}
    (digest,) = emails_to(user)
    assert digest.subject == "2 notifications need your attention"
    assert service.send_notification_digests() == {"digests": 0}


def test_broadcasts_reach_every_member_with_their_own_read_state(app, client, auth_client):
    workspace = auth_client.workspace
    colleague = make_user(role="member", workspace=workspace)
    service.notify(workspace_id=workspace.id, event_type="team.created", title="Team Sales was created")
    db.session.commit()
    theirs = auth_headers(colleague)
    (item,) = client.get("/api/v1/notifications", headers=theirs).get_json()["items"]
    assert item["is_broadcast"] is True
    assert auth_client.post("/api/v1/notifications/mark-read", json={}).get_json() == {"updated": 1}
    assert client.get("/api/v1/notifications/unread-count", headers=theirs).get_json() == {"count": 1}
    assert client.delete(f"/api/v1/notifications/{item['id']}", headers=theirs).status_code == 200
    assert client.get("/api/v1/notifications", headers=theirs).get_json()["total"] == 0
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 1
    stranger = auth_headers(make_user())
    assert client.delete(f"/api/v1/notifications/{item['id']}", headers=stranger).status_code == 404


def test_the_stream_sends_new_notifications(app, auth_client):
    app.config["SSE_MAX_STREAM_SECONDS"] = 0.5
    try:
        job_event(app, auth_client.user)
        response = auth_client.get("/api/v1/notifications/stream")
        assert response.mimetype == "text/event-stream"
        frames = [
            json.loads(line[len("data: ") :])
            for line in response.get_data(as_text=True).splitlines()
            if line.startswith("data: ")
        ]
    finally:
        app.config.pop("SSE_MAX_STREAM_SECONDS")
    assert frames[0]["type"] == "notification"
    assert frames[0]["notification"]["title"] == "contacts.import finished"


def test_preference_endpoints(auth_client):
    created = auth_client.post(
        "/api/v1/notifications/me", json={"event_type": "job.completed", "email_enabled": True}
    )
    assert created.status_code == 201 and created.get_json()["inapp_enabled"] is True
    pref_id = created.get_json()["id"]
    updated = auth_client.put(f"/api/v1/notifications/me/{pref_id}", json={"muted": True}).get_json()
    assert updated["muted"] is True and updated["email_enabled"] is True
    bulk = auth_client.put(
        "/api/v1/notifications/me/bulk",
        json={
            "preferences": [
                {"event_type": "job.failed", "email_enabled": False},
                {"event_type": "job.completed", "muted": False},
            ]
        },
    ).get_json()
    assert {p["event_type"]: p for p in bulk}["job.completed"]["muted"] is False
    assert len(auth_client.get("/api/v1/notifications/me").get_json()) == 2
    reset = auth_client.post("/api/v1/notifications/me/reset").get_json()
    assert len(reset) == len(service.KINDS)
    assert {p["event_type"]: p for p in reset}["job.failed"]["email_enabled"] is True
    some = reset[0]["id"]
    assert auth_client.delete(f"/api/v1/notifications/me/{some}").status_code == 204
    assert auth_client.delete(f"/api/v1/notifications/me/{some}").status_code == 404
    defaults = auth_client.get("/api/v1/notifications/defaults").get_json()
    assert defaults["Integrations"]["webhook.disabled"]["email_enabled"] is True
    assert auth_client.get("/api/v1/notifications/email-delivery").get_json() == {
        "email_delivery_mode": "instant",
        "digest_frequency_minutes": "60",
    }


def test_notification_ids_in_a_payload_must_be_the_callers_own(app, client, auth_client):
    colleague = make_user(role="member", workspace=auth_client.workspace)
    job_event(app, colleague)
    stranger = make_user()
    job_event(app, stranger)
    service.notify(workspace_id=workspace_of(stranger).id, event_type="team.created", title="Far away")
    db.session.commit()
    theirs = client.get("/api/v1/notifications", headers=auth_headers(colleague)).get_json()["items"][0]["id"]
    far = [
        i["id"]
        for i in client.get("/api/v1/notifications", headers=auth_headers(stranger)).get_json()["items"]
    ]
    assert len(far) == 2  # the stranger's own and their workspace's broadcast

    for foreign in (theirs, *far, str(uuid.uuid4())):
        one = auth_client.post("/api/v1/notifications/mark-read", json={"notification_id": foreign})
        assert one.status_code == 422 and one.get_json()["details"][0]["field"] == "notification_id"
        several = auth_client.post("/api/v1/notifications/mark-read", json={"notification_ids": [foreign]})
        assert (
            several.status_code == 422 and several.get_json()["details"][0]["field"] == "notification_ids.0"
        )
        assert auth_client.put(f"/api/v1/notifications/{foreign}/read").status_code == 404
        assert auth_client.delete(f"/api/v1/notifications/{foreign}").status_code == 404

    # Nothing of theirs was touched, and another workspace's broadcast is not counted here.
    assert client.get("/api/v1/notifications/unread-count", headers=auth_headers(colleague)).get_json() == {
        "count": 1
    }
    assert client.get("/api/v1/notifications/unread-count", headers=auth_headers(stranger)).get_json() == {
        "count": 2
    }
    assert auth_client.get("/api/v1/notifications/unread-count").get_json() == {"count": 0}
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 0


def test_notify_reaches_only_active_members_of_its_workspace(auth_client):
    workspace = auth_client.workspace
    stranger = make_user()
    created = service.notify(
        workspace_id=workspace.id,
        event_type="job.completed",
        title="Done",
        user_ids=[auth_client.user.id, stranger.id, uuid.uuid4()],
    )
    db.session.commit()
    assert [row.user_id for row in created] == [auth_client.user.id]
    assert auth_client.get("/api/v1/notifications").get_json()["total"] == 1
