"""API proxy overhead: the same requests sent directly to an upstream and through `/x/{action_id}`.

Starts a loopback upstream (a minimal HTTP/1.1 keep-alive server answering a small JSON body, in its
own process) and `narrative serve` against a fresh PostgreSQL database and a spare Redis index,
creates a user and API key (services, as the CLI does), then an action and an execution token
through the HTTP API. It then sends N requests directly and N through the proxy at concurrency 1
and 32 and prints p50/p95/p99, requests per second and the added latency; then the proxy worker's
memory while a 50 MB body is proxied up and a 50 MB answer down; then (--inline) concurrency 1 again
with executions written inline, to show what the background writer saves.

    .venv/bin/python bench/proxy.py [--requests 1000] [--requests-32 3200] [--web-workers 2]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

from bench._services import percentile

BODY = json.dumps({"ok": True, "message": "hello from upstream"}).encode()
PAYLOAD = json.dumps({"to": "+4400000000", "text": "bench"}).encode()
BIG = 50 * 1024 * 1024


# ---- the upstream (run in its own process: `bench/proxy.py --upstream PORT`) ---------------------


class Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle plus delayed ACKs adds ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def do_POST(self):
        remaining = int(self.headers.get("Content-Length") or 0)
        while remaining:  # read and drop: a 50 MB upload costs the upstream no memory either
            remaining -= len(self.rfile.read(min(remaining, 1 << 16)))
        if self.path.startswith("/big"):
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            chunk = b"x" * (1 << 16)
            for _ in range(BIG // len(chunk)):
                self.wfile.write(chunk)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def run_upstream(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Upstream)
    server.daemon_threads = True
    server.serve_forever()


# ---- set-up -------------------------------------------------------------------------------------


def wait_for(url, proc, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer in {seconds} s")


def prepare_database(database, redis_url):
    """A new database migrated to head, and a claimed Redis index."""
    import redis

    from tests.conftest import REDIS_LOCK_KEY, create_postgres_database

    server = redis.Redis.from_url(redis_url)
    if not server.set(REDIS_LOCK_KEY, os.getpid(), nx=True, ex=900):
        raise SystemExit(f"{redis_url} is in use by a test session or another bench; pass --redis")
    server.flushdb()
    server.set(REDIS_LOCK_KEY, os.getpid(), ex=900)
    url, drop = create_postgres_database(database)
    from flask_migrate import upgrade

    from config import normalise_database_url
    from narrative.app import create_app
    from narrative.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": normalise_database_url(url), "REDIS_URL": redis_url})
    with app.app_context():
        upgrade()

    def cleanup():
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        server.flushdb()
        drop()

    return url, app, cleanup


def start_serve(env, port, web_workers, threads):
    argv = [
        sys.executable, "-m", "narrative.runtime.cli", "serve", "--port", str(port),
        "--workers", "0", "--web-workers", str(web_workers), "--threads", str(threads),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/api/health", proc)
    return proc, " ".join(["narrative", *argv[3:]])


def create_credentials(app, base):
    """A user and an sk_ key (services), then an action and an sxt_ token through the API."""
    from narrative.extensions import db
    from narrative.identity import service
    from narrative.proxy.models import Plan

    with app.app_context():
        user = service.create_user(
            email="bench@example.com", password="bench password 1", name="Bench", workspace_name="Bench"
        )
        workspace = user.memberships[0].workspace
        # The free plan's 300 executions a month would end the run: a plan row without limits.
        db.session.merge(Plan(key="bench", name="Bench", max_active_actions=None, monthly_executions=None))
        workspace.plan = "bench"
        _, key = service.create_api_key(user=user, workspace=workspace, name="bench", scopes=None)
        db.session.commit()
    return key


def make_action(base, key, target, **fields):
    headers = {"Authorization": f"Bearer {key}"}
    body = {"name": "Bench", "target_url": target, "rate_limit_rpm": 1_000_000,
            "headers": {"X-Api-Key": "sk_upstream_secret_for_the_bench"}, **fields}  # fmt: skip
    action = httpx.post(f"{base}/api/v1/actions", json=body, headers=headers)
    action.raise_for_status()
    action_id = action.json()["id"]
    token = httpx.post(f"{base}/api/v1/tokens", json={"action_id": action_id}, headers=headers)
    token.raise_for_status()
    return action_id, token.json()["token"]


# ---- measuring ----------------------------------------------------------------------------------


def run_load(url, headers, total, concurrency):
    """`total` POSTs split over `concurrency` threads, one keep-alive client each; latencies in ms."""
    latencies, errors = [], []
    lock = threading.Lock()
    per_thread = total // concurrency

    def worker(_):
        local = []
        with httpx.Client(timeout=30) as client:
            for _ in range(per_thread):
                started = time.perf_counter()
                response = client.post(url, content=PAYLOAD, headers=headers)
                local.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    errors.append(response.status_code)
        with lock:
            latencies.extend(local)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(worker, range(concurrency)))
    elapsed = time.perf_counter() - started
    return latencies, len(latencies) / elapsed, errors


def measure(name, url, headers, total, concurrency, warmup=200):
    run_load(url, headers, min(warmup, total), min(concurrency, 8))
    latencies, rps, errors = run_load(url, headers, total, concurrency)
    figures = {
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "mean": statistics.mean(latencies),
        "rps": rps,
    }
    print(
        f"  {name:<8} c={concurrency:<3} n={len(latencies):<6} p50 {figures['p50']:6.2f} ms  "
        f"p95 {figures['p95']:6.2f} ms  p99 {figures['p99']:6.2f} ms  {rps:8.0f} req/s"
        + (f"  errors {len(errors)} (e.g. {errors[0]})" if errors else "")
    )
    return figures


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def memory_during(serve_pid, send):
    """Peak RSS of the serve tree's processes (max of any one, and the sum) while `send()` runs."""
    pids = descendants(serve_pid)
    before = {pid: rss_mb(pid) for pid in pids}
    peak = dict(before)
    done = threading.Event()

    def sample():
        while not done.is_set():
            for pid in pids:
                peak[pid] = max(peak[pid], rss_mb(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = send()
    finally:
        done.set()
        sampler.join()
    growth = max(peak[pid] - before[pid] for pid in pids)
    return result, max(before.values()), max(peak.values()), growth


def big_body():
    chunk = b"y" * (1 << 20)
    for _ in range(BIG // len(chunk)):
        yield chunk


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000, help="requests per run at concurrency 1")
    parser.add_argument("--requests-32", type=int, default=3200, help="requests per run at concurrency 32")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--no-inline", action="store_true", help="skip the inline-writes comparison")
    parser.add_argument("--upstream", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.upstream:
        run_upstream(args.upstream)
        return

    from bench._services import free_port

    command = "bench/proxy.py " + " ".join(sys.argv[1:])
    upstream_port, port = free_port(), free_port()
    # Claim the database and Redis index first: when they are busy, no upstream is left behind.
    database_url, app, cleanup = prepare_database(args.database, args.redis)
    upstream = subprocess.Popen([sys.executable, __file__, "--upstream", str(upstream_port)])
    procs = [upstream]
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/", upstream)
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": args.redis,
            "NARRATIVE_INSTANCE_DIR": __import__("tempfile").mkdtemp(prefix="narrative-bench-"),
            "NARRATIVE_ALLOW_PRIVATE_URLS": "1",
            "NARRATIVE_DEMO_PASSWORD": "bench-demo-password",
            "LOG_LEVEL": "WARNING",
        }
        serve, serve_command = start_serve(env, port, args.web_workers, args.threads)
        procs.append(serve)
        base = f"http://127.0.0.1:{port}"
        key = create_credentials(app, base)
        direct_url = f"http://127.0.0.1:{upstream_port}/echo"
        action_id, token = make_action(base, key, direct_url)
        proxy_url = f"{base}/x/{action_id}"
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        plain = {"Content-Type": "application/json"}

        print(f"command: .venv/bin/python {command}")
        print(f"server:  {serve_command}  (gunicorn gthread {args.web_workers} x {args.threads} threads)")
        print(f"machine: {os.cpu_count()} cores; client, upstream and server share them")
        print(
            f"payload: {len(PAYLOAD)} B JSON up, {len(BODY)} B JSON down; executions written in the background"
        )
        results = {}
        for concurrency, total in ((1, args.requests), (32, args.requests_32)):
            results[("direct", concurrency)] = measure("direct", direct_url, plain, total, concurrency)
            results[("proxy", concurrency)] = measure("proxy", proxy_url, auth, total, concurrency)
        for concurrency in (1, 32):
            direct, proxied = results[("direct", concurrency)], results[("proxy", concurrency)]
            print(
                f"  added latency c={concurrency}: p50 {proxied['p50'] - direct['p50']:+.2f} ms  "
                f"p95 {proxied['p95'] - direct['p95']:+.2f} ms  p99 {proxied['p99'] - direct['p99']:+.2f} ms;  "
                f"throughput {100 * proxied['rps'] / direct['rps']:.0f}% of direct"
            )

        def upload():
            headers = {**auth, "Content-Length": str(BIG)}
            return httpx.post(proxy_url, content=big_body(), headers=headers, timeout=120)

        response, before, peak, growth = memory_during(serve.pid, upload)
        print(
            f"  50 MB body up:   status {response.status_code}; largest serve process RSS {before:.0f} MB -> "
            f"peak {peak:.0f} MB; largest growth of any process {growth:+.1f} MB"
        )
        big_id, big_token = make_action(base, key, f"http://127.0.0.1:{upstream_port}/big")

        def download():
            size = 0
            with httpx.stream(
                "POST", f"{base}/x/{big_id}", headers={"Authorization": f"Bearer {big_token}"}, timeout=120
            ) as r:
                for chunk in r.iter_raw():
                    size += len(chunk)
            return r.status_code, size

        (status, size), before, peak, growth = memory_during(serve.pid, download)
        print(
            f"  50 MB answer down: status {status}, {size / 2**20:.0f} MB received; largest serve process RSS "
            f"{before:.0f} MB -> peak {peak:.0f} MB; largest growth {growth:+.1f} MB"
        )
        serve.terminate()
        serve.wait(timeout=30)

        if not args.no_inline:
            env["PROXY_EXECUTION_WRITES"] = "inline"
            serve, _ = start_serve(env, port, args.web_workers, args.threads)
            procs.append(serve)
            print("executions written inline (before the response completes), for comparison:")
            inline = measure("proxy", proxy_url, auth, args.requests, 1)
            background = results[("proxy", 1)]
            print(
                f"  inline minus background c=1: p50 {inline['p50'] - background['p50']:+.2f} ms  "
                f"p99 {inline['p99'] - background['p99']:+.2f} ms"
            )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        cleanup()


if __name__ == "__main__":
    main()
