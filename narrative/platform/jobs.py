"""Long work as RQ jobs with a `Job` row, progress events on a Redis stream, cancellation and recovery.

How a feature uses it::

    job = enqueue_job("records.import", "narrative.records.jobs.import_file", upload_id,
                      workspace_id=workspace.id, user_id=user.id, retry=Retry(max=2))
    # the request's commit makes the row visible, then the RQ job is enqueued

    # narrative/records/jobs.py -- a plain function taking ids
    def import_file(upload_id):
        progress = current_progress()
        for index, chunk in enumerate(chunks):
            progress.check_cancelled()            # raises JobCancelled after cancel_job()
            ...
            progress.report(progress=index * 100 // len(chunks), step="importing", data={"rows": n})
        return {"imported": total}                # stored as the job's result (JSON)

- The row (table `jobs`) is what a poll endpoint reads: status `QUEUED|RUNNING|COMPLETED|FAILED|
  CANCELED`, progress 0-100, current step, message, result, a user-facing error. It is written at
  milestones only (status changes, every 10 progress points or 2 seconds), never per event.
- Every report is an entry on the job's Redis stream (`narrative:jobs:{id}:events`, trimmed to about
  1,000 entries, expiring some hours after the job ends); `narrative.platform.sse` reads it back.
  The terminal event (COMPLETED/FAILED/CANCELED with result or error) is always the last entry.
- A failure stores a message people can read (`JobError`'s text, or a generic one); the trace goes
  to the log and to RQ's failed-job registry, never into the row.
- A job whose process died (SIGKILL, OOM, lost host) is found by `sweep_stalled_jobs` (every minute,
  via `narrative scheduler`): each running job keeps a short-lived "alive" key fresh from a thread
  of the process that runs it; a RUNNING row without it is marked FAILED, or re-queued when it was
  enqueued with retries left. The fork worker also reports a killed work-horse at once.
- `publish(stream_key, data)` appends to any event stream (chat deltas, notifications) with the
  same length and expiry policy.
"""

import contextlib
import contextvars
import json
import logging
import re
import secrets
import threading
import time
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from rq import get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from rq.job import JobStatus
from rq.timeouts import JobTimeoutException
from rq.utils import import_attribute
from sqlalchemy.orm import Mapped, mapped_column

from narrative.extensions import db, get_queue
from narrative.platform import unit_of_work
from narrative.platform.errors import ApiError, NotFound
from narrative.platform.models import JSONType, TimestampMixin, UTCDateTime, utcnow
from narrative.platform.periodic import every
from narrative.platform.redis import get_redis, get_redis_bytes
from narrative.platform.tenancy import WorkspaceScoped, get_or_404, workspace_scope
from narrative.platform.transactions import on_commit

log = logging.getLogger("narrative.jobs")

QUEUED = "QUEUED"
RUNNING = "RUNNING"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
CANCELED = "CANCELED"
STATUSES = (QUEUED, RUNNING, COMPLETED, FAILED, CANCELED)
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, CANCELED})
ACTIVE_STATUSES = (QUEUED, RUNNING)

# Event streams: bounded in length, kept a day while active and a few hours once the job ended
# (long enough for a client to reconnect and read the outcome; the row keeps it for good).
STREAM_MAXLEN = 1000
STREAM_TTL_SECONDS = 24 * 3600
ENDED_STREAM_TTL_SECONDS = 6 * 3600

# Row writes from the reporter: a milestone is 10 progress points or 2 seconds since the last write.
MILESTONE_PROGRESS_POINTS = 10
MILESTONE_SECONDS = 2.0

# The process running a job refreshes its alive key every 10 s; 30 s without one means it died.
ALIVE_TTL_SECONDS = 30
ALIVE_REFRESH_SECONDS = 10
CANCEL_FLAG_TTL_SECONDS = 24 * 3600

# RQ keeps a finished job's record briefly (the row is the durable record) and a failed one for a week.
RQ_RESULT_TTL_SECONDS = 3600
RQ_FAILURE_TTL_SECONDS = 7 * 24 * 3600
# A QUEUED row whose RQ job never appeared after this long was never enqueued (Redis was down).
LOST_ENQUEUE_GRACE = timedelta(minutes=10)
ENDED_IN_RQ = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)

