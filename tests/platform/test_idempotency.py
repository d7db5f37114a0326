"""Idempotency-Key: replays without a second execution, refusals for reuse and overlap, what is stored."""

import io
import threading

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.redis import get_redis
from tests.probes import limits as probes

WORKSPACES = "/_probe/idempotency/workspaces"


def workspace_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Workspace))


def post(client, path, key, json=None, **kwargs):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post(path, json=json if json is not None else {}, headers=headers, **kwargs)


def test_same_key_and_body_replays_without_a_second_row(client):
    body = {"name": "Acme", "slug": "acme"}
    first = post(client, WORKSPACES, "key-1", body)
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers

    again = post(client, WORKSPACES, "key-1", body)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert workspace_count() == 1


def test_same_key_with_another_body_is_422(client):
    assert post(client, WORKSPACES, "key-1", {"name": "Acme", "slug": "acme"}).status_code == 201
    response = post(client, WORKSPACES, "key-1", {"name": "Other", "slug": "other"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "idempotency_key_reused"
    assert "Idempotency-Key" in body["message"]
    assert workspace_count() == 1


def test_keys_are_per_caller(client):
    first = post(client, "/_probe/idempotency/count", "shared", environ_base={"REMOTE_ADDR": "10.0.0.1"})
    second = post(client, "/_probe/idempotency/count", "shared", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert first.get_json() == {"executions": 1}
    assert second.get_json() == {"executions": 2}
    assert "Idempotent-Replayed" not in second.headers


def test_keys_are_per_path(client):
    assert post(client, "/_probe/idempotency/count", "k").get_json() == {"executions": 1}
    # The same key on another route is another request, not a reuse.
    assert post(client, WORKSPACES, "k", {"name": "Acme", "slug": "acme"}).status_code == 201


def test_without_a_key_every_post_runs(client):
    executions = [post(client, "/_probe/idempotency/count", None).get_json()["executions"] for _ in range(2)]
    assert executions == [1, 2]


def test_second_request_while_the_first_runs_is_409(app, client):
    probes.slow_started.clear()
    probes.slow_release.clear()
    results = {}

    def first_request():
        results["first"] = post(app.test_client(), "/_probe/idempotency/slow", "slow-key", {"n": 1})

    runner = threading.Thread(target=first_request)
    runner.start()
    try:
        assert probes.slow_started.wait(timeout=5)
        overlapping = post(client, "/_probe/idempotency/slow", "slow-key", {"n": 1})
        assert overlapping.status_code == 409
        assert overlapping.get_json()["error"] == "idempotency_in_progress"
        # Another body under the running key is a reuse, whatever the first request's fate.
        reused = post(client, "/_probe/idempotency/slow", "slow-key", {"n": 2})
        assert reused.status_code == 422
    finally:
        probes.slow_release.set()
        runner.join(timeout=10)

    assert results["first"].status_code == 201
    replay = post(client, "/_probe/idempotency/slow", "slow-key", {"n": 1})
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == {"executions": 1}


def test_server_errors_are_not_stored_and_release_the_lock(client):
    for attempt in (1, 2):
        response = post(client, "/_probe/idempotency/fail", "fail-key")
        assert response.status_code == 500
        assert "Idempotent-Replayed" not in response.headers
        assert get_redis().get("probe:executions:fail") == str(attempt)


def test_client_errors_are_stored_and_replayed(client):
    invalid = {"name": "No slug"}
    first = post(client, WORKSPACES, "bad-key", invalid)
    assert first.status_code == 422
    again = post(client, WORKSPACES, "bad-key", invalid)
    assert again.status_code == 422
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["details"] == first.get_json()["details"]


def test_streamed_responses_pass_through_unstored(client):
    first = post(client, "/_probe/idempotency/stream", "stream-key")
    second = post(client, "/_probe/idempotency/stream", "stream-key")
    assert first.get_data(as_text=True) == "data: 1\n\n"
    assert second.get_data(as_text=True) == "data: 2\n\n"
    assert "Idempotent-Replayed" not in second.headers


def test_exempt_views_run_every_time(client):
    executions = [
        post(client, "/_probe/idempotency/exempt", "same").get_json()["executions"] for _ in range(2)
    ]
    assert executions == [1, 2]


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\there"])
def test_malformed_keys_are_400(client, key):
    response = post(client, "/_probe/idempotency/count", key)
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_request"
    assert body["details"][0]["field"] == "Idempotency-Key"
    assert post(client, "/_probe/idempotency/count", None).get_json() == {"executions": 1}


def test_longest_key_is_accepted(client):
    assert post(client, "/_probe/idempotency/count", "k" * 255).status_code == 201


def test_multipart_bodies_still_reach_the_view_and_replay(client):
    def upload(content=b"x" * 1000):
        return client.post(
            "/_probe/idempotency/upload",
            data={"title": "report", "file": (io.BytesIO(content), "report.csv")},
            headers={"Idempotency-Key": "upload-key"},
        )

    first = upload()
    assert first.status_code == 201
    assert first.get_json() == {"title": "report", "size": 1000, "executions": 1}
    # The test client picks a new multipart boundary each time, as many retrying clients do.
    again = upload()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["executions"] == 1
    assert upload(b"y" * 1000).status_code == 422
