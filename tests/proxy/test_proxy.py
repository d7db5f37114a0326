"""The proxy end to end against a real loopback upstream: forwarding, limits, quota, failures, log."""

import contextlib
import gzip
import io
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.platform.redis import get_redis
from narrative.proxy.models import Execution
from narrative.proxy.proxy import quota_key
from tests.proxy.conftest import UPSTREAM_SECRET, call, executions, issue_token, make_action


@pytest.fixture
def echo(auth_client, upstream):
    """An action on the upstream's /echo with a secret header, and a token for it."""
    action = make_action(
        auth_client,
        target_url=f"{upstream.base}/echo",
        headers={"X-Api-Key": UPSTREAM_SECRET},
        rate_limit_rpm=1000,
    )
    return action, issue_token(auth_client, action["id"])["token"]


def test_lifecycle_forwards_body_headers_and_query(auth_client, upstream, echo):
    action, token = echo
    response = call(
        auth_client,
        action["id"],
        token,
        data=b'{"to": "+4412345"}',
        query_string={"dry_run": "1"},
        headers={"Content-Type": "application/json", "Cookie": "session=abc", "Idempotency-Key": "k-1"},
    )
    assert response.status_code == 200 and response.content_type == "application/json"
    seen = response.get_json()
    assert seen["path"] == "/echo?dry_run=1" and seen["method"] == "POST"
    assert seen["body"] == '{"to": "+4412345"}' and seen["body_bytes"] == 18
    # The action's secret header is added; the caller's token and cookies never travel upstream.
    assert seen["headers"]["x-api-key"] == UPSTREAM_SECRET
    assert "cookie" not in seen["headers"] and "sxt_" not in str(seen["headers"])
    assert seen["headers"]["idempotency-key"] == "k-1"
    assert seen["headers"]["x-request-id"] == response.headers["X-Request-Id"]
    assert response.headers["RateLimit-Limit"] == "1000"

    [execution] = executions(auth_client, action["id"])
    assert execution["status_code"] == 200 and execution["outcome"] == "success" and execution["counted"]
    assert execution["request_bytes"] == 18 and execution["response_bytes"] == len(response.data)
    assert execution["request_body"] == '{"to": "+4412345"}'
    assert execution["duration_ms"] >= execution["upstream_ms"] > 0
    assert execution["request_id"] == response.headers["X-Request-Id"]
    one = auth_client.get(f"/api/v1/actions/{action['id']}/executions/{execution['id']}").get_json()
    assert one["id"] == execution["id"]
    token_row = auth_client.get("/api/v1/tokens").get_json()["items"][0]
    assert token_row["last_used_at"] is not None


def test_upstream_status_and_method_are_passed_through(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/status/422", method="PUT")
    token = issue_token(auth_client, action["id"])["token"]
    response = call(auth_client, action["id"], token, json={"a": 1})
    assert response.status_code == 422 and response.get_json() == {"status": 422}
    assert upstream.received[-1]["path"] == "/status/422"
    [execution] = executions(auth_client, action["id"])
    assert execution["outcome"] == "upstream_error" and execution["status_code"] == 422


def test_an_encoded_answer_passes_through_byte_for_byte(auth_client, upstream):
    action = make_action(auth_client, target_url=upstream.base + "/gzip")
    token = issue_token(auth_client, action["id"])["token"]
    response = call(auth_client, action["id"], token, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.get_data()) == b'{"compressed": true}'


def test_concurrent_burst_admits_exactly_the_rpm(app, auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo", rate_limit_rpm=10)
    token = issue_token(auth_client, action["id"])["token"]
    start = threading.Barrier(20)

    def one(_):
        client = app.test_client()
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=5)
        return call(client, action["id"], token, json={}).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(one, range(100)))
    assert statuses.count(200) == 10 and statuses.count(429) == 90
    limited = call(auth_client, action["id"], token, json={})
    assert limited.status_code == 429 and limited.get_json()["error"] == "rate_limited"
    assert limited.get_json()["retry_after_seconds"] >= 1 and int(limited.headers["Retry-After"]) >= 1
    rows = executions(auth_client, action["id"], limit=200)
    outcomes = [row["outcome"] for row in rows]
    assert len(rows) == 101 and outcomes.count("success") == 10 and outcomes.count("rate_limited") == 91
    assert all(not row["counted"] for row in rows if row["outcome"] == "rate_limited")


