"""Webhooks: endpoints (CRUD, secrets, toggling), the outbox consumer that queues messages for them,
test sends and redeliveries. The HTTP side of a delivery attempt is in `narrative.webhooks.delivery`.
"""

import json
import re
from datetime import timedelta

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.events import consumer, get_event_type, register_event_type
from narrative.platform.models import new_id, utcnow
from narrative.platform.outbound import validate_url
from narrative.platform.tenancy import get_or_404, tenant_select
from narrative.webhooks import delivery, signing
from narrative.webhooks.models import (
    PENDING,
    SCHEDULED,
    SENDING,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

ALL_EVENTS = "*"
MAX_EXTRA_HEADERS = 20
# A rotated-out secret keeps signing (beside the new one) this long, so receivers can switch over.
ROTATION_GRACE = timedelta(hours=24)
TEST_EVENT = "webhook.test"
# Headers the platform sets itself; a webhook's extra headers may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "user-agent", "transfer-encoding", "connection"}
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")

register_event_type(
    "webhook.disabled",
    description="A webhook was switched off after its deliveries kept failing for 5 days.",
    example={
        "webhook_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0d",
        "url": "https://example.com/hooks/narrative",
        "failing_since": "2025-01-10T08:00:00+00:00",
        "created_by_id": "0190f1c2-1111-7b21-9c4d-5e6f7a8b9c0d",
        "reason": "Deliveries failed for 5 days.",
    },
)
register_event_type(
    TEST_EVENT,
    description="A test message sent from a webhook's test action to check the receiver.",
    example={"message": "This is a test message from Narrative."},
)


# ---- endpoints -------------------------------------------------------------------------------------


def _checked_events(events):
    if events is None:
        return None
    if not events:
        raise ValidationFailed(
            details=[{"field": "events", "message": "Name at least one event type or '*'."}]
        )
    unknown = [name for name in events if name != ALL_EVENTS and get_event_type(name) is None]
    if unknown:
        raise ValidationFailed(
            details=[
                {
                    "field": "events",
                    "message": f"Unknown event types: {', '.join(unknown)} (see GET /api/v1/webhooks/events).",
                }
            ]
        )
    return [ALL_EVENTS] if ALL_EVENTS in events else sorted(set(events))


def _checked_headers(headers):
    if headers is None:
        return None
    if len(headers) > MAX_EXTRA_HEADERS:
        raise ValidationFailed(
            details=[{"field": "headers", "message": f"At most {MAX_EXTRA_HEADERS} headers."}]
        )
    for name, value in headers.items():
        lowered = name.lower()
        problem = None
        if not _HEADER_NAME.match(name):
            problem = f"{name!r} is not a valid header name."
        elif lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            problem = f"{name} is set by Narrative and cannot be replaced."
        elif not isinstance(value, str) or len(value) > 1000 or "\n" in value or "\r" in value:
            problem = f"The value of {name} must be one line of at most 1000 characters."
        if problem:
            raise ValidationFailed(details=[{"field": f"headers.{name}", "message": problem}])
    return dict(headers)


def _checked_secret(secret):
    try:
        signing.secret_key_bytes(secret)
    except ValueError as exc:
        raise ValidationFailed(details=[{"field": "secret", "message": f"The secret {exc}."}]) from None
    return secret


def _set_secret(endpoint, secret):
    endpoint.secret_encrypted = signing.encrypt_secret(secret)
    endpoint.secret_last4 = secret[-4:]


def create_webhook(
    *,
    workspace_id,
    created_by_id,
    url,
    events=None,
    headers=None,
    is_active=True,
    description=None,
    secret=None,
):
    """Returns (endpoint, secret): the secret in clear, to be shown this once."""
    url = validate_url(url.strip(), field="url")
    secret = _checked_secret(secret) if secret else signing.new_secret()
    endpoint = WebhookEndpoint(
        workspace_id=workspace_id,
        created_by_id=created_by_id,
        url=url,
        description=description,
        events=_checked_events(events) if events is not None else [ALL_EVENTS],
        headers=_checked_headers(headers) or {},
        is_active=is_active,
    )
    _set_secret(endpoint, secret)
    db.session.add(endpoint)
    db.session.flush()
    return endpoint, secret


def list_webhooks_query(*, is_active=None):
    stmt = tenant_select(WebhookEndpoint)
    if is_active is not None:
        stmt = stmt.where(WebhookEndpoint.is_active.is_(is_active))
    return stmt


def count_webhooks(*, is_active=None):
    stmt = list_webhooks_query(is_active=is_active)
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))


