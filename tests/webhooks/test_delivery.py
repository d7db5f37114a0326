"""Deliveries: signed per Standard Webhooks, retried on schedule, never lost, disabled after 5 days."""

import json
import uuid
from datetime import timedelta

import sqlalchemy as sa
from standardwebhooks import Webhook

from narrative.extensions import db, get_queue
from narrative.platform.email import EmailMessage
from narrative.platform.events import dispatch_pending
from narrative.platform.events.models import OutboxEvent
from narrative.platform.models import utcnow
from narrative.platform.tenancy import workspace_scope
from narrative.webhooks import delivery
from narrative.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.identity.factories import auth_headers, make_user
from tests.webhooks.conftest import create_webhook, emit_notes, run_scheduled_now, scheduled_jobs
from workers.worker import run_jobs_in_process


def attempts_of(webhook_id):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(WebhookAttempt)
        .where(WebhookAttempt.webhook_id == uuid.UUID(webhook_id))
        .order_by(WebhookAttempt.attempt_number)
    ).all()


def test_a_change_reaches_the_receiver_signed_as_the_independent_verifier_expects(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url, headers={"X-Receiver-Key": "abc"})
    other = create_webhook(auth_client, receiver.url, events=["webhook.test"])  # not subscribed

    emit_notes(auth_client, auth_client.workspace.id, "Call the supplier back")
    run_jobs_in_process(app)

    assert len(receiver.requests) == 1
    headers, body, _ = receiver.requests[0]
    payload = Webhook(hook["secret"]).verify(body, headers)
    assert payload["type"] == "probe.note.added"
    assert payload["data"] == {"text": "Call the supplier back"}
    assert payload["workspace_id"] == str(auth_client.workspace.id)
    assert headers["X-Receiver-Key"] == "abc"
    assert headers["webhook-id"].startswith("msg_")

    listed = auth_client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()
    (entry,) = listed["items"]
    assert entry["status"] == "succeeded" and entry["status_code"] == 200
    assert entry["attempt_number"] == 1 and entry["message_id"] == headers["webhook-id"]
    assert entry["response_body"] == '{"ok": true}' and entry["duration_ms"] >= 0
    assert auth_client.get(f"/api/v1/webhooks/{other['id']}/deliveries").get_json()["items"] == []


def test_the_same_event_seen_twice_by_the_consumer_is_one_message(app, auth_client, receiver):
    create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "once")
    run_jobs_in_process(app)
    event = db.session.scalars(sa.select(OutboxEvent)).one()
    from narrative.platform.events import Event
    from narrative.webhooks.service import queue_webhook_messages

    queue_webhook_messages(Event.from_row(event))  # at-least-once dispatch may replay it
    db.session.commit()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WebhookDelivery)) == 1


def test_failing_twice_then_succeeding_gives_three_attempts_on_the_schedule(app, auth_client, receiver):
    receiver.answers = [500, 503]
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "retry me")

    run_jobs_in_process(app)
    first, second = attempts_of(hook["id"])
    assert (first.status, first.status_code, second.status) == ("failed", 500, "scheduled")
    assert first.next_retry_at == second.scheduled_for
    assert abs((second.scheduled_for - first.finished_at).total_seconds() - 5) < 1
    ((job, when),) = scheduled_jobs()
    assert job.args == (str(second.id),)
    assert abs((when.replace(tzinfo=second.scheduled_for.tzinfo) - second.scheduled_for).total_seconds()) < 1

    run_scheduled_now(app)
    first, second, third = attempts_of(hook["id"])
    assert (second.status, second.status_code, third.status) == ("failed", 503, "scheduled")
    assert abs((third.scheduled_for - second.finished_at).total_seconds() - 300) < 1
    ((_job, when),) = scheduled_jobs()
    assert abs((when.replace(tzinfo=third.scheduled_for.tzinfo) - third.scheduled_for).total_seconds()) < 1

    run_scheduled_now(app)
    attempts = attempts_of(hook["id"])
    assert [a.status for a in attempts] == ["failed", "failed", "succeeded"]
    assert [a.attempt_number for a in attempts] == [1, 2, 3]
    assert len({h["webhook-id"] for h, _b, _t in receiver.requests}) == 1  # one message, three tries
    message = db.session.scalars(sa.select(WebhookDelivery)).one()
    assert (message.status, message.attempt_count) == ("succeeded", 3)
    listed = auth_client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").get_json()["items"]
    assert [item["attempt_number"] for item in listed] == [3, 2, 1]
    assert listed[2]["next_retry_at"] is not None


def test_the_retry_schedule_is_the_documented_one():
    assert delivery.RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)


