"""Webhook delivery benchmark: throughput per worker and latency from commit to the receiver.

One RQ worker process (`workers.worker.run_worker`, the production entry point) serves the default
queue, so each figure includes the whole path: outbox dispatch job -> webhooks consumer -> attempt
row -> attempt job -> signed POST -> result recorded. The receiver is a loopback http.server.

- latency: events emitted one at a time (each in its own committed transaction); the time from
  the commit returning to the receiver reading the request, p50/p95;
- throughput: a burst of events committed at once; deliveries per second from the first commit to
  the last receipt, for one worker.

Usage: python -m bench.webhooks [--events 500] [--latency-samples 100]
Needs PostgreSQL and Redis on loopback (see bench/_services.py); prints figures, asserts nothing.
"""

import argparse
import os
import subprocess
import sys
import threading
import time

from bench._services import DEFAULT_DATABASE, percentile, prepare
from tests.webhooks.receiver import Receiver


def set_up_webhook(app, url):
    from narrative.extensions import db
    from narrative.identity.models import Workspace
    from narrative.webhooks.service import create_webhook

    with app.app_context():
        workspace = Workspace(name="Bench", slug=f"bench-{os.getpid()}")
        db.session.add(workspace)
        db.session.flush()
        create_webhook(workspace_id=workspace.id, created_by_id=None, url=url, events=["probe.note.added"])
        db.session.commit()
        return workspace.id


def emit_and_commit(app, workspace_id, texts):
    from narrative.extensions import db
    from narrative.platform.events import emit

    with app.app_context():
        for text in texts:
            emit("probe.note.added", {"text": text}, workspace_id=workspace_id)
        db.session.commit()
    return time.time()


def wait_for(receiver, count, timeout):
    deadline = time.time() + timeout
    while len(receiver.requests) < count and time.time() < deadline:
        time.sleep(0.001)
    return len(receiver.requests) >= count


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=500, help="burst size for the throughput figure")
    parser.add_argument("--latency-samples", type=int, default=100)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    import tests.probes.events  # noqa: F401  (registers probe.note.added)

    env, app, cleanup = prepare(args.database, args.redis)
    env["NARRATIVE_ALLOW_PRIVATE_URLS"] = "true"
    app.config["NARRATIVE_ALLOW_PRIVATE_URLS"] = True
    receiver = Receiver().start()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import tests.probes.events; from workers.worker import run_worker; run_worker(('default',))",
        ],
        env=env,
    )
    try:
        workspace_id = set_up_webhook(app, receiver.url)
        time.sleep(2)  # the worker is up and listening

        latencies = []
        for i in range(args.latency_samples):
            before = len(receiver.requests)
            committed = emit_and_commit(app, workspace_id, [f"latency {i}"])
            if not wait_for(receiver, before + 1, 30):
                raise SystemExit("a delivery did not arrive within 30 s")
            latencies.append((receiver.requests[-1][2] - committed) * 1000)

        before = len(receiver.requests)
        started = time.time()
        emit_and_commit(app, workspace_id, [f"burst {i}" for i in range(args.events)])
        if not wait_for(receiver, before + args.events, 600):
            raise SystemExit("the burst was not delivered within 10 minutes")
        elapsed = receiver.requests[-1][2] - started

        print(f"commit -> receiver latency over {len(latencies)} single events (1 worker):")
        print(f"  p50 {percentile(latencies, 0.50):.1f} ms   p95 {percentile(latencies, 0.95):.1f} ms")
        print(
            f"throughput: {args.events} deliveries in {elapsed:.2f} s = {args.events / elapsed:.1f} deliveries/s per worker"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=10)
        receiver.stop()
        cleanup()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