WORKER_LOST_MESSAGE = "The worker running this job stopped unexpectedly."
RETRYING_AFTER_LOSS_MESSAGE = "The worker running this job stopped unexpectedly; retrying."
RETRYING_MESSAGE = "This attempt failed; retrying."
GENERIC_FAILURE_MESSAGE = (
    "This job failed because of an error on our side; the job id identifies it in our logs."
)
NEVER_QUEUED_MESSAGE = "This job could not be queued; please start it again."
CANCELED_MESSAGE = "Canceled."

JOB_ID_PATTERN = re.compile(r"^job_[A-Za-z0-9_-]{16,40}$")


class JobCancelled(Exception):
    """Raised by `check_cancelled()` once the job was asked to stop; the job ends CANCELED."""


class JobError(Exception):
    """A failure whose message is meant for the people who started the job (stored on the row)."""


def new_job_id():
    """Random and unguessable: a job id is also the capability to read its public stream."""
    return "job_" + secrets.token_urlsafe(16)


class Job(WorkspaceScoped, TimestampMixin, db.Model):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=new_job_id)
    # Null for work that belongs to no workspace yet (signup provisioning).
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(sa.String(80), nullable=False, index=True)
    status: Mapped[str] = mapped_column(sa.String(20), nullable=False, default=QUEUED, index=True)
    progress: Mapped[int] = mapped_column(sa.Integer, nullable=False, default=0)
    current_step: Mapped[str | None] = mapped_column(sa.String(120))
    message: Mapped[str | None] = mapped_column(sa.Text)
    result: Mapped[object | None] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(sa.Text)
    rq_job_id: Mapped[str | None] = mapped_column(sa.String(64))
    cancel_requested: Mapped[bool] = mapped_column(sa.Boolean, nullable=False, default=False)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_terminal(self):
        return self.status in TERMINAL_STATUSES


def _iso(value):
    return value.isoformat() if value is not None else None


def job_to_dict(job):
    """The job as API responses show it."""
    return {
        "id": job.id,
        "kind": job.kind,
        "status": job.status,
        "progress": job.progress,
        "current_step": job.current_step,
        "message": job.message,
        "result": job.result,
        "error": job.error,
        "created_at": _iso(job.created_at),
        "started_at": _iso(job.started_at),
        "finished_at": _iso(job.finished_at),
    }


def job_event_from_row(job):
    """The row as one stream event (what a client sees when the stream itself has expired)."""
    return {
        "status": job.status,
        "progress": job.progress,
        "current_step": job.current_step,
        "message": job.message,
        "result": job.result,
        "error": job.error,
    }


def get_job(job_id):
    """The job of the current workspace, or NotFound (also for another workspace's job)."""
    if not (isinstance(job_id, str) and JOB_ID_PATTERN.match(job_id)):
        raise NotFound("Job not found.")
    return get_or_404(Job, job_id, message="Job not found.")


# --- Redis keys and the generic event stream --------------------------------------------------


def job_stream_key(job_id):
    return f"narrative:jobs:{job_id}:events"


def _cancel_key(job_id):
    return f"narrative:jobs:{job_id}:cancel"


def _alive_key(job_id):
    return f"narrative:jobs:{job_id}:alive"


def publish(stream_key, data, *, maxlen=STREAM_MAXLEN, ttl=STREAM_TTL_SECONDS, redis=None):
    """Append one event to a Redis stream; returns its id (what SSE clients see as `id:`).

    The stream is trimmed to about `maxlen` entries and expires `ttl` seconds after its last event.
    """
    client = redis or get_redis()
    with client.pipeline(transaction=False) as pipe:
        pipe.xadd(stream_key, {"data": json.dumps(data, default=str)}, maxlen=maxlen, approximate=True)
        pipe.expire(stream_key, ttl)
        event_id, _ = pipe.execute()
    return event_id.decode() if isinstance(event_id, bytes) else event_id


# --- Enqueueing ----------------------------------------------------------------------------


def _dotted_path(func):
    if isinstance(func, str):
        return func
    path = f"{func.__module__}.{func.__qualname__}"
    if "<" in path:
        raise ValueError(f"job functions must be importable module-level functions, not {path}")
    return path