def get_webhook(webhook_id):
    return get_or_404(WebhookEndpoint, webhook_id)


def _activate(endpoint, active):
    if active and not endpoint.is_active:
        # Switched back on by a person: the failure clock starts afresh.
        endpoint.failing_since = None
        endpoint.disabled_at = None
        endpoint.disabled_reason = None
    endpoint.is_active = active


def update_webhook(endpoint, *, changes):
    """Apply the given fields (url, events, headers, is_active, description, secret)."""
    new_secret = None
    if "url" in changes:
        endpoint.url = validate_url(changes["url"].strip(), field="url")
    if "events" in changes:
        endpoint.events = _checked_events(changes["events"])
    if "headers" in changes:
        endpoint.headers = _checked_headers(changes["headers"] or {})
    if "description" in changes:
        endpoint.description = changes["description"]
    if "is_active" in changes and changes["is_active"] is not None:
        _activate(endpoint, changes["is_active"])
    if changes.get("secret"):
        new_secret = rotate_secret(endpoint, secret=_checked_secret(changes["secret"]))
    db.session.flush()
    return new_secret


def toggle_webhook(endpoint):
    _activate(endpoint, not endpoint.is_active)
    db.session.flush()
    return endpoint


def rotate_secret(endpoint, *, secret=None):
    """Replace the secret; the old one keeps signing alongside for ROTATION_GRACE. Returns the new one."""
    secret = secret or signing.new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_expires_at = utcnow() + ROTATION_GRACE
    _set_secret(endpoint, secret)
    db.session.flush()
    return secret


def delete_webhook(endpoint):
    # Attempts and deliveries go with it (ORM-level deletes: SQLite may not enforce the cascade).
    db.session.execute(sa.delete(WebhookAttempt).where(WebhookAttempt.webhook_id == endpoint.id))
    db.session.execute(sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == endpoint.id))
    db.session.delete(endpoint)
    db.session.flush()


def subscribes_to(endpoint, event_type):
    return ALL_EVENTS in endpoint.events or event_type in endpoint.events


# ---- messages ---------------------------------------------------------------------------------------


def message_body(*, event_id, event_type, workspace_id, created_at, data):
    """The JSON body receivers get: Standard Webhooks' {type, timestamp, data} plus ids."""
    return json.dumps(
        {
            "id": str(event_id) if event_id else None,
            "type": event_type,
            "timestamp": created_at.isoformat(),
            "workspace_id": str(workspace_id),
            "data": data,
        },
        separators=(",", ":"),
        default=str,
    )


def _delivery_row(endpoint, *, event_id, event_type, body, is_test=False):
    return WebhookDelivery(
        id=new_id(),
        workspace_id=endpoint.workspace_id,
        webhook_id=endpoint.id,
        event_id=event_id,
        event_type=event_type,
        body=body,
        is_test=is_test,
        status=PENDING,
        attempt_count=0,
        created_at=utcnow(),
    )


def new_delivery(endpoint, **fields):
    message = _delivery_row(endpoint, **fields)
    db.session.add(message)
    db.session.flush()
    return message


