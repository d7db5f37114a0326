"""The one Server-Sent Events generator: every `.../stream` endpoint and streamed AI reply uses it.

It reads a Redis stream (written by `narrative.platform.jobs.publish` or a job's reporter) and sends
each entry as a frame::

    id: 1718000000000-0
    data: {"status": "RUNNING", "progress": 40, ...}

- `id:` is the stream entry id, so a client that reconnects with `Last-Event-ID` (or passes
  `last_event_id`) resumes right after it: nothing lost, nothing repeated. An id that is not a
  stream id replays from the beginning.
- A comment (`: keep-alive`) goes out after `SSE_HEARTBEAT_SECONDS` (15) of silence, so proxies keep
  the connection and a vanished client is noticed (the write fails and the generator just ends;
  the job goes on).
- The stream closes after its terminal event (a job's COMPLETED/FAILED/CANCELED, or `done: true`),
  or after `SSE_MAX_STREAM_SECONDS` (an hour) so a browser reconnects and resumes. A client that
  reconnects after the terminal event gets 204, which tells EventSource to stop reconnecting.
- The view reads what it needs from the database (auth, the job row) and the session is closed
  before the first byte: an open stream holds no database connection.

Thread budget: gunicorn runs the app with the gthread worker, and an open stream holds one thread
of one web process for its whole life (it sleeps in a blocking XREAD, which costs no CPU). One
process serves `--threads` requests at once, streams and ordinary requests together, so a node
holds about `--workers x --threads` concurrent streams (`narrative serve` default: 2 x 64 = 128);
connections beyond that wait for a free thread. Size `--threads` for the expected streams plus
ordinary traffic, or add web nodes (bench/sse_latency.py measures it). Each blocking read borrows a
Redis connection from the client's pool for at most `MAX_BLOCK_SECONDS`, below the client's 10 s
socket timeout.
"""

import json
import re
import time

from flask import Response, current_app, request

from narrative.extensions import db
from narrative.platform import unit_of_work
from narrative.platform.redis import get_redis

HEARTBEAT_SECONDS = 15
MAX_STREAM_SECONDS = 3600
# Blocking reads are cut into chunks shorter than the Redis client's socket timeout (10 s).
MAX_BLOCK_SECONDS = 5
READ_BATCH = 100
STREAM_ID_PATTERN = re.compile(r"^\d{1,20}-\d{1,20}$")
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "CANCELED"})
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def ends_stream(payload):
    """The default terminal test: a job's final status, or an explicit `done: true`."""
    return payload.get("status") in TERMINAL_STATUSES or payload.get("done") is True


def frame(data, event_id=None):
    """One SSE frame; JSON never contains a raw newline, so `data:` is always one line."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}data: {json.dumps(data, default=str, separators=(',', ':'))}\n\n"


def resume_point(last_event_id=None):
    """The stream id to read after: the argument, else the Last-Event-ID header; None for the start."""
    candidate = last_event_id if last_event_id is not None else request.headers.get("Last-Event-ID")
    candidate = (candidate or "").strip()
    return candidate if STREAM_ID_PATTERN.match(candidate) else None


def _id_key(event_id):
    millis, sequence = event_id.split("-")
    return int(millis), int(sequence)


def _already_ended(client, stream_key, after, is_terminal):
    """True when the client has already seen the stream's terminal event."""
    if after is None:
        return False
    last = client.xrevrange(stream_key, count=1)
    if not last:
        return False
    event_id, fields = last[0]
    return _id_key(event_id) <= _id_key(after) and is_terminal(json.loads(fields["data"]))


def sse_response(stream_key, *, last_event_id=None, is_terminal=None, to_frame=None):
    """Stream `stream_key` as Server-Sent Events until its terminal event; see the module docstring.

    `is_terminal(payload) -> bool` says which event ends the stream (default `ends_stream`);
    `to_frame(payload) -> dict` shapes what clients receive (default: the payload as published).
    """
    return _stream_response(
        stream_key,
        after=resume_point(last_event_id),
        is_terminal=is_terminal or ends_stream,
        to_frame=to_frame or (lambda payload: payload),
    )


def _release_database():
    """The view's unit of work ends here, before the stream starts (it is a successful response:
    what the view wrote, such as the message a reply streams for, is committed), and an open stream
    must not hold a database connection."""
    unit_of_work.commit()
    db.session.remove()


def _stream_response(stream_key, *, after, is_terminal, to_frame, opening_frames=()):
    client = get_redis()
    if _already_ended(client, stream_key, after, is_terminal):
        return Response(status=204, headers=HEADERS)
    config = current_app.config
    settings = {
        "heartbeat": float(config.get("SSE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS)),
        "max_seconds": float(config.get("SSE_MAX_STREAM_SECONDS", MAX_STREAM_SECONDS)),
    }
    _release_database()
    events = _events(client, stream_key, after, is_terminal, to_frame, list(opening_frames), **settings)
    return Response(events, mimetype="text/event-stream", headers=HEADERS)


def _events(client, stream_key, after, is_terminal, to_frame, opening_frames, *, heartbeat, max_seconds):
    started = time.monotonic()
    last_id = after or "0-0"
    # The first bytes go out at once, so the client (and any proxy) sees the stream open.
    yield ": connected\n\n"
    for data in opening_frames:
        yield frame(data)
    quiet_since = time.monotonic()
    while time.monotonic() - started < max_seconds:
        wait = max(0.001, min(heartbeat - (time.monotonic() - quiet_since), MAX_BLOCK_SECONDS))
        batches = client.xread({stream_key: last_id}, count=READ_BATCH, block=max(1, int(wait * 1000)))
        for _key, entries in batches or ():
            for event_id, fields in entries:
                last_id = event_id
                payload = json.loads(fields["data"])
                yield frame(to_frame(payload), event_id)
                quiet_since = time.monotonic()
                if is_terminal(payload):
                    return
        if time.monotonic() - quiet_since >= heartbeat:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()


def job_frame(payload):
    """What a job stream sends by default: the job's state, then any data the job reported."""
    data = payload.get("data") or {}
    shaped = {
        "status": payload.get("status"),
        "progress": payload.get("progress"),
        "current_step": payload.get("current_step"),
        "message": payload.get("message"),
        "result": payload.get("result"),
        "error": payload.get("error"),
    }
    return {**{k: v for k, v in data.items() if k not in shaped}, **shaped} if data else shaped


def job_stream_response(job, *, last_event_id=None, to_frame=None):
    """Stream a job's progress events; a finished job whose stream expired gets one frame from its row."""
    from narrative.platform.jobs import job_event_from_row, job_stream_key

    to_frame = to_frame or job_frame
    stream_key = job_stream_key(job.id)
    after = resume_point(last_event_id)
    snapshot = job_event_from_row(job)
    client = get_redis()
    stream_is_empty = client.xlen(stream_key) == 0
    if job.is_terminal and stream_is_empty:
        _release_database()
        return Response(iter([frame(to_frame(snapshot))]), mimetype="text/event-stream", headers=HEADERS)
    # A job that has not reported yet is shown as it stands (QUEUED, 0 %), without an id to resume from.
    opening = [to_frame(snapshot)] if stream_is_empty and after is None else []
    return _stream_response(
        stream_key, after=after, is_terminal=ends_stream, to_frame=to_frame, opening_frames=opening
    )
