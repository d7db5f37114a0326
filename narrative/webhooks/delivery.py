"""Delivering webhook messages: one RQ job per attempt, retried on a fixed schedule, swept if lost.

Why plain RQ jobs and not `narrative.platform.jobs.enqueue_job`: an attempt's own row
(`WebhookAttempt`) is the durable record people read (status code, duration, response body, next
retry); a `Job` row per attempt would double every write and fill users' job lists with plumbing.
Retries use RQ's scheduler (`enqueue_in`), run by every worker started `with_scheduler`.

The life of an attempt:

1. Its row is written "scheduled" in the transaction that decides it (the outbox consumer, a
   failed attempt, a redelivery); the RQ job is enqueued after that commit.
2. The job claims the row ("scheduled" -> "sending", a conditional UPDATE, so a duplicate job
   does nothing) and commits before the request leaves.
3. It sends the message (safe outbound client, no redirects followed: a 3xx is a failure) and
   records the outcome. Success is a 2xx within 15 s. A failure schedules the next attempt after
   5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h; after the last one the message is a recorded
   final failure. An endpoint whose attempts have failed for 5 days is disabled and a
   `webhook.disabled` event tells its owner.
4. `sweep_webhook_attempts` (every minute) re-sends attempts left "sending" by a worker that died
   and re-enqueues "scheduled" attempts whose job never ran (Redis lost it, enqueue failed).
   So each message ends delivered or failed on record: at least once, never silently dropped.
"""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import httpx
import redis
import sqlalchemy as sa

