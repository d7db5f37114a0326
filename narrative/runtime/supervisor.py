"""`narrative serve`: migrations, demo data, then gunicorn, RQ workers and the scheduler as children.

The supervisor restarts a crashed worker or scheduler (with a growing pause), stops everything
on Ctrl-C or SIGTERM, and, with no REDIS_URL, owns the embedded Redis server for its lifetime.
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

STOP_GRACE_SECONDS = 15


@dataclass
class Child:
    name: str
    argv: list
    restart: bool
    proc: subprocess.Popen | None = None
    restarts: int = 0
    started_at: float = 0.0
    next_start: float = field(default=0.0)

    def start(self, env):
        self.proc = subprocess.Popen(self.argv, env=env)
        self.started_at = time.monotonic()

    def exited(self):
        return self.proc is not None and self.proc.poll() is not None


class Supervisor:
    def __init__(self, children, env):
        self.children = children
        self.env = env
        self.stopping = False

    def request_stop(self, signum, frame):
        self.stopping = True

    def run(self):
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        for child in self.children:
            child.start(self.env)
        exit_code = 0
        while not self.stopping:
            time.sleep(0.3)
            for child in self.children:
                if self.stopping or not child.exited():
                    continue
                if not child.restart:
                    print(
                        f"narrative: {child.name} exited with {child.proc.returncode}; stopping",
                        file=sys.stderr,
                    )
                    self.stopping, exit_code = True, 1
                    break
                self._restart(child)
        self.stop_all()
        return exit_code

    def _restart(self, child):
        now = time.monotonic()
        if child.next_start == 0.0:
            # A child that ran for a while before dying starts again at once; one that keeps
            # dying waits longer each time, up to 30 s.
            quick_death = now - child.started_at < 10
            child.restarts = child.restarts + 1 if quick_death else 0
            child.next_start = now + min(30.0, 0.5 * (2**child.restarts) if quick_death else 0)
            print(f"narrative: {child.name} exited with {child.proc.returncode}; restarting", file=sys.stderr)
        if now >= child.next_start:
            child.next_start = 0.0
            child.start(self.env)

    def stop_all(self):
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in running:
            child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in running:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()


def _prepare(app):
    """Apply migrations and seed the demo workspace (idempotent); returns the demo user's email."""
    from flask_migrate import upgrade

    from narrative.app import DOMAINS
    from narrative.cli import seed_demo_data

    with app.app_context():
        upgrade()
        return seed_demo_data(DOMAINS).user.email


def _demo_password(app):
    from narrative.identity.seed import demo_login_file

    if app.config["DEMO_PASSWORD"]:
        return "(the value of NARRATIVE_DEMO_PASSWORD)"
    path = demo_login_file()
    if path.exists():
        return path.read_text().splitlines()[1]
    return "(set before this database was created; reset it with flask narrative create-user)"


def serve(host, port, workers, web_workers, threads):
    from config import instance_dir
    from narrative.app import create_app
    from narrative.platform.redis import start_embedded_redis, stop_embedded_redis

    env = dict(os.environ)
    app = create_app()
    embedded_file = None
    if not app.config["REDIS_URL"]:
        embedded_file = app.config["EMBEDDED_REDIS_FILE"]
        env["REDIS_URL"] = start_embedded_redis(embedded_file)
        app.config["REDIS_URL"] = env["REDIS_URL"]
    metrics_dir = instance_dir() / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)

    demo_email = _prepare(app)
    python = sys.executable
    children = [
        Child(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "--worker-class",
                "gthread",
                "--workers",
                str(web_workers),
                "--threads",
                str(threads),
                "--bind",
                f"{host}:{port}",
                "--graceful-timeout",
                "10",
                "--timeout",
                "60",
                "--no-control-socket",
                "narrative.app:create_app()",
            ],
            restart=False,
        ),
        *[
            Child(f"worker-{i + 1}", [python, "-m", "narrative.runtime.cli", "worker"], True)
            for i in range(workers)
        ],
        Child("scheduler", [python, "-m", "narrative.runtime.cli", "scheduler"], restart=True),
    ]
    url = f"http://{'localhost' if host in ('0.0.0.0', '127.0.0.1') else host}:{port}"
    print(
        f"\nNarrative is starting at {url}\n"
        f"  API docs:   {url}/docs  (ReDoc: {url}/redoc)\n"
        f"  Database:   {app.config['SQLALCHEMY_DATABASE_URI'].split('@')[-1]}\n"
        f"  Redis:      {'embedded' if embedded_file else 'REDIS_URL'}\n"
        f"  Demo login: {demo_email} / {_demo_password(app)}\n"
        f"  Workers:    {workers} RQ worker(s) and the scheduler; web: {web_workers} x {threads} threads\n",
        flush=True,
    )
    try:
        return Supervisor(children, env).run()
    finally:
        if embedded_file:
            stop_embedded_redis(embedded_file)
