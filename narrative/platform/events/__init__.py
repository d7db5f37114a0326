"""Domain events through a transactional outbox: what happened, delivered after it really happened.

The flow:

1. A service changes something and, in the same transaction, calls
   `emit("task.created", {"task_id": ..., "title": ...}, workspace_id=ws.id, actor_id=user.id)`.
   That adds an `outbox_events` row to the session (no commit). If the transaction rolls back, the
   event never happened; if it commits, the event is as durable as the change.
2. After the outermost commit, a session hook asks for a dispatch of each workspace that emitted:
   it sets a "wake" flag in Redis and enqueues `run_dispatch_job` on the "default" RQ queue under
   the id `outbox-dispatch-<workspace id>` (RQ `unique=True`), so many commits collapse into one
   queued job. Every SWEEP_INTERVAL_SECONDS (30 s) `sweep_outbox` (narrative.platform.periodic)
   delivers whatever no job did (a crash between commit and enqueue, Redis briefly away, retries
   that came due) and prunes events finished more than 7 days ago (`OUTBOX_RETENTION_DAYS`).
3. The dispatcher takes the workspace's Redis lock (one dispatcher per workspace, so order holds;
   other workspaces proceed in parallel), then hands each pending event, oldest id first, to every
   registered consumer that has not handled it yet, as an immutable `Event` (id, type,
   workspace_id, actor_id, payload, created_at). When all consumers succeeded the row is marked
   dispatched. When one raises, its failure is recorded (`outbox_deliveries`), the consumers that
   succeeded are not called again for that event, and the workspace's dispatch stops at that event
   until a backoff (30 s doubling to 1 h) passes; after OUTBOX_MAX_ATTEMPTS (20) failed rounds the
   event is abandoned (logged as an error) so one broken consumer cannot stall a workspace forever.

Delivery is at least once: a consumer can see an event again if the process dies between its call
and the commit of its delivery record, so consumers are idempotent (key on `event.id`). Order is by
id within a workspace; events of concurrent transactions have no causal order between them, so a
consumer must not treat the last id it saw as a high-water mark.

How domains plug in:

- Declare each event type once, next to the service that emits it:
  `register_event_type("task.created", description=..., example={...})`. `event_types()` is the
  one catalog behind GET /api/v1/automations/triggers and GET /api/v1/webhooks/events.
- Webhooks, automations, notifications and the activity feed are consumers:

      @consumer("webhooks")
      def queue_webhook_deliveries(event):
          for endpoint in subscribed_endpoints(event.workspace_id, event.type):
              db.session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, ...))

  A consumer should be quick and transactional: write rows (and enqueue its own jobs for slow
  work such as HTTP calls); the dispatcher commits those writes with the delivery record. Register
  consumers in a module the domain's package imports, so web processes and workers all know them.
  A consumer may emit events itself; they are dispatched after the ones before them.
"""

from narrative.platform.events import catalog  # noqa: F401  (the platform's own event types)
from narrative.platform.events.dispatch import (
    DispatchReport,
    dispatch_pending,
    prune_outbox,
    run_dispatch_job,
    sweep_outbox,
)
from narrative.platform.events.models import OutboxDelivery, OutboxEvent
from narrative.platform.events.outbox import Event, emit, request_dispatch
from narrative.platform.events.registry import (
    EventType,
    consumer,
    consumers,
    event_types,
    get_event_type,
    register_event_type,
)

__all__ = [
    "DispatchReport",
    "Event",
    "EventType",
    "OutboxDelivery",
    "OutboxEvent",
    "consumer",
    "consumers",
    "dispatch_pending",
    "emit",
    "event_types",
    "get_event_type",
    "prune_outbox",
    "register_event_type",
    "request_dispatch",
    "run_dispatch_job",
    "sweep_outbox",
]