from narrative.extensions import db, get_queue
from narrative.platform import unit_of_work
from narrative.platform.events import emit
from narrative.platform.models import utcnow
from narrative.platform.outbound import SafeClient, UnsafeUrl, UpstreamUnreachable, private_urls_allowed
from narrative.platform.periodic import every
from narrative.platform.tenancy import all_workspaces, workspace_scope
from narrative.platform.transactions import on_commit
from narrative.webhooks import signing
from narrative.webhooks.models import (
    ATTEMPT_FAILED,
    ATTEMPT_SUCCEEDED,
    FAILED,
    PENDING,
    SCHEDULED,
    SENDING,
    SUCCEEDED,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

log = logging.getLogger("narrative.webhooks")

# Seconds to wait after attempt n (1-based) failed before attempt n + 1: eight attempts in all.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
SUCCESS_WITHIN_SECONDS = 15
TIMEOUT = httpx.Timeout(SUCCESS_WITHIN_SECONDS, connect=5.0)
DISABLE_AFTER = timedelta(days=5)
RESPONSE_BODY_LIMIT = 2048
DELIVERY_QUEUE = "default"
JOB_TIMEOUT = 60
# An attempt "sending" for longer than its job could run belongs to a worker that died.
STUCK_AFTER = timedelta(seconds=JOB_TIMEOUT * 2)
# A "scheduled" attempt this late never reached a worker (its RQ job was lost).
LOST_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 500
USER_AGENT = "Narrative-Webhooks/1.0"
DELIVER_JOB = "narrative.webhooks.delivery.run_attempt"


@dataclass
class Outcome:
    success: bool
    status_code: int | None
    duration_ms: int
    response_body: str | None
    error: str | None


# ---- scheduling ------------------------------------------------------------------------------------


def new_attempt(message, *, attempt_number, trigger="event", status=SCHEDULED, scheduled_for=None):
    attempt = WebhookAttempt(
        workspace_id=message.workspace_id,
        webhook_id=message.webhook_id,
        delivery_id=message.id,
        attempt_number=attempt_number,
        trigger=trigger,
        status=status,
        scheduled_for=scheduled_for or utcnow(),
        created_at=utcnow(),
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def schedule_attempt(message, *, attempt_number, delay_seconds, trigger="event"):
    """Write the attempt's row now; enqueue its job once the current transaction commits."""
    due = utcnow() + timedelta(seconds=delay_seconds)
    attempt = new_attempt(message, attempt_number=attempt_number, trigger=trigger, scheduled_for=due)
    message.next_attempt_at = due
    attempt_id = attempt.id
    on_commit(lambda: enqueue_attempt(attempt_id, delay_seconds))
    return attempt


def rq_job_id(attempt_id):
    return f"webhook-attempt-{attempt_id}"


def enqueue_attempt(attempt_id, delay_seconds=0):
    """Queue (or schedule) the RQ job of one attempt; a lost request is caught by the sweep."""
    options = {
        "job_id": rq_job_id(attempt_id),
        "job_timeout": JOB_TIMEOUT,
        "result_ttl": 0,
        "failure_ttl": 24 * 3600,
        "description": f"webhook attempt {attempt_id}",
    }
    queue = get_queue(DELIVERY_QUEUE)
    try:
        if delay_seconds > 0:
            queue.enqueue_in(timedelta(seconds=delay_seconds), DELIVER_JOB, str(attempt_id), **options)
        else:
            queue.enqueue(DELIVER_JOB, str(attempt_id), **options)
    except (redis.RedisError, OSError):
        log.warning("could not enqueue webhook attempt %s; the sweep will", attempt_id, exc_info=True)


# ---- sending ---------------------------------------------------------------------------------------

_clients = {}


def _client():
    """One pooled safe client per process and address policy (keep-alive between deliveries)."""
    allow_private = private_urls_allowed()
    client = _clients.get(allow_private)
    if client is None or client.is_closed:
        client = _clients[allow_private] = SafeClient(allow_private=allow_private, timeout=TIMEOUT)
    return client


def signing_secrets(endpoint, *, now):
    in_use = [signing.decrypt_secret(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires is not None and expires > now:
        in_use.append(signing.decrypt_secret(endpoint.previous_secret_encrypted))
    return in_use


def request_headers(endpoint, message, *, timestamp):
    headers = dict(endpoint.headers or {})
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": message.message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature_header(
                signing_secrets(endpoint, now=utcnow()),
                message_id=message.message_id,
                timestamp=timestamp,
                body=message.body,
            ),
        }
    )
    return headers


def _read_some(response):
    """The start of the response body (for the delivery log); the rest is not read."""
    data = b""
    for chunk in response.iter_bytes():
        data += chunk
        if len(data) >= RESPONSE_BODY_LIMIT:
            break
    return data[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")


def send(endpoint, message):
    """POST the message once; never raises for the receiver's or the network's failures."""
    timestamp = int(time.time())
    started = time.monotonic()
    status_code = body = error = None
    try:
        headers = request_headers(endpoint, message, timestamp=timestamp)
        client = _client()
        request = client.build_request("POST", endpoint.url, content=message.body.encode(), headers=headers)
        response = client.send(request, stream=True)
        try:
            status_code = response.status_code
            body = _read_some(response)
        finally:
            response.close()
    except UnsafeUrl as exc:
        error = exc.message
    except UpstreamUnreachable as exc:
        error = exc.message
    except httpx.TimeoutException:
        error = f"No answer within {SUCCESS_WITHIN_SECONDS} seconds."
    except httpx.HTTPError as exc:
        error = f"The request failed ({type(exc).__name__})."
    duration_ms = int((time.monotonic() - started) * 1000)
    success = status_code is not None and 200 <= status_code < 300
    if success and duration_ms > SUCCESS_WITHIN_SECONDS * 1000:
        success, error = False, f"The answer took longer than {SUCCESS_WITHIN_SECONDS} seconds."
    if status_code is not None and not success and error is None:
        if 300 <= status_code < 400:
            error = f"The receiver redirected ({status_code}); redirects are not followed."
        else:
            error = f"The receiver answered {status_code}."
    return Outcome(success, status_code, duration_ms, body, error)


# ---- recording -------------------------------------------------------------------------------------


def record_outcome(attempt, message, endpoint, outcome, *, schedule_retries=True):
    """Write the attempt's result; schedule the next attempt or settle the message."""
    now = utcnow()
    attempt.status = ATTEMPT_SUCCEEDED if outcome.success else ATTEMPT_FAILED
    attempt.finished_at = now
    attempt.status_code = outcome.status_code
    attempt.duration_ms = outcome.duration_ms
    attempt.response_body = outcome.response_body
    if outcome.error:
        attempt.error = outcome.error[:1000]  # else keep the sweep's note of an interrupted try
    message.attempt_count = max(message.attempt_count or 0, attempt.attempt_number)
    message.last_status_code = outcome.status_code
    message.next_attempt_at = None
    if outcome.success:
        message.status = SUCCEEDED
        message.completed_at = now
        if attempt.trigger != "test":
            endpoint.failing_since = None
        return
    retry_index = attempt.attempt_number - 1
    if (
        schedule_retries
        and attempt.trigger == "event"
        and retry_index < len(RETRY_DELAYS)
        and endpoint.is_active
    ):
        delay = RETRY_DELAYS[retry_index]
        following = schedule_attempt(message, attempt_number=attempt.attempt_number + 1, delay_seconds=delay)
        attempt.next_retry_at = following.scheduled_for
        message.status = PENDING
    else:
        message.status = FAILED
        message.completed_at = now
    if attempt.trigger == "test":
        return  # a test send says nothing about the endpoint's health
    if endpoint.failing_since is None:
        endpoint.failing_since = attempt.started_at or now
    if endpoint.is_active and now - endpoint.failing_since >= DISABLE_AFTER:
        disable_for_failures(endpoint, now=now)


def disable_for_failures(endpoint, *, now):
    """Switch a webhook off after 5 days of failures and say so (an event: its owner is notified).

    Emitted from the delivery job, never from the webhooks consumer; the endpoint is inactive by
    the time the event is dispatched, so it does not receive its own obituary.
    """
    endpoint.is_active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = "Deliveries failed for 5 days."
    emit(
        "webhook.disabled",
        {
            "webhook_id": endpoint.id,
            "url": endpoint.url,
            "failing_since": endpoint.failing_since,
            "created_by_id": endpoint.created_by_id,
            "reason": endpoint.disabled_reason,
        },
        workspace_id=endpoint.workspace_id,
    )
    log.warning("webhook %s disabled after failing since %s", endpoint.id, endpoint.failing_since)


def _claim(attempt_id):
    """scheduled -> sending, committed; False when another job already has it (or it is done)."""
    claimed = db.session.execute(
        sa.update(WebhookAttempt)
        .where(WebhookAttempt.id == attempt_id, WebhookAttempt.status == SCHEDULED)
        .values(status=SENDING, started_at=utcnow())
    ).rowcount
    # The claim must be on record before the request leaves (a duplicate job then does nothing).
    unit_of_work.commit()
    return bool(claimed)


def _workspace_of(attempt_id):
    # A plain RQ job (no job runner scopes it): the attempt row names the workspace it runs for.
    with all_workspaces():
        return db.session.scalar(
            sa.select(WebhookAttempt.workspace_id).where(WebhookAttempt.id == attempt_id)
        )


def run_attempt(attempt_id):
    """The RQ job of one attempt (see the module docstring), scoped to the attempt's workspace.

    No request or job runner owns this transaction, so it commits its own unit of work."""
    attempt_id = uuid.UUID(str(attempt_id))
    workspace_id = _workspace_of(attempt_id)
    if workspace_id is None:
        return "skipped"  # deleted with its webhook meanwhile
    with workspace_scope(workspace_id):
        if not _claim(attempt_id):
            return "skipped"
        attempt = db.session.get(WebhookAttempt, attempt_id)
        message = db.session.get(WebhookDelivery, attempt.delivery_id)
        endpoint = db.session.get(WebhookEndpoint, attempt.webhook_id)
        if not endpoint.is_active and attempt.trigger == "event":
            outcome = Outcome(False, None, 0, None, "The webhook is disabled; the message was not sent.")
            record_outcome(attempt, message, endpoint, outcome, schedule_retries=False)
        else:
            outcome = send(endpoint, message)
            record_outcome(attempt, message, endpoint, outcome)
        unit_of_work.commit()
        return attempt.status


# ---- the sweep -------------------------------------------------------------------------------------


@every(60)
def sweep_webhook_attempts():
    """Re-send attempts a dead worker left "sending"; re-enqueue "scheduled" ones whose job was lost."""
    now = utcnow()
    stuck = db.session.scalars(
        sa.select(WebhookAttempt)
        .where(WebhookAttempt.status == SENDING, WebhookAttempt.started_at < now - STUCK_AFTER)
        .limit(SWEEP_LIMIT)
    ).all()
    for attempt in stuck:
        # The receiver may or may not have it; receivers dedupe on webhook-id, so send again.
        attempt.status = SCHEDULED
        attempt.scheduled_for = now
        attempt.started_at = None
        attempt.error = "The worker stopped during this attempt; it was sent again."
    lost = db.session.scalars(
        sa.select(WebhookAttempt.id)
        .where(WebhookAttempt.status == SCHEDULED, WebhookAttempt.scheduled_for < now - LOST_AFTER)
        .limit(SWEEP_LIMIT)
    ).all()
    resend = [attempt.id for attempt in stuck]
    unit_of_work.commit()  # a periodic job: its own unit of work, committed before the re-enqueue
    for attempt_id in [*resend, *lost]:
        enqueue_attempt(attempt_id)
    if resend or lost:
        log.info(
            "webhook sweep: %s interrupted attempts re-sent, %s lost jobs re-enqueued", len(resend), len(lost)
        )
    return {"resent": len(resend), "requeued": len(lost)}
