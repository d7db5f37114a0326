"""Probe routes for jobs and progress streams: start a job that reports steps, stream it, cancel it."""

import time

from flask import request
from rq import Retry

from narrative.extensions import db
from narrative.platform.api import Blueprint
from narrative.platform.jobs import (
    JobError,
    cancel_job,
    current_progress,
    enqueue_job,
    get_job,
    job_to_dict,
)
from narrative.platform.sse import job_stream_response
from narrative.platform.tenancy import all_workspaces_for_this_request

blp = Blueprint("probe_jobs", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)

ATTEMPTS_KEY = "narrative:probe:attempts:{}"


def report_steps(steps, *, fail=False, crash=False, wait_for_cancel=False, delay=0.0, fail_attempts=0):
    """A job that reports `steps` steps; it can fail, crash, wait to be canceled or fail its first attempts."""
    progress = current_progress()
    if fail_attempts:
        from narrative.platform.redis import get_redis

        attempt = get_redis().incr(ATTEMPTS_KEY.format(progress.job_id))
        if attempt <= fail_attempts:
            raise JobError(f"Attempt {attempt} failed on purpose.")
    for index in range(1, steps + 1):
        progress.check_cancelled()
        progress.report(
            progress=index * 100 // (steps + 1),
            step=f"step-{index}",
            message=f"Step {index} of {steps}",
            data={"index": index},
        )
        if delay:
            time.sleep(delay)
    if fail:
        raise JobError("The probe job failed on purpose.")
    if crash:
        raise RuntimeError("secret internals that must not reach the row")
    if wait_for_cancel:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            progress.check_cancelled()
            time.sleep(0.02)
        raise JobError("The probe job was never canceled.")
    return {"steps": steps}


@blp.route("/_probe/jobs", methods=["POST"])
def start_probe_job():
    body = request.get_json(silent=True) or {}
    options = {
        key: body[key]
        for key in ("fail", "crash", "wait_for_cancel", "delay", "fail_attempts")
        if key in body
    }
    retry = Retry(max=body["retries"]) if body.get("retries") else None
    job = enqueue_job("probe.steps", report_steps, int(body.get("steps", 3)), retry=retry, **options)
    if body.get("rollback"):
        db.session.rollback()
        return {"rolled_back": True}, 200
    db.session.commit()
    return job_to_dict(job), 202


@blp.route("/_probe/jobs/<job_id>")
def show_probe_job(job_id):
    return job_to_dict(get_job(job_id))


@blp.route("/_probe/jobs/<job_id>/stream")
def stream_probe_job(job_id):
    return job_stream_response(get_job(job_id), last_event_id=request.args.get("last_event_id"))


@blp.route("/_probe/jobs/<job_id>/cancel", methods=["POST"])
def cancel_probe_job(job_id):
    job = cancel_job(get_job(job_id))
    db.session.commit()
    return job_to_dict(job)
