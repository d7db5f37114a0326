"""An RQ worker that runs every job inside the application context.

The application is created once, when the worker starts. `narrative worker` runs jobs with RQ's
`SimpleWorker`, in the worker process itself, not in a work-horse forked per job: measured with
bench/jobs.py (no-op Narrative jobs, PostgreSQL and Redis on loopback) one SimpleWorker ran
~67 jobs/s against ~15 jobs/s for the fork-per-job `Worker` (stock RQ: ~196 vs ~32), because each
forked horse pays for the fork and a fresh database connection. Short jobs (chat turns, small
syncs) are the common case, so the fork is not worth it.

What that choice keeps and costs:
- Job timeouts still hold: SimpleWorker runs the job in the main thread under RQ's SIGALRM death
  penalty, and the job ends FAILED with a time-limit message.
- A job that kills its process (segfault, OOM) takes the worker with it: the supervisor restarts
  the worker and `narrative.platform.jobs.sweep_stalled_jobs` marks the job FAILED (or retries it)
  once its alive key lapses (30 s). With the fork `Worker` (`build_worker(app, base=Worker)`),
  `handle_work_horse_killed` below records a killed horse at once.
- Memory a job leaves behind stays in the worker; run more worker processes rather than bigger ones.
Database connections are never shared across a fork: the pool is discarded in a child (without
closing the parent's sockets), for the fork `Worker` and any other fork.
"""

import logging
import os

from rq import Queue, SimpleWorker, Worker

from narrative.extensions import QUEUE_NAMES, db
from narrative.platform.redis import get_redis_bytes


class AppContextMixin:
    app = None

    def perform_job(self, job, queue, *args, **kwargs):  # rq 3 adds an `execution` argument
        with self.app.app_context():
            try:
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                db.session.remove()

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        """A killed work-horse (OOM, SIGKILL): record it on the job's row now, not at the next sweep.

        RQ itself fails or retries the RQ job right after this hook, so only the row is updated.
        """
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        from narrative.platform.jobs import worker_lost

        with self.app.app_context():
            try:
                worker_lost(job, requeue=False)
            finally:
                db.session.remove()


def worker_class(app, base=Worker):
    return type(f"Narrative{base.__name__}", (AppContextMixin, base), {"app": app})


def build_worker(app, queue_names=QUEUE_NAMES, base=Worker, **kwargs):
    with app.app_context():
        connection = get_redis_bytes()
    queues = [Queue(name, connection=connection) for name in queue_names]
    return worker_class(app, base)(queues, connection=connection, **kwargs)


def _discard_inherited_pool(app):
    def after_fork_in_child():
        with app.app_context():
            db.engine.dispose(close=False)

    os.register_at_fork(after_in_child=after_fork_in_child)


def run_worker(queue_names=QUEUE_NAMES, burst=False):
    from narrative.app import create_app

    app = create_app()
    _discard_inherited_pool(app)
    worker = build_worker(app, queue_names, base=SimpleWorker)
    worker.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


def run_jobs_in_process(app, queue_names=QUEUE_NAMES):
    """Run every queued job now, in this process (tests and one-off commands)."""
    worker = build_worker(app, queue_names, base=SimpleWorker)
    logging.getLogger("rq.worker").setLevel(logging.WARNING)
    return worker.work(burst=True, with_scheduler=True)
