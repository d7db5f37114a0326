"""An RQ worker that runs every job inside the application context.

The application is created once, in the worker's main process, before RQ forks a work-horse for
each job: the horse inherits the imported code and configuration, so a job starts in
milliseconds. Database connections are never shared across that fork: the pool is discarded
in the child (without closing the parent's sockets).
"""

import logging
import os

from rq import Queue, SimpleWorker, Worker

from narrative.extensions import QUEUE_NAMES, db
from narrative.platform.redis import get_redis_bytes


class AppContextMixin:
    app = None

    def perform_job(self, job, queue):
        with self.app.app_context():
            try:
                return super().perform_job(job, queue)
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
    worker = build_worker(app, queue_names)
    worker.work(burst=burst, with_scheduler=True, logging_level=app.config["LOG_LEVEL"])


def run_jobs_in_process(app, queue_names=QUEUE_NAMES):
    """Run every queued job now, in this process (tests and one-off commands)."""
    worker = build_worker(app, queue_names, base=SimpleWorker)
    logging.getLogger("rq.worker").setLevel(logging.WARNING)
    return worker.work(burst=True, with_scheduler=True)