def _check_arguments(args, kwargs):
    for value in (*args, *kwargs.values()):
        if isinstance(value, db.Model):
            raise TypeError("pass ids to jobs, not ORM objects: the worker loads fresh rows itself")


def enqueue_job(
    kind,
    func,
    *args,
    workspace_id=None,
    user_id=None,
    queue="default",
    retry=None,
    timeout=600,
    description=None,
    job_id=None,
    **kwargs,
):
    """Create the job's row in the caller's transaction and queue it once that transaction commits.

    `func` is a callable or its dotted path; `args`/`kwargs` are plain values (ids, not ORM objects).
    `retry` is an `rq.Retry`; every attempt updates this same row. `job_id` (from `new_job_id`) lets
    a caller store the id on its own row before the job exists. Returns the (flushed) `Job`.
    """
    func_path = _dotted_path(func)
    _check_arguments(args, kwargs)
    get_queue(queue)  # an unknown queue name fails here, in the caller, not after the commit
    job = Job(
        id=job_id or new_job_id(),
        kind=kind,
        workspace_id=workspace_id,
        user_id=user_id,
        status=QUEUED,
        progress=0,
    )
    job.rq_job_id = job.id
    db.session.add(job)
    db.session.flush()

    spec = {
        "job_id": job.id,
        "kind": kind,
        "func_path": func_path,
        "args": list(args),
        "kwargs": kwargs,
        "queue": queue,
        "retry": retry,
        "timeout": timeout,
        "description": description or f"{kind} ({job.id})",
    }
    on_commit(lambda: _enqueue_rq_job(**spec))
    return job


def _enqueue_rq_job(*, job_id, kind, func_path, args, kwargs, queue, retry, timeout, description):
    get_queue(queue).enqueue_call(
        run_job,
        args=(job_id, func_path, args, kwargs),
        timeout=timeout,
        result_ttl=RQ_RESULT_TTL_SECONDS,
        failure_ttl=RQ_FAILURE_TTL_SECONDS,
        description=description,
        job_id=job_id,
        meta={"narrative_job_id": job_id, "kind": kind},
        retry=retry,
    )


# --- Row updates from workers ---------------------------------------------------------------


def _update_row(job_id, *, only_if_status=None, **values):
    """Write the row on a connection of its own: the job's session may hold uncommitted work.

    Returns the updated row (a mapping), or None when there is none or `only_if_status` no
    longer matches. RETURNING saves a round trip on both PostgreSQL and SQLite (3.35+).
    """
    statement = sa.update(Job).where(Job.id == job_id).values(updated_at=utcnow(), **values)
    if only_if_status is not None:
        statement = statement.where(Job.status.in_(only_if_status))
    with db.engine.begin() as connection:
        return connection.execute(statement.returning(*Job.__table__.c)).mappings().first()


def _read_row(job_id):
    with db.engine.connect() as connection:
        return connection.execute(sa.select(Job.__table__).where(Job.id == job_id)).mappings().first()


def _finish(job_id, status, *, result=None, error=None, message=None, progress=None, current_step=None):
    """Move an active job to a terminal status and publish the terminal event (always the last one)."""
    values = {"status": status, "finished_at": utcnow(), "result": result, "error": error}
    if message is not None:
        values["message"] = message
    if progress is not None:
        values["progress"] = progress
    if current_step is not None:
        values["current_step"] = current_step
    row = _update_row(job_id, only_if_status=ACTIVE_STATUSES, **values)
    if row is None:
        return False
    _publish_terminal_event(job_id, row)
    return True


def _publish_terminal_event(job_id, row=None):
    row = row or _read_row(job_id)
    event_data = {
        key: row[key] for key in ("status", "progress", "current_step", "message", "result", "error")
    }
    redis = get_redis()
    publish(job_stream_key(job_id), event_data, ttl=ENDED_STREAM_TTL_SECONDS, redis=redis)
    redis.delete(_alive_key(job_id))


def _as_json(value):
    return json.loads(json.dumps(value, default=str))


# --- Inside a job: the reporter ----------------------------------------------------------------

_current = contextvars.ContextVar("narrative_job_progress", default=None)


