"""Streamed chat replies: time to first frame and frames per second, through the platform and direct.

Starts `narrative serve` (gunicorn plus one RQ worker) against a fresh PostgreSQL database and a spare
Redis index, signs up through the API, indexes a few workspace notes for the local provider to
ground its answers on, then for each prompt:

- through the platform: `POST /api/v1/chat/conversations/{id}/messages` with
  `Accept: text/event-stream` (the request is stored, the reply is a job on the high queue, its
  deltas come back through the job stream and the SSE generator); time from sending the request to
  the first frame with text, and text frames per second until the stream ends;
- direct: the same provider's `stream_chat` on the same question, in this process; time to the first
  delta with text.

Prints p50/p95 of both and the time the platform adds to the first frame. Prints; asserts nothing.

    .venv/bin/python bench/chat_stream.py [--prompts 40]
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, __file__.rsplit("/bench/", 1)[0])

import httpx

from bench._services import percentile
from bench.proxy import prepare_database, wait_for

NOTES = {
    "Roof repair budget": "The roof repair on Elm Street is budgeted at 18,500 dollars. The roofer starts "
    "in March and needs the scaffolding permit first.",
    "Tenant renewals": "Three tenants renew in April. Unit 4B asked for a two-year lease at the current rent.",
    "Insurance": "The building insurance renews on June 1st; the broker quoted a 6 percent increase.",
}
PROMPTS = ["what is the roof repair budget", "which tenants renew in April", "when does the insurance renew"]


def start_serve_with_worker(env, port):
    import subprocess

    argv = [
        sys.executable, "-m", "narrative.runtime.cli", "serve", "--port", str(port),
        "--workers", "1", "--web-workers", "1", "--threads", "16",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(f"http://127.0.0.1:{port}/api/health", proc)
    return proc, " ".join(["narrative", *argv[3:]])


def sign_up(base):
    body = {"email": "chat-bench@example.com", "password": "bench password 1", "company_name": "Bench"}
    answer = httpx.post(f"{base}/api/v1/auth/signup", json=body, timeout=30).json()
    return answer["access_token"], answer["workspace"]["id"], answer["user"]["id"]


def index_notes(app, workspace_id):
    from narrative.ai.retrieval import index_document
    from narrative.extensions import db

    with app.app_context():
        for number, (title, text) in enumerate(NOTES.items()):
            index_document(
                workspace_id=workspace_id,
                source_type="note",
                source_id=f"note-{number}",
                title=title,
                text=text,
            )
        db.session.commit()


def through_platform(client, base, headers, conversation_id, prompt):
    """(seconds to the first frame with text, text frames per second)."""
    started = time.perf_counter()
    first, frames = None, 0
    with client.stream(
        "POST",
        f"{base}/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": prompt},
        headers={**headers, "Accept": "text/event-stream"},
        timeout=60,
    ) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            frame = json.loads(line[6:])
            if frame.get("content"):
                frames += 1
                first = first or time.perf_counter()
            if frame.get("done") or frame.get("error"):
                break
    ended = time.perf_counter()
    if first is None:
        raise SystemExit(f"no text frame for {prompt!r}")
    return first - started, frames / max(ended - first, 1e-6)


def direct(app, workspace_id, user_id, prompt):
    """Seconds to the provider's first delta with text, called in this process."""
    from narrative.ai import AiContext, get_provider
    from narrative.extensions import db

    with app.app_context():
        provider = get_provider(workspace_id=workspace_id, function="chat")
        context = AiContext(workspace_id=workspace_id, user_id=user_id, function="chat")
        started = time.perf_counter()
        first = None
        for delta in provider.stream_chat([{"role": "user", "content": prompt}], context=context):
            if delta.content and first is None:
                first = time.perf_counter()
        db.session.rollback()
    return first - started


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    from bench._services import free_port

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    database_url, app, cleanup = prepare_database(args.database, args.redis)
    serve = None
    try:
        env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": args.redis, "LOG_LEVEL": "WARNING"}
        env["NARRATIVE_INSTANCE_DIR"] = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"chat-bench-{port}")
        serve, command = start_serve_with_worker(env, port)
        token, workspace_id, user_id = sign_up(base)
        index_notes(app, workspace_id)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client() as client:
            conversation = client.post(
                f"{base}/api/v1/chat/conversations", json={"title": "Bench"}, headers=headers
            ).json()
            prompts = [PROMPTS[i % len(PROMPTS)] for i in range(args.prompts)]
            through_platform(client, base, headers, conversation["id"], prompts[0])  # warm-up
            platform = [through_platform(client, base, headers, conversation["id"], p) for p in prompts]
        in_process = [direct(app, workspace_id, user_id, p) for p in prompts]

        first_frames = [seconds * 1000 for seconds, _ in platform]
        rates = [rate for _, rate in platform]
        direct_ms = [seconds * 1000 for seconds in in_process]
        print(f"server:  {command}; the local provider; {os.cpu_count()} cores shared with this client")
        print(f"prompts: {len(prompts)} (one conversation, so history grows as a real chat's does)")
        for name, values in (("through the platform", first_frames), ("provider in-process", direct_ms)):
            print(
                f"  time to first frame, {name:21} p50 {percentile(values, 0.5):7.1f} ms"
                f"  p95 {percentile(values, 0.95):7.1f} ms"
            )
        print(
            f"  added by the platform:                    p50 "
            f"{percentile(first_frames, 0.5) - percentile(direct_ms, 0.5):7.1f} ms  p95 "
            f"{percentile(first_frames, 0.95) - percentile(direct_ms, 0.95):7.1f} ms"
        )
        print(f"  text frames per second through the platform: p50 {percentile(rates, 0.5):.0f}")
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(timeout=30)
        cleanup()


if __name__ == "__main__":
    main()
