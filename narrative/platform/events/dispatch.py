"""Delivering outbox events to consumers: per workspace, in id order, at least once.

One dispatcher at a time per workspace, enforced by a Redis lock (SET NX with an expiry, through
redis-py's `Lock`, renewed after every event). Not `SELECT ... FOR UPDATE SKIP LOCKED`: SQLite
has no row locks, and a row lock lives in a database transaction, while the dispatcher commits
after every consumer (the consumer's writes together with its delivery record), which would
release it. Redis is present in every profile (embedded by default), so one mechanism serves both.
If a dispatcher dies, its lock expires after LOCK_SECONDS and the sweep takes over.

The dispatcher serves every workspace: it finds the due workspaces in `all_workspaces()` and then
delivers each one's events inside `workspace_scope(workspace)`, so consumers see that workspace
only. Its commits are its own unit of work (no request or job runner owns this transaction: RQ
calls `run_dispatch_job` directly), so it commits through `unit_of_work`.
"""

import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import redis
import sqlalchemy as sa
from flask import current_app
from rq.timeouts import JobTimeoutException

from narrative.extensions import db
from narrative.platform import unit_of_work
from narrative.platform.events.models import OutboxDelivery, OutboxEvent
from narrative.platform.events.outbox import Event, wake_key
from narrative.platform.events.registry import consumers
from narrative.platform.models import utcnow
from narrative.platform.periodic import every
from narrative.platform.redis import get_redis
from narrative.platform.tenancy import all_workspaces, workspace_scope

log = logging.getLogger("narrative.events")

LOCK_SECONDS = 60
# A dispatch job waits this long for another dispatcher of its workspace, which is about to finish
# (or which will take another pass for the events that woke this job).
LOCK_WAIT_SECONDS = 15
BATCH_SIZE = 100
RETRY_BASE_SECONDS = 30
RETRY_MAX_SECONDS = 3600
# About 16 hours of retries at the defaults before a consumer's failure stops blocking the workspace.
DEFAULT_MAX_ATTEMPTS = 20
DEFAULT_RETENTION_DAYS = 7
SWEEP_INTERVAL_SECONDS = 30
SWEEP_LIMIT = 2000
_ERROR_TEXT_LIMIT = 2000

DISPATCHED = "dispatched"
FAILED = "failed"
ABANDONED = "abandoned"


@dataclass
class DispatchReport:
    """What one call of `dispatch_pending` did."""

    dispatched: int = 0  # events every consumer has now handled
    failed: int = 0  # events whose round failed: retried after a backoff, later events wait
    abandoned: int = 0  # events given up after OUTBOX_MAX_ATTEMPTS failed rounds
    busy: list = field(default_factory=list)  # workspaces another dispatcher was holding

    @property
    def handled(self):
        return self.dispatched + self.failed + self.abandoned


def lock_key(workspace_id):
    return f"narrative:outbox:lock:{workspace_id}"


def workspace_lock(workspace_id):
    """The lock that makes one dispatcher at a time deliver a workspace's events."""
    return get_redis().lock(lock_key(workspace_id), timeout=LOCK_SECONDS)


def retry_delay(attempts):
    """Seconds before the next round after `attempts` failed rounds: 30 s doubling up to an hour."""
    return min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)


def _pending():
    return sa.and_(OutboxEvent.dispatched_at.is_(None), OutboxEvent.abandoned_at.is_(None))


def _workspaces_with_due_events():
    """Workspaces with a pending event that may be tried now, oldest waiting first."""
    now = utcnow()
    query = (
        sa.select(OutboxEvent.workspace_id)
        .where(_pending(), sa.or_(OutboxEvent.next_attempt_at.is_(None), OutboxEvent.next_attempt_at <= now))
        .group_by(OutboxEvent.workspace_id)
        .order_by(sa.func.min(OutboxEvent.created_at))
    )
    with all_workspaces():  # the outbox serves every workspace: find those with work to do
        return list(db.session.scalars(query))


def dispatch_pending(*, workspace_id=None, limit=500, wait_seconds=0):
    """Deliver pending events (of one workspace, or of every workspace) to the consumers.

    At most `limit` events are handled (None: no cap). A workspace another dispatcher holds is
    skipped after waiting up to `wait_seconds` for it; that dispatcher delivers its events.
    """
    report = DispatchReport()
    workspaces = [uuid.UUID(str(workspace_id))] if workspace_id is not None else _workspaces_with_due_events()
    for workspace in workspaces:
        budget = None if limit is None else limit - report.handled
        if budget is not None and budget <= 0:
            break
        with workspace_scope(workspace):
            _dispatch_workspace(workspace, budget=budget, wait_seconds=wait_seconds, report=report)
    return report


def _dispatch_workspace(workspace_id, *, budget, wait_seconds, report):
    client = get_redis()
    lock = workspace_lock(workspace_id)
    if not lock.acquire(blocking=wait_seconds > 0, blocking_timeout=wait_seconds or None):
        report.busy.append(workspace_id)
        return
    try:
        while True:
            # Cleared before reading, so a commit after this point sets it again and we look again.
            client.delete(wake_key(workspace_id))
            before = report.handled
            stopped = _dispatch_due_events(workspace_id, lock, budget=budget, report=report)
            if budget is not None:
                budget -= report.handled - before
            if stopped or not client.exists(wake_key(workspace_id)):
                return
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("outbox lock of workspace %s expired while dispatching", workspace_id)


