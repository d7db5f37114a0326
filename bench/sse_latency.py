"""SSE latency and capacity: from a job's `report()` to the frame arriving at many open streams.

Starts gunicorn (gthread) on the bench app (bench/_app.py: the app plus the job probe routes) against
a fresh PostgreSQL database and Redis index 14, opens `--streams` SSE clients (one job each), reports
progress on those jobs from this process and prints p50/p95/p99 of report-to-arrival latency. Then
starts a server with a small thread budget and counts how many streams it holds at once.

    .venv/bin/python bench/sse_latency.py [--streams 100] [--rounds 20]
"""

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import httpx

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from bench._services import DEFAULT_DATABASE, DEFAULT_REDIS, free_port, percentile, prepare


def start_server(env, *, workers, threads):
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--worker-class",
            "gthread",
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench._app:create_bench_app()",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the bench server did not start")


def create_running_jobs(app, count):
    from narrative.extensions import db
    from narrative.platform.jobs import Job, new_job_id
    from narrative.platform.models import utcnow

    with app.app_context():
        ids = [new_job_id() for _ in range(count)]
        db.session.add_all(Job(id=i, kind="bench.sse", status="RUNNING", started_at=utcnow()) for i in ids)
        db.session.commit()
    return ids


async def listen(client, base, job_id, connected, latencies, done):
    async with client.stream("GET", f"{base}/_probe/jobs/{job_id}/stream") as response:
        async for line in response.aiter_lines():
            if line.startswith(": connected"):
                connected.append(job_id)
            elif line.startswith("data: "):
                data = json.loads(line[6:])
                if "sent_at" in data:
                    latencies.append(time.time() - data["sent_at"])
                if data["status"] == "COMPLETED":
                    done.append(job_id)
                    return


def report_rounds(app, job_ids, rounds, interval):
    from narrative.platform.jobs import JobProgress

    with app.app_context():
        reporters = [JobProgress(job_id) for job_id in job_ids]
        for round_number in range(1, rounds + 1):
            for reporter in reporters:
                reporter.report(progress=round_number * 100 // (rounds + 1), data={"sent_at": time.time()})
            time.sleep(interval)
        for reporter in reporters:
            reporter.complete({"ok": True})


async def measure_latency(app, base, streams, rounds, interval):
    job_ids = create_running_jobs(app, streams)
    connected, latencies, done = [], [], []
    limits = httpx.Limits(max_connections=streams + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        tasks = [asyncio.create_task(listen(client, base, j, connected, latencies, done)) for j in job_ids]
        while len(connected) < streams:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(report_rounds, app, job_ids, rounds, interval)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return latencies, len(done)


async def count_held_streams(app, base, attempts):
    job_ids = create_running_jobs(app, attempts)
    opened = []

    async def try_open(client, job_id):
        try:
            async with client.stream("GET", f"{base}/_probe/jobs/{job_id}/stream") as response:
                async for line in response.aiter_lines():
                    if line.startswith(": connected"):
                        opened.append(job_id)
        except (httpx.TimeoutException, httpx.TransportError):
            pass

    async with httpx.AsyncClient(
        timeout=httpx.Timeout(3.0), limits=httpx.Limits(max_connections=attempts)
    ) as client:
        tasks = [asyncio.create_task(try_open(client, j)) for j in job_ids]
        await asyncio.sleep(2.5)
        held = len(opened)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return held


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between report rounds")
    parser.add_argument("--threads", type=int, default=64, help="gunicorn threads per process")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--database", default=DEFAULT_DATABASE)
    parser.add_argument("--redis", default=DEFAULT_REDIS)
    args = parser.parse_args()

    env, app, cleanup = prepare(args.database, args.redis)
    try:
        proc, base = start_server(env, workers=args.web_workers, threads=args.threads)
        try:
            latencies, finished = asyncio.run(
                measure_latency(app, base, args.streams, args.rounds, args.interval)
            )
        finally:
            proc.terminate()
            proc.wait()
        ms = [value * 1000 for value in latencies]
        print(f"server: gunicorn gthread {args.web_workers} x {args.threads} threads")
        print(f"streams open: {args.streams}; reports per stream: {args.rounds}; frames received: {len(ms)}")
        print(
            f"report() -> frame latency ms: p50 {percentile(ms, 0.5):.2f}  p95 {percentile(ms, 0.95):.2f}  "
            f"p99 {percentile(ms, 0.99):.2f}  max {max(ms):.2f}  mean {statistics.mean(ms):.2f}"
        )
        print(f"streams closed by their terminal event: {finished}/{args.streams}")

        small_threads = 16
        proc, base = start_server(env, workers=1, threads=small_threads)
        try:
            held = asyncio.run(count_held_streams(app, base, small_threads + 8))
        finally:
            proc.kill()
            proc.wait()
        print(
            f"capacity: 1 process x {small_threads} threads held {held} of {small_threads + 8} concurrent streams "
            f"(each open stream holds one thread)"
        )
    finally:
        cleanup()


if __name__ == "__main__":
    main()