def current_progress():
    """The reporter of the job running in this process; only available inside a job."""
    progress = _current.get()
    if progress is None:
        raise RuntimeError("current_progress() is only available while a job runs")
    return progress


class JobProgress:
    """Reports a running job's progress: every report is a stream event, milestones update the row."""

    def __init__(self, job_id, *, progress=0, current_step=None, message=None, redis=None):
        self.job_id = job_id
        self.stream_key = job_stream_key(job_id)
        self.status = RUNNING
        self.progress = progress
        self.current_step = current_step
        self.message = message
        self.completed = False
        self._redis = redis or get_redis()
        self._written_progress = progress
        self._written_at = time.monotonic()

    def state(self):
        return {
            "status": self.status,
            "progress": self.progress,
            "current_step": self.current_step,
            "message": self.message,
        }

    def report(self, *, progress=None, step=None, message=None, data=None):
        """Publish progress (0-100), the current step, a message and any extra data for clients."""
        if self.completed:
            return None
        if progress is not None:
            self.progress = max(0, min(100, int(progress)))
        if step is not None:
            self.current_step = step
        if message is not None:
            self.message = message
        event_data = self.state()
        if data:
            event_data["data"] = data
        event_id = publish(self.stream_key, event_data, redis=self._redis)
        if self._is_milestone():
            self._write_row()
        return event_id

    def _is_milestone(self):
        return (
            abs(self.progress - self._written_progress) >= MILESTONE_PROGRESS_POINTS
            or time.monotonic() - self._written_at >= MILESTONE_SECONDS
        )

    def _write_row(self):
        values = {"progress": self.progress, "current_step": self.current_step, "message": self.message}
        try:
            _update_row(self.job_id, only_if_status=(RUNNING,), **values)
        except sa.exc.OperationalError:
            # SQLite while the job's own session holds the write lock: the stream has the
            # progress already and the next milestone (or the end) writes the row.
            log.warning("job %s: progress row update skipped", self.job_id)
            return
        self._written_progress = self.progress
        self._written_at = time.monotonic()

    def checkpoint(self, **report):
        """Commit the job's work so far, then `report(**report)` if given: for a long job whose
        finished steps must survive a later failure (a sync's pages, an import's batches). The
        runner commits the rest when the function returns, and rolls back what follows the last
        checkpoint on a failure."""
        unit_of_work.commit()
        if report:
            self.report(**report)

    def check_cancelled(self):
        """Raise JobCancelled when `cancel_job` was called; cheap enough to call in every loop."""
        if self._redis.exists(_cancel_key(self.job_id)):
            raise JobCancelled()

    def complete(self, result=None):
        """End the job COMPLETED now with `result` (the function's return value is then ignored)."""
        if self.completed:
            return
        self.completed = True
        _finish(
            self.job_id,
            COMPLETED,
            result=_as_json(result),
            progress=100,
            message=self.message,
            current_step=self.current_step,
        )


class _AliveSignal:
    """Keeps the job's alive key fresh from a thread while the job runs in this process."""

    def __init__(self, redis, job_id):
        self._redis = redis
        self._key = _alive_key(job_id)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._refresh, name=f"alive-{job_id}", daemon=True)

    def __enter__(self):
        self._redis.set(self._key, "1", ex=ALIVE_TTL_SECONDS)
        self._thread.start()
        return self

    def _refresh(self):
        while not self._stop.wait(ALIVE_REFRESH_SECONDS):
            try:
                self._redis.set(self._key, "1", ex=ALIVE_TTL_SECONDS)
            except Exception:
                log.warning("could not refresh %s", self._key)

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(timeout=1)
        self._redis.delete(self._key)


# --- The RQ callable ----------------------------------------------------------------------------


def run_job(job_id, func_path, args, kwargs):
    """What RQ runs: mark RUNNING, run the function with a reporter, record how it ended."""
    redis = get_redis()
    if redis.exists(_cancel_key(job_id)):
        _finish(job_id, CANCELED, message=CANCELED_MESSAGE)
        return None
    row = _update_row(job_id, only_if_status=ACTIVE_STATUSES, status=RUNNING, started_at=utcnow(), error=None)
    if row is None:
        # Canceled or finished meanwhile, or its transaction rolled back after all.
        log.info("job %s: no active row; not running it", job_id)
        return None

    progress = JobProgress(
        job_id,
        progress=row["progress"],
        current_step=row["current_step"],
        message=row["message"],
        redis=redis,
    )
    publish(progress.stream_key, progress.state(), redis=redis)
    token = _current.set(progress)
    try:
        with _AliveSignal(redis, job_id), _job_scope(row["workspace_id"]):
            return _perform(progress, func_path, args, kwargs)
    finally:
        _current.reset(token)


