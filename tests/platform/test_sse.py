"""The SSE generator: headers, frames, resume with Last-Event-ID, heartbeats, closing, expired streams."""

import json

import pytest

from narrative.platform.jobs import job_stream_key, publish
from narrative.platform.redis import get_redis
from narrative.platform.sse import sse_response
from workers.worker import run_jobs_in_process


def parse(text):
    """[(id or None, data dict)] for every frame, comments left out."""
    frames = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line and not line.startswith(":"))
        if "data" in fields:
            frames.append((fields.get("id"), json.loads(fields["data"])))
    return frames


def finished_job(app, client, **body):
    job_id = client.post("/_probe/jobs", json={"steps": 4, **body}).get_json()["id"]
    run_jobs_in_process(app)
    return job_id


@pytest.fixture
def config(app):
    saved = dict(app.config)
    yield app.config
    app.config.clear()
    app.config.update(saved)


def test_a_job_stream_sends_every_event_then_closes_with_the_right_headers(app, client):
    job_id = finished_job(app, client)
    response = client.get(f"/_probe/jobs/{job_id}/stream")

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    text = response.get_data(as_text=True)
    assert text.startswith(": connected\n\n")
    frames = parse(text)
    assert [data["status"] for _, data in frames] == ["RUNNING"] * 5 + ["COMPLETED"]
    stream_ids = [entry_id for entry_id, _ in get_redis().xrange(job_stream_key(job_id))]
    assert [frame_id for frame_id, _ in frames] == stream_ids
    assert frames[2][1] == {
        "status": "RUNNING",
        "progress": 40,
        "current_step": "step-2",
        "message": "Step 2 of 4",
        "result": None,
        "error": None,
        "index": 2,
    }
    assert frames[-1][1]["result"] == {"steps": 4}


def test_resuming_with_last_event_id_neither_repeats_nor_loses(app, client):
    job_id = finished_job(app, client)
    everything = parse(client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True))
    resume_after = everything[2][0]

    by_header = client.get(f"/_probe/jobs/{job_id}/stream", headers={"Last-Event-ID": resume_after})
    by_argument = client.get(f"/_probe/jobs/{job_id}/stream?last_event_id={resume_after}")

    assert parse(by_header.get_data(as_text=True)) == everything[3:]
    assert parse(by_argument.get_data(as_text=True)) == everything[3:]


def test_an_invalid_last_event_id_replays_from_the_beginning(app, client):
    job_id = finished_job(app, client)
    everything = parse(client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True))
    response = client.get(f"/_probe/jobs/{job_id}/stream", headers={"Last-Event-ID": "not-an-id"})
    assert parse(response.get_data(as_text=True)) == everything


def test_reconnecting_after_the_terminal_event_gets_204(app, client):
    job_id = finished_job(app, client)
    last_id = parse(client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True))[-1][0]
    response = client.get(f"/_probe/jobs/{job_id}/stream", headers={"Last-Event-ID": last_id})
    assert response.status_code == 204


def test_a_failed_job_stream_ends_with_its_error(app, client):
    job_id = finished_job(app, client, steps=1, fail=True)
    frames = parse(client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True))
    assert frames[-1][1]["status"] == "FAILED"
    assert frames[-1][1]["error"] == "The probe job failed on purpose."


def test_a_finished_job_whose_stream_expired_gets_one_frame_from_its_row(app, client):
    job_id = finished_job(app, client)
    get_redis().delete(job_stream_key(job_id))
    frames = parse(client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True))
    assert len(frames) == 1
    assert frames[0][0] is None
    assert frames[0][1]["status"] == "COMPLETED" and frames[0][1]["result"] == {"steps": 4}


def test_a_queued_job_is_shown_at_once_then_the_stream_waits(app, client, config):
    config["SSE_MAX_STREAM_SECONDS"] = 0.3
    config["SSE_HEARTBEAT_SECONDS"] = 0.1
    job_id = client.post("/_probe/jobs", json={"steps": 1}).get_json()["id"]
    text = client.get(f"/_probe/jobs/{job_id}/stream").get_data(as_text=True)
    frames = parse(text)
    assert [(frame_id, data["status"], data["progress"]) for frame_id, data in frames] == [
        (None, "QUEUED", 0)
    ]
    assert ": keep-alive\n\n" in text


def test_a_heartbeat_comment_is_sent_while_nothing_happens(app, config):
    config["SSE_HEARTBEAT_SECONDS"] = 0.05
    with app.test_request_context():
        response = sse_response("narrative:test:quiet")
    chunks = iter(response.response)
    assert next(chunks) == ": connected\n\n"
    assert next(chunks) == ": keep-alive\n\n"
    assert next(chunks) == ": keep-alive\n\n"
    response.close()


def test_events_published_while_a_client_listens_reach_it_and_done_closes_it(app, config):
    config["SSE_HEARTBEAT_SECONDS"] = 5
    with app.test_request_context():
        response = sse_response(
            "narrative:test:chat", to_frame=lambda p: {"content": p["delta"], "done": p["done"]}
        )
    chunks = iter(response.response)
    assert next(chunks) == ": connected\n\n"
    first_id = publish("narrative:test:chat", {"delta": "Hel", "done": False})
    assert next(chunks) == f'id: {first_id}\ndata: {{"content":"Hel","done":false}}\n\n'
    last_id = publish("narrative:test:chat", {"delta": "lo", "done": True})
    assert parse(next(chunks)) == [(last_id, {"content": "lo", "done": True})]
    with pytest.raises(StopIteration):
        next(chunks)


def test_a_client_that_goes_away_just_ends_the_generator(app, config):
    config["SSE_HEARTBEAT_SECONDS"] = 0.05
    with app.test_request_context():
        response = sse_response("narrative:test:gone")
    chunks = iter(response.response)
    next(chunks)
    response.close()  # what the server does when the client disconnects
    with pytest.raises(StopIteration):
        next(chunks)