@consumer("webhooks")
def queue_webhook_messages(event):
    """For each active endpoint subscribed to the event: a message and its first attempt.

    Emits nothing (a consumer that emitted would be fed its own events). Idempotent per event.
    """
    # The dispatcher runs consumers scoped to the event's workspace.
    endpoints = db.session.scalars(
        sa.select(WebhookEndpoint).where(WebhookEndpoint.is_active.is_(True))
    ).all()
    targets = [endpoint for endpoint in endpoints if subscribes_to(endpoint, event.type)]
    if not targets:
        return
    already = set(
        db.session.scalars(sa.select(WebhookDelivery.webhook_id).where(WebhookDelivery.event_id == event.id))
    )
    for endpoint in targets:
        if endpoint.id in already:
            continue
        body = message_body(
            event_id=event.id,
            event_type=event.type,
            workspace_id=event.workspace_id,
            created_at=event.created_at,
            data=event.payload,
        )
        message = new_delivery(endpoint, event_id=event.id, event_type=event.type, body=body)
        delivery.schedule_attempt(message, attempt_number=1, delay_seconds=0)


def send_test(endpoint, *, event_type=None, payload=None):
    """Send one sample message now (inside the request) and report how the receiver answered."""
    event_type = event_type or _default_test_event(endpoint)
    definition = get_event_type(event_type)
    if definition is None:
        raise ValidationFailed(details=[{"field": "event", "message": f"Unknown event type {event_type!r}."}])
    data = payload if payload is not None else definition.example
    body = message_body(
        event_id=None,
        event_type=event_type,
        workspace_id=endpoint.workspace_id,
        created_at=utcnow(),
        data=data,
    )
    # Sent before anything is written, so the request's transaction holds no write lock while the
    # receiver takes up to 15 s; the message and its attempt are recorded together afterwards.
    message = _delivery_row(endpoint, event_id=None, event_type=event_type, body=body, is_test=True)
    started_at = utcnow()
    outcome = delivery.send(endpoint, message)
    db.session.add(message)
    db.session.flush()
    attempt = delivery.new_attempt(message, attempt_number=1, trigger="test", status=SENDING)
    attempt.started_at = started_at
    delivery.record_outcome(attempt, message, endpoint, outcome, schedule_retries=False)
    if outcome.success:
        text = f"The receiver answered {outcome.status_code} in {outcome.duration_ms} ms."
    else:
        text = outcome.error or f"The receiver answered {outcome.status_code}."
    return {
        "success": outcome.success,
        "status_code": outcome.status_code,
        "message": text,
        "event": event_type,
        "delivery_id": message.id,
        "duration_ms": outcome.duration_ms,
    }


def _default_test_event(endpoint):
    named = [name for name in endpoint.events if name != ALL_EVENTS]
    return named[0] if named else TEST_EVENT


def deliveries_query(endpoint, *, status=None, event_type=None):
    """Attempts of the endpoint's messages (one row per attempt), newest first by the caller."""
    stmt = (
        sa.select(WebhookAttempt, WebhookDelivery)
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(WebhookAttempt.webhook_id == endpoint.id)
    )
    if status:
        stmt = stmt.where(WebhookAttempt.status == status)
    if event_type:
        stmt = stmt.where(WebhookDelivery.event_type == event_type)
    return stmt


def redeliver(endpoint, delivery_id):
    """Send a past message again (same webhook-id, a new attempt outside the retry schedule)."""
    message = get_or_404(WebhookDelivery, delivery_id)
    if message.webhook_id != endpoint.id:
        raise NotFound("Delivery not found.")
    busy = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == message.id, WebhookAttempt.status.in_((SCHEDULED, SENDING)))
    )
    if busy:
        raise Conflict("This message already has an attempt scheduled or in progress.")
    number = (
        db.session.scalar(
            sa.select(sa.func.max(WebhookAttempt.attempt_number)).where(
                WebhookAttempt.delivery_id == message.id
            )
        )
        or 0
    ) + 1
    message.status = PENDING
    message.completed_at = None
    attempt = delivery.schedule_attempt(message, attempt_number=number, delay_seconds=0, trigger="manual")
    db.session.flush()
    return attempt
