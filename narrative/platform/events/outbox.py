"""Writing events: `emit` adds an outbox row to the caller's transaction; the commit wakes a dispatcher.

After the outermost transaction commits, every workspace that emitted in it gets a dispatch
request: a "wake" flag in Redis plus an RQ job on the "default" queue whose id is fixed per
workspace (`outbox-dispatch-<workspace id>`), enqueued with RQ's `unique=True`, so a burst of
commits collapses into one queued job. A rolled-back transaction takes its rows, and the request,
with it.
"""

import copy
import functools
import json
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import redis
from rq.exceptions import DuplicateJobError, NoSuchJobError
from rq.job import Job, JobStatus

from narrative.extensions import db, get_queue
from narrative.platform.events.models import OutboxEvent
from narrative.platform.events.registry import get_event_type
from narrative.platform.models import new_id, parse_uuid, utcnow
from narrative.platform.redis import get_redis
from narrative.platform.transactions import on_commit

log = logging.getLogger("narrative.events")

DISPATCH_QUEUE = "default"
DISPATCH_JOB = "narrative.platform.events.dispatch.run_dispatch_job"
DISPATCH_JOB_TIMEOUT = 600
# A failed dispatch job is kept this long for inspection; a later request replaces it.
DISPATCH_FAILURE_TTL = 3600
WAKE_FLAG_TTL = 86400
# An RQ job with this id still ahead of us (or running) will read the outbox after our commit.
_WILL_RUN = {JobStatus.QUEUED, JobStatus.DEFERRED, JobStatus.SCHEDULED, JobStatus.STARTED}


@dataclass(frozen=True)
class Event:
    """An event as consumers see it. Each consumer gets its own copy of `payload`."""

    id: uuid.UUID
    type: str
    workspace_id: uuid.UUID
    actor_id: uuid.UUID | None
    payload: dict
    created_at: datetime

    @classmethod
    def from_row(cls, row):
        return cls(row.id, row.event_type, row.workspace_id, row.actor_id, row.payload, row.created_at)

    def copy_for_consumer(self):
        return Event(
            self.id, self.type, self.workspace_id, self.actor_id, copy.deepcopy(self.payload), self.created_at
        )


class _MonotonicIds:
    """UUIDv7s that never go backwards in this process, even within one millisecond.

    `new_id` orders by millisecond only; two events emitted in the same millisecond would otherwise
    sort by their random bits, and the dispatcher delivers in id order.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._last = 0

    def next(self):
        with self._lock:
            value = new_id().int
            if value <= self._last:
                value = self._last + 1  # same millisecond (or a clock step back): count up
            self._last = value
            return uuid.UUID(int=value)


_event_ids = _MonotonicIds()


def _json_default(value):
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _as_json_payload(event_type, payload):
    """The payload as it will be stored: UUIDs, dates and decimals become strings."""
    if not isinstance(payload, dict):
        raise ValueError(f"the payload of {event_type!r} must be a dict")
    try:
        return json.loads(json.dumps(payload, default=_json_default))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the payload of {event_type!r} is not JSON: {exc}") from None


def _as_uuid(value, field):
    parsed = parse_uuid(value)
    if parsed is None:
        raise ValueError(f"{field} must be a UUID, got {value!r}")
    return parsed


def emit(event_type, payload, *, workspace_id, actor_id=None):
    """Record that `event_type` happened in `workspace_id`, in the current transaction (no commit).

    Consumers receive it only if and after the caller commits. An unregistered type, a payload that
    is not JSON or a missing workspace is a programming error (ValueError).
    """
    if get_event_type(event_type) is None:
        raise ValueError(f"event type {event_type!r} is not registered (register_event_type)")
    if workspace_id is None:
        raise ValueError("events belong to a workspace: workspace_id is required")
    row = OutboxEvent(
        id=_event_ids.next(),
        workspace_id=_as_uuid(workspace_id, "workspace_id"),
        event_type=event_type,
        payload=_as_json_payload(event_type, payload),
        actor_id=_as_uuid(actor_id, "actor_id") if actor_id is not None else None,
        created_at=utcnow(),
        attempts=0,
    )
    db.session.add(row)
    on_commit(
        functools.partial(_request_dispatch_quietly, row.workspace_id), key=("outbox", row.workspace_id)
    )
    return row


def dispatch_job_id(workspace_id):
    return f"outbox-dispatch-{workspace_id}"


def wake_key(workspace_id):
    """Set on every dispatch request; a running dispatcher takes another pass while it is set."""
    return f"narrative:outbox:wake:{workspace_id}"


def request_dispatch(workspace_id):
    """Ask for the workspace's outbox to be dispatched soon; repeated requests collapse into one job."""
    get_redis().set(wake_key(workspace_id), "1", ex=WAKE_FLAG_TTL)
    queue = get_queue(DISPATCH_QUEUE)
    for _ in range(2):
        try:
            queue.enqueue(
                DISPATCH_JOB,
                str(workspace_id),
                job_id=dispatch_job_id(workspace_id),
                unique=True,
                job_timeout=DISPATCH_JOB_TIMEOUT,
                result_ttl=0,
                failure_ttl=DISPATCH_FAILURE_TTL,
                description=f"dispatch outbox events of workspace {workspace_id}",
            )
            return True
        except DuplicateJobError:
            try:
                existing = Job.fetch(dispatch_job_id(workspace_id), connection=queue.connection)
            except NoSuchJobError:
                continue  # it ended between our two calls: enqueue again
            if existing.get_status(refresh=False) in _WILL_RUN:
                return False
            # A finished or failed run is only a record: replace it by a fresh request.
            existing.delete()
    return False


def _request_dispatch_quietly(workspace_id):
    try:
        request_dispatch(workspace_id)
    except (redis.RedisError, OSError):
        # The events are committed; the periodic sweep delivers them without this request.
        log.warning("could not request outbox dispatch for workspace %s", workspace_id, exc_info=True)
