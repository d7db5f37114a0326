"""Job machinery costs: enqueue latency, and no-op jobs per second per worker by worker class.

Against a fresh PostgreSQL database and Redis index 14 it measures:
- `enqueue_job(...)` + commit (row insert, then the RQ enqueue after commit): p50/p95;
- no-op Narrative jobs/s on one worker: RQ's fork-per-job `Worker` vs `SimpleWorker` (no fork),
  both with the app created once and an app context per job (workers/worker.py);
- the same no-op function as a plain RQ job on stock `Worker` / `SimpleWorker` on the same Redis.

    .venv/bin/python bench/jobs.py [--jobs 300]
"""

import argparse
import logging
import os
import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from rq import Queue, SimpleWorker, Worker

from bench._services import DEFAULT_DATABASE, DEFAULT_REDIS, noop, percentile, prepare


def enqueue_narrative_jobs(app, count):
    from narrative.extensions import db
    from narrative.platform.jobs import enqueue_job

    timings = []
    with app.app_context():
        for _ in range(count):
            started = time.perf_counter()
            enqueue_job("bench.noop", noop)
            db.session.commit()
            timings.append(time.perf_counter() - started)
    return timings


def drain(worker):
    started = time.perf_counter()
    worker.work(burst=True)
    return time.perf_counter() - started


def narrative_worker(app, base):
    from workers.worker import build_worker

    return build_worker(app, ("default",), base=base)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=300)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    args = parser.parse_args()
    logging.getLogger("rq").setLevel(logging.WARNING)

    _env, app, cleanup = prepare(args.database, args.redis)
    from narrative.extensions import db
    from narrative.platform.jobs import Job
    from narrative.platform.redis import get_redis_bytes

    os.register_at_fork(after_in_child=lambda: _dispose_in_child(app))
    try:
        timings = [t * 1000 for t in enqueue_narrative_jobs(app, args.jobs)]
        print(
            f"enqueue_job + commit ({args.jobs}): p50 {percentile(timings, 0.5):.2f} ms  "
            f"p95 {percentile(timings, 0.95):.2f} ms"
        )
        results = {}
        for label, base in (
            ("Narrative Worker (fork per job)", Worker),
            ("Narrative SimpleWorker", SimpleWorker),
        ):
            if label.endswith("SimpleWorker"):
                enqueue_narrative_jobs(app, args.jobs)
            seconds = drain(narrative_worker(app, base))
            results[label] = args.jobs / seconds
        with app.app_context():
            done = db.session.scalar(db.select(db.func.count()).where(Job.status == "COMPLETED"))
            connection = get_redis_bytes()
        print(f"  ({done} of {2 * args.jobs} Narrative jobs COMPLETED)")
        queue = Queue("default", connection=connection)
        for label, base in (
            ("stock RQ Worker (fork per job)", Worker),
            ("stock RQ SimpleWorker", SimpleWorker),
        ):
            for _ in range(args.jobs):
                queue.enqueue(noop, result_ttl=60)
            seconds = drain(base([queue], connection=connection))
            results[label] = args.jobs / seconds
        for label, rate in results.items():
            print(f"{label:34s} {rate:8.1f} no-op jobs/s")
    finally:
        cleanup()


def _dispose_in_child(app):
    from narrative.extensions import db

    with app.app_context():
        db.engine.dispose(close=False)


if __name__ == "__main__":
    main()