def test_a_worker_killed_mid_delivery_does_not_lose_the_event(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "survive the crash")
    get_queue("default").empty()
    dispatch_pending(workspace_id=auth_client.workspace.id)  # the consumer wrote the attempt...
    (attempt,) = attempts_of(hook["id"])
    # ...a worker claimed it and died mid-request: the row says "sending" and its job is gone.
    attempt.status = "sending"
    attempt.started_at = utcnow() - timedelta(minutes=10)
    db.session.commit()
    get_queue("default").empty()

    assert delivery.sweep_webhook_attempts() == {"resent": 1, "requeued": 0}
    run_jobs_in_process(app)

    (attempt,) = attempts_of(hook["id"])
    assert attempt.status == "succeeded"
    assert "worker stopped" in attempt.error
    headers, body, _ = receiver.requests[0]
    assert Webhook(hook["secret"]).verify(body, headers)["data"] == {"text": "survive the crash"}


def test_a_scheduled_attempt_whose_job_was_lost_is_requeued(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "lost job")
    get_queue("default").empty()
    dispatch_pending(workspace_id=auth_client.workspace.id)
    get_queue("default").empty()  # Redis lost the attempt's job
    (attempt,) = attempts_of(hook["id"])
    attempt.scheduled_for = utcnow() - timedelta(minutes=6)
    db.session.commit()
    assert delivery.sweep_webhook_attempts() == {"resent": 0, "requeued": 1}
    run_jobs_in_process(app)
    assert attempts_of(hook["id"])[0].status == "succeeded"
    assert len(receiver.requests) == 1


def test_a_redirect_is_a_failure_and_is_not_followed(app, auth_client, receiver):
    receiver.answers = [302]
    receiver.location = receiver.url + "/elsewhere"
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "redirected")
    run_jobs_in_process(app)
    first = attempts_of(hook["id"])[0]
    assert (first.status, first.status_code) == ("failed", 302)
    assert "redirect" in first.error
    assert len(receiver.requests) == 1


def test_after_a_rotation_both_secrets_sign_during_the_grace_period(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    rotated = auth_client.post(f"/api/v1/webhooks/{hook['id']}/regenerate-secret").get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]

    emit_notes(auth_client, auth_client.workspace.id, "rotated")
    run_jobs_in_process(app)
    headers, body, _ = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(hook["secret"]).verify(body, headers)
    Webhook(rotated["secret"]).verify(body, headers)

    endpoint = db.session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
    endpoint.previous_secret_expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    emit_notes(auth_client, auth_client.workspace.id, "after the grace period")
    run_jobs_in_process(app)
    headers, body, _ = receiver.requests[1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    Webhook(rotated["secret"]).verify(body, headers)


def test_the_test_action_sends_the_registry_example_and_reports(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url, events=["*"])
    result = auth_client.post(f"/api/v1/webhooks/{hook['id']}/test", json={"event": "probe.note.added"})
    assert result.status_code == 200
    body = result.get_json()
    assert body["success"] is True and body["status_code"] == 200 and body["event"] == "probe.note.added"
    headers, sent, _ = receiver.requests[0]
    assert Webhook(hook["secret"]).verify(sent, headers)["data"] == {"text": "Call the supplier back"}

    receiver.default = 500
    failed = auth_client.post(f"/api/v1/webhooks/{hook['id']}/test", json={"payload": {"x": 1}}).get_json()
    assert failed["success"] is False and failed["status_code"] == 500 and failed["event"] == "webhook.test"
    assert json.loads(receiver.requests[1][1])["data"] == {"x": 1}
    assert not scheduled_jobs()  # a test send is never retried
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, uuid.UUID(hook["id"])).failing_since is None

    unknown = auth_client.post(f"/api/v1/webhooks/{hook['id']}/test", json={"event": "no.such"})
    assert unknown.status_code == 422


def test_redelivery_sends_the_same_message_again(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "again")
    run_jobs_in_process(app)
    message = db.session.scalars(sa.select(WebhookDelivery)).one()
    response = auth_client.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{message.id}/redeliver")
    assert response.status_code == 202
    assert response.get_json()["attempt_number"] == 2 and response.get_json()["trigger"] == "manual"
    run_jobs_in_process(app)
    assert len(receiver.requests) == 2
    assert receiver.requests[0][0]["webhook-id"] == receiver.requests[1][0]["webhook-id"]
    assert [a.status for a in attempts_of(hook["id"])] == ["succeeded", "succeeded"]


