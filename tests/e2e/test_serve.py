"""`narrative serve` on a free port: migrate, seed, serve, and stop cleanly on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import create_postgres_database

pytestmark = pytest.mark.e2e


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(services, tmp_path):
    env = {
        **os.environ,
        "NARRATIVE_INSTANCE_DIR": str(tmp_path),
        "NARRATIVE_DEMO_PASSWORD": "demo-password-1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    drop = None
    if services["database_url"].startswith("postgresql"):
        env["DATABASE_URL"], drop = create_postgres_database(services["database_url"])
    if not services["embedded"]:
        env["REDIS_URL"] = services["redis_url"]
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "narrative.runtime.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            "1",
            "--web-workers",
            "1",
            "--threads",
            "8",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        assert proc.poll() is None, proc.stdout.read()
    else:
        proc.kill()
        pytest.fail("narrative serve did not become healthy in 60 s")
    yield base, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if drop:
        drop()


def test_serve_answers_and_stops_cleanly(server):
    base, proc = server
    health = httpx.get(f"{base}/api/health").json()
    assert health["status"] == "ok"
    docs = httpx.get(f"{base}/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    spec = httpx.get(f"{base}/openapi.json").json()
    assert "/api/health" in spec["paths"]
    missing = httpx.get(f"{base}/nope")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    output = proc.stdout.read()
    assert "Demo login: demo@narrative.local" in output
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{base}/api/health", timeout=1)
