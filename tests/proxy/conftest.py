"""Fixtures of the API proxy tests: a real loopback upstream and helpers to make actions and tokens."""

import contextlib
import gzip
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from narrative.proxy.recorder import recorder_for

UPSTREAM_SECRET = "sk_upstream_TOP-SECRET-value-0123456789"


class UpstreamHandler(BaseHTTPRequestHandler):
    """/echo answers JSON describing what arrived; /slow sleeps; /big streams; /status/<n> answers n;
    /gzip answers a gzip-encoded body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(parts)
        return b""

    def _answer(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError):  # the proxy gave up waiting (timeout tests)
            self.wfile.write(body)

    def do_POST(self):
        body = self._body()
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        if self.path.startswith("/slow"):
            time.sleep(1.0)
            self._answer(200, b'{"slow": true}')
        elif self.path.startswith("/status/"):
            status = int(self.path.rsplit("/", 1)[1])
            self._answer(status, json.dumps({"status": status}).encode())
        elif self.path.startswith("/gzip"):
            packed = gzip.compress(b'{"compressed": true}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(packed)))
            self.end_headers()
            self.wfile.write(packed)
        elif self.path.startswith("/big"):
            size = int(self.path.split("size=")[1]) if "size=" in self.path else 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            with contextlib.suppress(BrokenPipeError):  # the proxy stops reading past its cap
                while sent < size:
                    part = chunk[: min(len(chunk), size - sent)]
                    self.wfile.write(part)
                    sent += len(part)
        else:
            answer = {
                "path": self.path,
                "method": self.command,
                "body_bytes": len(body),
                "body": body[:200].decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            self._answer(200, json.dumps(answer).encode())

    do_PUT = do_PATCH = do_DELETE = do_GET = do_POST


@pytest.fixture(scope="session")
def upstream():
    server = ThreadingHTTPServer(("127.0.0.1", 0), UpstreamHandler)
    server.daemon_threads = True
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def refused_url():
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


@pytest.fixture(autouse=True)
def drain_recorder(request):
    """Every queued execution is written before the test's tables are emptied."""
    yield
    if "app" in request.fixturenames:
        recorder_for(request.getfixturevalue("app")).flush()


def make_action(client, **fields):
    body = {"name": "Echo", "target_url": "https://api.example.com/echo", **fields}
    response = client.post("/api/v1/actions", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def issue_token(client, action_id, **fields):
    response = client.post("/api/v1/tokens", json={"action_id": action_id, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def call(client, action_id, token, **kwargs):
    headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
    return client.post(f"/x/{action_id}", headers=headers, **kwargs)


def executions(client, action_id, **params):
    response = client.get(f"/api/v1/actions/{action_id}/executions", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]