def _job_scope(workspace_id):
    """A job sees its own workspace's rows only; a job of no workspace sees none (it fails closed,
    unless its function opts out with `all_workspaces()`)."""
    return workspace_scope(workspace_id) if workspace_id is not None else contextlib.nullcontext()


def _perform(progress, func_path, args, kwargs):
    job_id = progress.job_id
    try:
        value = import_attribute(func_path)(*args, **kwargs)
        unit_of_work.commit()
    except JobCancelled:
        unit_of_work.rollback()
        progress.completed = True
        _finish(job_id, CANCELED, message=CANCELED_MESSAGE)
        return None
    except BaseException as exc:
        unit_of_work.rollback()
        progress.completed = True
        _record_failure(job_id, exc)
        raise
    if not progress.completed:
        progress.completed = True
        try:
            result = _as_json(value)
        except (TypeError, ValueError):
            log.exception("job %s: result is not JSON-serialisable", job_id)
            _finish(job_id, FAILED, error=GENERIC_FAILURE_MESSAGE)
            raise
        _finish(
            job_id,
            COMPLETED,
            result=result,
            progress=100,
            message=progress.message,
            current_step=progress.current_step,
        )
    return value


def failure_message(exc):
    """What the people who started a job read when it failed; never a trace."""
    if isinstance(exc, JobError):
        return str(exc) or GENERIC_FAILURE_MESSAGE
    if isinstance(exc, ApiError):
        return exc.message
    if isinstance(exc, JobTimeoutException):
        rq_job = get_current_job()
        limit = f" of {rq_job.timeout} seconds" if rq_job is not None and rq_job.timeout else ""
        return f"This job took longer than its time limit{limit} and was stopped."
    return GENERIC_FAILURE_MESSAGE


def _record_failure(job_id, exc):
    log.error("job %s failed", job_id, exc_info=exc, extra={"fields": {"job_id": job_id}})
    rq_job = get_current_job()
    message = failure_message(exc)
    if rq_job is not None and (rq_job.retries_left or 0) > 0:
        # RQ re-enqueues this same job after we re-raise; the row waits for the next attempt.
        row = _update_row(
            job_id, only_if_status=(RUNNING,), status=QUEUED, message=RETRYING_MESSAGE, error=message
        )
        if row is not None:
            _publish_state(job_id, row)
        return
    _finish(job_id, FAILED, error=message)


def _publish_state(job_id, row):
    publish(
        job_stream_key(job_id), {key: row[key] for key in ("status", "progress", "current_step", "message")}
    )


# --- Cancelling ---------------------------------------------------------------------------------


def cancel_job(job):
    """Cancel a job: a queued one ends CANCELED at once, a running one at its next check.

    Takes effect when the caller's transaction commits (like `enqueue_job`). Returns the job.
    """
    if job.is_terminal:
        return job
    canceled_while_queued = (
        db.session.execute(
            sa.update(Job)
            .where(Job.id == job.id, Job.status == QUEUED)
            .values(
                status=CANCELED,
                cancel_requested=True,
                finished_at=utcnow(),
                message=CANCELED_MESSAGE,
                updated_at=utcnow(),
            )
        ).rowcount
        > 0
    )
    job_id, rq_job_id = job.id, job.rq_job_id
    if canceled_while_queued:
        on_commit(lambda: _after_queued_cancel(job_id, rq_job_id))
    else:
        db.session.execute(
            sa.update(Job).where(Job.id == job.id).values(cancel_requested=True, updated_at=utcnow())
        )
        on_commit(lambda: get_redis().set(_cancel_key(job_id), "1", ex=CANCEL_FLAG_TTL_SECONDS))
    db.session.refresh(job)
    return job