def _dispatch_due_events(workspace_id, lock, *, budget, report):
    """Deliver the workspace's pending events in order; True when it stopped before running out."""
    while True:
        size = BATCH_SIZE if budget is None else min(BATCH_SIZE, budget)
        if size <= 0:
            return True
        # Scoped to `workspace_id` by the caller's workspace_scope.
        rows = db.session.scalars(
            sa.select(OutboxEvent).where(_pending()).order_by(OutboxEvent.id).limit(size)
        ).all()
        if not rows:
            return False
        batch = [(Event.from_row(row), row.next_attempt_at) for row in rows]
        for event, next_attempt_at in batch:
            if next_attempt_at is not None and next_attempt_at > utcnow():
                return True  # waiting out a backoff; later events wait behind it to keep the order
            outcome = deliver(event)
            if budget is not None:
                budget -= 1
            if outcome == FAILED:
                report.failed += 1
                return True
            if outcome == ABANDONED:
                report.abandoned += 1
            else:
                report.dispatched += 1
            if not _still_holding(lock, workspace_id):
                return True


def _still_holding(lock, workspace_id):
    try:
        lock.reacquire()
        return True
    except redis.exceptions.LockError:
        log.warning("lost the outbox lock of workspace %s (a consumer took too long); stopping", workspace_id)
        return False


def deliver(event):
    """Give one event to every consumer that has not handled it yet; returns the round's outcome.

    Each consumer's writes are committed with its delivery record, so a consumer that succeeded is
    not called again when another fails; a failing consumer's writes are rolled back.
    """
    done = set(
        db.session.scalars(
            sa.select(OutboxDelivery.consumer).where(
                OutboxDelivery.event_id == event.id, OutboxDelivery.delivered_at.is_not(None)
            )
        )
    )
    failures = {}
    for name, fn in consumers():
        if name in done:
            continue
        try:
            fn(event.copy_for_consumer())
        except JobTimeoutException:
            raise  # the dispatch job ran out of time: RQ must see it
        except Exception as exc:
            unit_of_work.rollback()
            failures[name] = _describe(exc)
            log.warning("consumer %s failed on event %s (%s)", name, event.id, event.type, exc_info=True)
        _record_delivery(event.id, name, error=failures.get(name))
        unit_of_work.commit()
    return _record_round(event, failures)


def _describe(exc):
    return f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT_LIMIT]


def _record_delivery(event_id, name, *, error):
    delivery = db.session.get(OutboxDelivery, (event_id, name))
    if delivery is None:
        delivery = OutboxDelivery(event_id=event_id, consumer=name, attempts=0)
        db.session.add(delivery)
    delivery.attempts += 1
    delivery.last_attempt_at = utcnow()
    if error is None:
        delivery.delivered_at = delivery.last_attempt_at
    else:
        delivery.last_error = error


def _record_round(event, failures):
    row = db.session.get(OutboxEvent, event.id)
    if row is None:
        return DISPATCHED  # deleted meanwhile (its workspace was deleted): nothing left to deliver
    now = utcnow()
    if not failures:
        row.dispatched_at = now
        row.next_attempt_at = None
        unit_of_work.commit()
        return DISPATCHED
    row.attempts += 1
    row.last_error = "; ".join(f"{name}: {error}" for name, error in failures.items())[:_ERROR_TEXT_LIMIT]
    max_attempts = current_app.config.get("OUTBOX_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    if row.attempts >= max_attempts:
        row.abandoned_at = now
        row.next_attempt_at = None
        outcome = ABANDONED
        log.error(
            "gave up event %s (%s) after %s rounds: %s", row.id, row.event_type, row.attempts, row.last_error
        )
    else:
        row.next_attempt_at = now + timedelta(seconds=retry_delay(row.attempts))
        outcome = FAILED
    unit_of_work.commit()
    return outcome


def prune_outbox(*, older_than_days=None):
    """Delete events finished (dispatched or abandoned) more than the retention ago; returns the count."""
    days = older_than_days
    if days is None:
        days = current_app.config.get("OUTBOX_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
    cutoff = utcnow() - timedelta(days=days)
    finished_long_ago = sa.or_(OutboxEvent.dispatched_at < cutoff, OutboxEvent.abandoned_at < cutoff)
    old_events = sa.select(OutboxEvent.id).where(finished_long_ago)
    # Retention is the same for every workspace: one pass over all of them.
    with all_workspaces():
        # Deliveries first: bulk deletes do not rely on ON DELETE CASCADE being enforced.
        db.session.execute(sa.delete(OutboxDelivery).where(OutboxDelivery.event_id.in_(old_events)))
        deleted = db.session.execute(sa.delete(OutboxEvent).where(finished_long_ago)).rowcount
    unit_of_work.commit()
    return deleted


def run_dispatch_job(workspace_id):
    """RQ job (one per workspace, id `outbox-dispatch-<workspace id>`): deliver everything pending."""
    report = dispatch_pending(workspace_id=workspace_id, limit=None, wait_seconds=LOCK_WAIT_SECONDS)
    return {"dispatched": report.dispatched, "failed": report.failed, "abandoned": report.abandoned}


@every(SWEEP_INTERVAL_SECONDS)
def sweep_outbox():
    """Periodic: deliver what no dispatch job did (a crash after commit, retries due), prune old events."""
    pruned = prune_outbox()
    report = dispatch_pending(limit=SWEEP_LIMIT)
    if report.handled or pruned:
        log.info(
            "outbox sweep: %s dispatched, %s failed, %s abandoned, %s pruned",
            report.dispatched,
            report.failed,
            report.abandoned,
            pruned,
        )
    return {"dispatched": report.dispatched, "failed": report.failed, "pruned": pruned}
