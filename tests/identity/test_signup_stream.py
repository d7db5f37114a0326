"""The public progress stream of an asynchronous signup: the job id is the only credential."""

import json

from narrative.extensions import db
from narrative.identity.routes.auth import SIGNUP_JOB_KIND
from narrative.platform.jobs import current_progress, enqueue_job
from workers.worker import run_jobs_in_process


def provision_account():
    progress = current_progress()
    progress.report(progress=30, step="creating_user", message="Creating your account")
    progress.report(progress=70, step="running_migrations", message="Preparing your workspace")
    return {"message": "Your workspace is ready.", "workspace_name": "Acme"}


def frames(response):
    return [
        json.loads(line[6:]) for line in response.get_data(as_text=True).splitlines() if line[:6] == "data: "
    ]


def test_signup_progress_streams_to_completion_without_login(app, client):
    job = enqueue_job(SIGNUP_JOB_KIND, provision_account)
    db.session.commit()
    run_jobs_in_process(app)

    response = client.get(f"/api/v1/auth/signup/jobs/{job.id}/stream")

    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = frames(response)
    assert [e["current_step"] for e in events if e["status"] == "RUNNING"][-2:] == [
        "creating_user",
        "running_migrations",
    ]
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["progress"] == 100
    assert events[-1]["result"]["workspace_name"] == "Acme"


def test_other_jobs_and_unknown_ids_are_not_streamed_here(app, client):
    other = enqueue_job("records.export", provision_account)
    db.session.commit()

    assert client.get(f"/api/v1/auth/signup/jobs/{other.id}/stream").status_code == 404
    assert client.get("/api/v1/auth/signup/jobs/job_doesnotexist000000/stream").status_code == 404