def _after_queued_cancel(job_id, rq_job_id):
    redis = get_redis()
    # The flag also stops a worker that dequeued the RQ job a moment ago.
    redis.set(_cancel_key(job_id), "1", ex=CANCEL_FLAG_TTL_SECONDS)
    rq_job = _fetch_rq_job(rq_job_id)
    if rq_job is not None and rq_job.get_status(refresh=False) in (JobStatus.QUEUED, JobStatus.SCHEDULED):
        try:
            rq_job.cancel()
        except Exception:
            log.warning("job %s: RQ job could not be canceled; the worker will skip it", job_id)
    _publish_terminal_event(job_id)


# --- Jobs whose worker died ---------------------------------------------------------------------


def _fetch_rq_job(rq_job_id):
    if not rq_job_id:
        return None
    try:
        return RQJob.fetch(rq_job_id, connection=get_redis_bytes())
    except NoSuchJobError:
        return None


def worker_lost(rq_job, *, requeue=True):
    """Record that the process running `rq_job` died: FAILED, or QUEUED again when retries are left.

    `requeue=False` when RQ itself re-enqueues the job (its work-horse monitor does).
    """
    job_id = (rq_job.meta or {}).get("narrative_job_id")
    if job_id is None:
        return None  # a plain RQ job (a periodic task): no row to update
    if (rq_job.retries_left or 0) > 0:
        if requeue:
            _retry_in_rq(rq_job)
        row = _update_row(
            job_id, only_if_status=(RUNNING,), status=QUEUED, message=RETRYING_AFTER_LOSS_MESSAGE
        )
        if row is not None:
            _publish_state(job_id, row)
        return QUEUED
    if requeue:
        _fail_in_rq(rq_job)
    _finish(job_id, FAILED, error=WORKER_LOST_MESSAGE)
    return FAILED


def _retry_in_rq(rq_job):
    queue = get_queue(rq_job.origin)
    with rq_job.connection.pipeline() as pipe:
        rq_job.started_job_registry.remove_executions(rq_job, pipeline=pipe)
        rq_job.retry(queue, pipe)
        pipe.execute()


def _fail_in_rq(rq_job):
    """Move a stale STARTED job to RQ's failed registry, so RQ's own cleanup does not retry it later."""
    if rq_job.get_status(refresh=False) != JobStatus.STARTED:
        return
    from rq.job_lifecycle import record_job_failure

    try:
        with rq_job.connection.pipeline() as pipe:
            rq_job.started_job_registry.remove_executions(rq_job, pipeline=pipe)
            record_job_failure(rq_job, WORKER_LOST_MESSAGE, pipe)
            pipe.execute()
    except Exception:
        log.exception("job %s: could not record the failure in RQ", rq_job.id)


@every(60)
def sweep_stalled_jobs():
    """Fail (or retry) RUNNING jobs whose process died, and QUEUED ones that never reached Redis."""
    redis = get_redis()
    now = utcnow()
    running = db.session.scalars(
        sa.select(Job)
        .where(Job.status == RUNNING, Job.started_at < now - timedelta(seconds=ALIVE_TTL_SECONDS))
        .limit(500)
    ).all()
    outcomes = {}
    for job in running:
        if redis.exists(_alive_key(job.id)):
            continue
        rq_job = _fetch_rq_job(job.rq_job_id)
        if rq_job is None:
            outcome = FAILED if _finish(job.id, FAILED, error=WORKER_LOST_MESSAGE) else None
        else:
            outcome = worker_lost(rq_job)
        log.warning("job %s: worker lost; now %s", job.id, outcome)
        outcomes[job.id] = outcome
    for job in db.session.scalars(
        sa.select(Job).where(Job.status == QUEUED, Job.created_at < now - LOST_ENQUEUE_GRACE).limit(500)
    ):
        rq_job = _fetch_rq_job(job.rq_job_id)
        if rq_job is None:
            if _finish(job.id, FAILED, error=NEVER_QUEUED_MESSAGE):
                outcomes[job.id] = FAILED
        elif rq_job.get_status(refresh=False) in ENDED_IN_RQ and _finish(
            job.id, FAILED, error=WORKER_LOST_MESSAGE
        ):
            outcomes[job.id] = FAILED
    db.session.rollback()
    return outcomes