def test_hourly_limit(auth_client, upstream):
    action = make_action(
        auth_client, target_url=f"{upstream.base}/echo", rate_limit_rpm=100, rate_limit_rph=3
    )
    token = issue_token(auth_client, action["id"])["token"]
    statuses = [call(auth_client, action["id"], token, json={}).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]


def test_the_301st_monthly_execution_is_refused(auth_client, echo):
    action, token = echo
    get_redis().set(quota_key(auth_client.workspace.id), 299)
    assert call(auth_client, action["id"], token, json={}).status_code == 200  # the 300th
    refused = call(auth_client, action["id"], token, json={})
    assert refused.status_code == 403 and refused.get_json()["error"] == "execution_limit_reached"
    assert int(get_redis().get(quota_key(auth_client.workspace.id))) == 300
    newest = executions(auth_client, action["id"])[0]
    assert newest["outcome"] == "execution_limit_reached" and newest["status_code"] == 403
    assert not newest["counted"]


def test_the_quota_counter_is_rebuilt_from_the_executions_table(auth_client, echo):
    action, token = echo
    rows = [
        Execution(
            workspace_id=auth_client.workspace.id,
            action_id=uuid.UUID(action["id"]),
            method="POST",
            status_code=200,
            outcome="success",
            counted=True,
            duration_ms=1.0,
            created_at=utcnow(),
        )
        for _ in range(300)
    ]
    db.session.add_all(rows)
    db.session.commit()
    assert get_redis().get(quota_key(auth_client.workspace.id)) is None
    refused = call(auth_client, action["id"], token, json={})
    assert refused.status_code == 403 and refused.get_json()["error"] == "execution_limit_reached"