def test_redelivery_refuses_a_delivery_of_another_webhook_or_workspace(app, client, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    sibling = create_webhook(auth_client, receiver.url, events=["webhook.test"])
    emit_notes(auth_client, auth_client.workspace.id, "mine")
    run_jobs_in_process(app)
    message = db.session.scalars(sa.select(WebhookDelivery)).one()
    stranger = auth_headers(make_user())
    theirs = client.post("/api/v1/webhooks", headers=stranger, json={"url": receiver.url}).get_json()
    for webhook_id, delivery_id, headers in [
        (theirs["id"], message.id, stranger),  # another workspace's delivery under their own webhook
        (sibling["id"], message.id, {}),  # a delivery of another webhook of the same workspace
        (hook["id"], uuid.uuid4(), {}),
        (hook["id"], "not-a-uuid", {}),
    ]:
        sender = client if headers else auth_client
        path = f"/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"
        assert sender.post(path, headers=headers).status_code == 404, path
    assert [a.attempt_number for a in attempts_of(hook["id"])] == [1]


def test_an_attempt_job_scopes_itself_to_its_workspace(app, auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url)
    emit_notes(auth_client, auth_client.workspace.id, "scoped")
    dispatch_pending()
    attempt = attempts_of(hook["id"])[0]
    # RQ runs the job with no workspace in scope; whatever scope it starts in, it takes the attempt's.
    with workspace_scope(uuid.uuid4()):
        assert delivery.run_attempt(str(attempt.id)) == "succeeded"
    assert len(receiver.requests) == 1
    assert delivery.run_attempt(str(uuid.uuid4())) == "skipped"


def test_the_test_action_records_its_message_and_attempt(auth_client, receiver):
    hook = create_webhook(auth_client, receiver.url, events=["*"])
    result = auth_client.post(f"/api/v1/webhooks/{hook['id']}/test", json={})
    assert result.status_code == 200 and result.get_json()["success"] is True
    [attempt] = attempts_of(hook["id"])
    assert attempt.trigger == "test" and attempt.status == "succeeded" and attempt.started_at is not None
    assert str(attempt.delivery_id) == result.get_json()["delivery_id"]


def test_an_endpoint_failing_for_five_days_is_disabled_and_says_so(app, auth_client, receiver):
    receiver.default = 500
    hook = create_webhook(auth_client, receiver.url)
    endpoint = db.session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
    endpoint.failing_since = utcnow() - timedelta(days=5, minutes=1)
    db.session.commit()
    emit_notes(auth_client, auth_client.workspace.id, "one failure too many")
    run_jobs_in_process(app)

    db.session.expire_all()
    endpoint = db.session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
    assert endpoint.is_active is False and endpoint.disabled_reason
    disabled = db.session.scalars(
        sa.select(OutboxEvent).where(OutboxEvent.event_type == "webhook.disabled")
    ).one()
    assert disabled.payload["webhook_id"] == hook["id"]
    assert disabled.payload["created_by_id"] == str(auth_client.user.id)
    # Its owner is told, in the app and by email (webhook.disabled notifies by email by default).
    (notice,) = auth_client.get("/api/v1/notifications").get_json()["items"]
    assert notice["type"] == "webhook.disabled" and receiver.url in notice["title"]
    assert db.session.scalars(
        sa.select(EmailMessage).where(EmailMessage.to_address == auth_client.user.email)
    ).all()

    # The retry already scheduled finds the webhook off: a recorded final failure, nothing sent.
    run_scheduled_now(app)
    attempts = attempts_of(hook["id"])
    assert [a.status for a in attempts] == ["failed", "failed"]
    assert "disabled" in attempts[1].error
    assert db.session.scalars(sa.select(WebhookDelivery)).one().status == "failed"
    assert len(receiver.requests) == 1

    toggled = auth_client.post(f"/api/v1/webhooks/{hook['id']}/toggle").get_json()
    assert toggled["is_active"] is True and toggled["failing_since"] is None


def test_the_last_scheduled_attempt_failing_is_a_recorded_final_failure(app, auth_client, receiver):
    receiver.default = 500
    hook = create_webhook(auth_client, receiver.url)
    endpoint = db.session.get(WebhookEndpoint, uuid.UUID(hook["id"]))
    message = WebhookDelivery(
        workspace_id=endpoint.workspace_id,
        webhook_id=endpoint.id,
        event_type="probe.note.added",
        body='{"type":"probe.note.added"}',
        status="pending",
        attempt_count=7,
        created_at=utcnow(),
    )
    db.session.add(message)
    db.session.flush()
    last = delivery.schedule_attempt(message, attempt_number=8, delay_seconds=0)
    db.session.commit()
    run_jobs_in_process(app)
    db.session.expire_all()
    assert db.session.get(WebhookAttempt, last.id).status == "failed"
    assert db.session.get(WebhookAttempt, last.id).next_retry_at is None
    assert db.session.get(WebhookDelivery, message.id).status == "failed"
    assert not scheduled_jobs()
