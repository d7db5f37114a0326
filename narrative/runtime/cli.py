"""The `narrative` console script: serve, worker, scheduler."""

import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(prog="narrative", description="Run the Narrative platform.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="migrate, seed, and run web, workers and scheduler")
    serve.add_argument("--host", default=os.environ.get("NARRATIVE_HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=2, help="RQ worker processes (default 2)")
    serve.add_argument("--web-workers", type=int, default=2, help="gunicorn processes (default 2)")
    serve.add_argument(
        "--threads", type=int, default=64, help="threads per gunicorn process; each open SSE stream holds one"
    )

    worker = commands.add_parser("worker", help="one RQ worker (for production hosts)")
    worker.add_argument("--queues", default="high,default,low")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")

    commands.add_parser("scheduler", help="the periodic job scheduler")

    args = parser.parse_args(argv)
    if args.command == "serve":
        from narrative.runtime.supervisor import serve as run_serve

        return run_serve(args.host, args.port, args.workers, args.web_workers, args.threads)
    if args.command == "worker":
        from workers.worker import run_worker

        run_worker(tuple(q for q in args.queues.split(",") if q), burst=args.burst)
        return 0
    if args.command == "scheduler":
        from workers.scheduler import run_scheduler

        run_scheduler()
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