def test_upstream_timeout_is_504_and_recorded(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/slow", timeout_seconds=0.3)
    token = issue_token(auth_client, action["id"])["token"]
    response = call(auth_client, action["id"], token, json={})
    assert response.status_code == 504 and response.get_json()["error"] == "upstream_timeout"
    [execution] = executions(auth_client, action["id"])
    assert execution["outcome"] == "upstream_timeout" and execution["status_code"] == 504
    assert execution["counted"] and execution["error"]


def test_refused_connection_is_502_and_recorded(auth_client, refused_url):
    action = make_action(auth_client, target_url=refused_url)
    token = issue_token(auth_client, action["id"])["token"]
    response = call(auth_client, action["id"], token, json={})
    assert response.status_code == 502 and response.get_json()["error"] == "upstream_unreachable"
    [execution] = executions(auth_client, action["id"])
    assert execution["outcome"] == "upstream_unreachable" and execution["status_code"] == 502


def test_paused_action_is_refused_and_recorded(auth_client, echo):
    action, token = echo
    auth_client.patch(f"/api/v1/actions/{action['id']}", json={"is_active": False})
    response = call(auth_client, action["id"], token, json={})
    assert response.status_code == 403 and response.get_json()["error"] == "action_inactive"
    assert executions(auth_client, action["id"])[0]["outcome"] == "action_inactive"


def test_request_body_cap_is_413(app, auth_client, echo, monkeypatch):
    monkeypatch.setitem(app.config, "PROXY_MAX_BODY_BYTES", 1024 * 1024)
    action, token = echo
    declared = call(auth_client, action["id"], token, data=b"x" * (1024 * 1024 + 1))
    assert declared.status_code == 413 and declared.get_json()["error"] == "payload_too_large"
    # Without a Content-Length (chunked) the cap is enforced while streaming.
    chunked = call(
        auth_client,
        action["id"],
        token,
        input_stream=io.BytesIO(b"y" * (3 * 1024 * 1024)),
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # as gunicorn sets it for chunked bodies
    )
    assert chunked.status_code == 413
    outcomes = [row["outcome"] for row in executions(auth_client, action["id"])]
    assert outcomes == ["payload_too_large", "payload_too_large"]


def test_large_bodies_stream_both_ways(app, auth_client, upstream, echo):
    action, token = echo
    size = 3 * 1024 * 1024 + 7
    response = call(auth_client, action["id"], token, data=b"z" * size)
    assert response.status_code == 200 and response.get_json()["body_bytes"] == size
    big = make_action(auth_client, name="Big", target_url=f"{upstream.base}/big?size={size}")
    big_token = issue_token(auth_client, big["id"])["token"]
    streamed = call(auth_client, big["id"], big_token, json={})
    assert streamed.status_code == 200 and len(streamed.data) == size
    assert streamed.is_streamed or streamed.headers["Content-Length"] == str(size)
    [execution] = executions(auth_client, big["id"])
    assert execution["response_bytes"] == size and execution["outcome"] == "success"
    assert len(execution["response_body"]) == app.config["PROXY_LOGGED_BODY_BYTES"]


def test_upstream_answer_over_the_cap_is_502(app, auth_client, upstream, monkeypatch):
    monkeypatch.setitem(app.config, "PROXY_MAX_RESPONSE_BYTES", 1024 * 1024)
    action = make_action(auth_client, target_url=f"{upstream.base}/big?size={2 * 1024 * 1024}")
    token = issue_token(auth_client, action["id"])["token"]
    response = call(auth_client, action["id"], token, json={})
    assert response.status_code == 502 and response.get_json()["error"] == "upstream_response_too_large"


def test_sensitive_action_keeps_no_bodies(auth_client, upstream):
    action = make_action(auth_client, target_url=f"{upstream.base}/echo", log_bodies=False)
    token = issue_token(auth_client, action["id"])["token"]
    call(auth_client, action["id"], token, json={"card": "4242"})
    [execution] = executions(auth_client, action["id"])
    assert execution["request_body"] is None and execution["response_body"] is None
    assert execution["request_bytes"] > 0


def test_upstream_secret_never_in_a_response_or_a_log_line(auth_client, upstream, refused_url, caplog):
    caplog.set_level(logging.DEBUG)
    action = make_action(
        auth_client,
        target_url=f"{upstream.base}/status/200",
        headers={"Authorization": f"Bearer {UPSTREAM_SECRET}", "X-Other": UPSTREAM_SECRET},
    )
    token = issue_token(auth_client, action["id"])["token"]
    bodies = [call(auth_client, action["id"], token, json={}).get_data(as_text=True)]
    assert upstream.received[-1]["headers"]["Authorization"] == f"Bearer {UPSTREAM_SECRET}"
    # Failures too: a refused connection, a timeout.
    auth_client.patch(f"/api/v1/actions/{action['id']}", json={"target_url": refused_url})
    bodies.append(call(auth_client, action["id"], token, json={}).get_data(as_text=True))
    auth_client.patch(
        f"/api/v1/actions/{action['id']}",
        json={"target_url": f"{upstream.base}/slow", "timeout_seconds": 0.2},
    )
    bodies.append(call(auth_client, action["id"], token, json={}).get_data(as_text=True))
    for url in (
        "/api/v1/actions",
        f"/api/v1/actions/{action['id']}",
        f"/api/v1/actions/{action['id']}/executions",
        "/api/v1/tokens",
    ):
        bodies.append(auth_client.get(url).get_data(as_text=True))
    assert all(UPSTREAM_SECRET not in body for body in bodies)
    assert len(caplog.records) > 5
    for record in caplog.records:
        assert UPSTREAM_SECRET not in record.getMessage()
        assert UPSTREAM_SECRET not in str(getattr(record, "fields", ""))
