"""Jobs: lifecycle, progress events, failures, cancellation, retries, after-commit enqueue, the sweep."""

import json
import threading
from datetime import timedelta

import pytest
from rq import Queue, Retry
from rq.job import Job as RQJob
from rq.job import JobStatus

from narrative.extensions import db, get_queue
from narrative.platform import jobs
from narrative.platform.errors import NotFound
from narrative.platform.jobs import (
    Job,
    JobProgress,
    current_progress,
    enqueue_job,
    get_job,
    job_stream_key,
    publish,
    sweep_stalled_jobs,
)
from narrative.platform.models import utcnow
from narrative.platform.redis import get_redis, get_redis_bytes
from narrative.platform.tenancy import workspace_scope
from workers.worker import run_jobs_in_process


def start_job(client, **body):
    response = client.post("/_probe/jobs", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def job_state(client, job_id):
    return client.get(f"/_probe/jobs/{job_id}").get_json()


def stream_events(job_id):
    return [json.loads(fields["data"]) for _id, fields in get_redis().xrange(job_stream_key(job_id))]


def queued_rq_job_ids():
    return get_queue("default").get_job_ids()


def test_a_job_runs_to_completion_with_its_result(app, client):
    started = start_job(client, steps=3)
    assert started["status"] == "QUEUED" and started["progress"] == 0
    assert started["id"].startswith("job_") and len(started["id"]) > 20

    run_jobs_in_process(app)

    done = job_state(client, started["id"])
    assert done["status"] == "COMPLETED"
    assert done["progress"] == 100
    assert done["result"] == {"steps": 3}
    assert done["error"] is None
    assert done["started_at"] and done["finished_at"]
    assert done["current_step"] == "step-3"


def test_progress_events_arrive_in_order_and_the_terminal_event_is_last(app, client):
    job_id = start_job(client, steps=4)["id"]
    run_jobs_in_process(app)

    events = stream_events(job_id)
    assert [e["status"] for e in events] == ["RUNNING"] * 5 + ["COMPLETED"]
    assert [e["progress"] for e in events[1:5]] == [20, 40, 60, 80]
    assert [e["data"]["index"] for e in events[1:5]] == [1, 2, 3, 4]
    assert events[-1]["result"] == {"steps": 4} and events[-1]["progress"] == 100
    assert get_redis().ttl(job_stream_key(job_id)) <= jobs.ENDED_STREAM_TTL_SECONDS


def test_a_failure_stores_the_message_for_people(app, client):
    job_id = start_job(client, steps=1, fail=True)["id"]
    run_jobs_in_process(app)

    failed = job_state(client, job_id)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "The probe job failed on purpose."
    assert stream_events(job_id)[-1] == {
        "status": "FAILED",
        "progress": 50,
        "current_step": "step-1",
        "message": "Step 1 of 1",
        "result": None,
        "error": "The probe job failed on purpose.",
    }
    # RQ keeps the failure (with its trace) in its failed-job registry.
    assert job_id in get_queue("default").failed_job_registry.get_job_ids()


def test_an_unexpected_error_keeps_the_trace_out_of_the_row_and_stream(app, client):
    job_id = start_job(client, steps=1, crash=True)["id"]
    run_jobs_in_process(app)

    failed = job_state(client, job_id)
    assert failed["status"] == "FAILED"
    assert failed["error"] == jobs.GENERIC_FAILURE_MESSAGE
    assert "secret" not in json.dumps(failed)
    assert "secret" not in json.dumps(stream_events(job_id))


def test_a_job_over_its_time_limit_fails_with_a_clear_message(app):
    job = enqueue_job("probe.slow", "time.sleep", 3, timeout=1)
    db.session.commit()
    run_jobs_in_process(app)

    db.session.refresh(job)
    assert job.status == "FAILED"
    assert job.error == "This job took longer than its time limit of 1 seconds and was stopped."


def test_canceling_a_queued_job_ends_it_at_once_and_it_never_runs(app, client):
    job_id = start_job(client, steps=2)["id"]
    canceled = client.post(f"/_probe/jobs/{job_id}/cancel").get_json()
    assert canceled["status"] == "CANCELED" and canceled["finished_at"]
    assert stream_events(job_id)[-1]["status"] == "CANCELED"
    assert RQJob.fetch(job_id, connection=get_redis_bytes()).get_status() == JobStatus.CANCELED

    run_jobs_in_process(app)

    assert job_state(client, job_id)["status"] == "CANCELED"
    assert [e["status"] for e in stream_events(job_id)] == ["CANCELED"]


def test_a_queued_cancel_also_stops_a_worker_that_already_took_the_job(app, client):
    job_id = start_job(client, steps=2)["id"]
    get_redis().set(f"narrative:jobs:{job_id}:cancel", "1")

    run_jobs_in_process(app)

    assert job_state(client, job_id)["status"] == "CANCELED"
    assert "RUNNING" not in [e["status"] for e in stream_events(job_id)]


def test_canceling_a_running_job_stops_it_at_its_next_check(app, client):
    job_id = start_job(client, steps=1, wait_for_cancel=True)["id"]

    def cancel_once_running():
        with app.app_context():
            probe = app.test_client()
            for _ in range(200):
                if probe.get(f"/_probe/jobs/{job_id}").get_json()["status"] == "RUNNING":
                    break
                threading.Event().wait(0.02)
            probe.post(f"/_probe/jobs/{job_id}/cancel")

    canceller = threading.Thread(target=cancel_once_running)
    canceller.start()
    run_jobs_in_process(app)
    canceller.join()

    state = job_state(client, job_id)
    assert state["status"] == "CANCELED" and state["error"] is None
    assert db.session.get(Job, job_id).cancel_requested is True
    assert stream_events(job_id)[-1]["status"] == "CANCELED"


def test_nothing_is_enqueued_until_the_transaction_commits(app):
    job = enqueue_job("probe.steps", "tests.probes.jobs.report_steps", 1)
    assert queued_rq_job_ids() == []
    db.session.commit()
    assert queued_rq_job_ids() == [job.id]
    rq_job = RQJob.fetch(job.id, connection=get_redis_bytes())
    assert rq_job.meta["narrative_job_id"] == job.id
    assert rq_job.timeout == 600 and rq_job.failure_ttl == jobs.RQ_FAILURE_TTL_SECONDS


def test_a_rolled_back_transaction_enqueues_nothing(app, client):
    assert client.post("/_probe/jobs", json={"steps": 1, "rollback": True}).get_json() == {
        "rolled_back": True
    }
    db.session.commit()
    assert queued_rq_job_ids() == []
    assert db.session.scalar(db.select(db.func.count()).select_from(Job)) == 0


def test_a_rolled_back_savepoint_drops_only_its_own_jobs(app):
    kept = enqueue_job("probe.steps", "tests.probes.jobs.report_steps", 1)
    savepoint = db.session.begin_nested()
    enqueue_job("probe.steps", "tests.probes.jobs.report_steps", 2)
    savepoint.rollback()
    with db.session.begin_nested():
        released = enqueue_job("probe.steps", "tests.probes.jobs.report_steps", 3)
    assert queued_rq_job_ids() == []  # a released savepoint is not a commit
    db.session.commit()
    assert sorted(queued_rq_job_ids()) == sorted([kept.id, released.id])


def test_jobs_take_ids_not_orm_objects(app):
    with pytest.raises(TypeError):
        enqueue_job("probe.bad", "tests.probes.jobs.report_steps", Job(kind="x"))
    with pytest.raises(ValueError):
        enqueue_job("probe.bad", lambda: None)


def test_a_retried_attempt_keeps_the_same_row(app, client):
    job_id = start_job(client, steps=2, fail_attempts=1, retries=1)["id"]
    run_jobs_in_process(app)

    done = job_state(client, job_id)
    assert done["status"] == "COMPLETED" and done["result"] == {"steps": 2}
    statuses = [e["status"] for e in stream_events(job_id)]
    assert statuses[:3] == ["RUNNING", "QUEUED", "RUNNING"]
    assert statuses[-1] == "COMPLETED" and statuses.count("COMPLETED") == 1
    assert db.session.scalar(db.select(db.func.count()).select_from(Job)) == 1


def make_running_row(rq_job_id, *, minutes_ago=5):
    job = Job(
        id=jobs.new_job_id(),
        kind="probe.lost",
        status="RUNNING",
        progress=30,
        current_step="importing",
        started_at=utcnow() - timedelta(minutes=minutes_ago),
    )
    job.rq_job_id = rq_job_id or job.id
    db.session.add(job)
    db.session.commit()
    return job


def test_the_sweep_fails_a_running_job_whose_worker_vanished(app):
    job = make_running_row("job_missing_from_redis_entirely")

    assert sweep_stalled_jobs() == {job.id: "FAILED"}

    db.session.refresh(job)
    assert job.status == "FAILED" and job.error == jobs.WORKER_LOST_MESSAGE and job.finished_at
    assert stream_events(job.id)[-1] == {
        "status": "FAILED",
        "progress": 30,
        "current_step": "importing",
        "message": None,
        "result": None,
        "error": jobs.WORKER_LOST_MESSAGE,
    }


def abandoned_rq_job(job, *, retry=None):
    """An RQ job left STARTED by a worker that was SIGKILLed mid-job."""
    queue = Queue("default", connection=get_redis_bytes())
    rq_job = queue.enqueue_call(
        jobs.run_job,
        args=(job.id, "tests.probes.jobs.report_steps", [2], {}),
        job_id=job.id,
        meta={"narrative_job_id": job.id},
        retry=retry,
    )
    queue.remove(rq_job)
    rq_job.set_status(JobStatus.STARTED)
    return rq_job


def test_the_sweep_fails_an_abandoned_job_and_records_it_in_rq(app):
    job = make_running_row(None)
    rq_job = abandoned_rq_job(job)

    assert sweep_stalled_jobs() == {job.id: "FAILED"}

    db.session.refresh(job)
    assert job.status == "FAILED" and job.error == jobs.WORKER_LOST_MESSAGE
    assert rq_job.get_status() == JobStatus.FAILED
    assert stream_events(job.id)[-1]["status"] == "FAILED"


def test_the_sweep_requeues_an_abandoned_job_that_asked_for_retries(app):
    job = make_running_row(None)
    abandoned_rq_job(job, retry=Retry(max=1))

    assert sweep_stalled_jobs() == {job.id: "QUEUED"}
    db.session.refresh(job)
    assert job.status == "QUEUED" and job.message == jobs.RETRYING_AFTER_LOSS_MESSAGE

    run_jobs_in_process(app)
    db.session.refresh(job)
    assert job.status == "COMPLETED" and job.result == {"steps": 2}


def test_the_sweep_leaves_live_and_recent_jobs_alone(app):
    alive = make_running_row("job_alive_elsewhere_abcdefgh")
    get_redis().set(f"narrative:jobs:{alive.id}:alive", "1", ex=30)
    just_started = make_running_row("job_just_started_abcdefgh", minutes_ago=0)

    assert sweep_stalled_jobs() == {}
    assert db.session.get(Job, alive.id).status == "RUNNING"
    assert db.session.get(Job, just_started.id).status == "RUNNING"


def test_the_sweep_fails_a_queued_job_that_never_reached_redis(app):
    job = Job(
        id=jobs.new_job_id(), kind="probe.lost", status="QUEUED", created_at=utcnow() - timedelta(hours=1)
    )
    job.rq_job_id = job.id
    db.session.add(job)
    db.session.commit()

    assert sweep_stalled_jobs() == {job.id: "FAILED"}
    db.session.refresh(job)
    assert job.error == jobs.NEVER_QUEUED_MESSAGE


def test_the_sweep_is_a_periodic_job():
    from narrative.platform.periodic import PERIODIC_JOBS

    assert any(p.func is sweep_stalled_jobs and p.interval == 60 for p in PERIODIC_JOBS)


def test_the_reporter_writes_the_row_only_at_milestones(app):
    job = make_running_row("job_reporter_row_abcdefgh", minutes_ago=0)
    job_id = job.id
    progress = JobProgress(job_id, progress=30)

    progress.report(progress=35, step="a")
    db.session.expire_all()
    assert db.session.get(Job, job_id).progress == 30
    progress.report(progress=45, step="b")
    db.session.expire_all()
    row = db.session.get(Job, job_id)
    assert (row.progress, row.current_step) == (45, "b")
    assert [e["progress"] for e in stream_events(job_id)] == [35, 45]


def test_current_progress_exists_only_inside_a_job():
    with pytest.raises(RuntimeError):
        current_progress()


def test_publish_appends_to_a_bounded_expiring_stream(app):
    for index in range(jobs.STREAM_MAXLEN * 2):
        publish("narrative:test:stream", {"i": index})
    client = get_redis()
    assert client.xlen("narrative:test:stream") < jobs.STREAM_MAXLEN * 2
    assert 0 < client.ttl("narrative:test:stream") <= jobs.STREAM_TTL_SECONDS


def test_get_job_hides_other_workspaces_and_bad_ids(app):
    job = enqueue_job("probe.steps", "tests.probes.jobs.report_steps", 1)
    db.session.commit()
    assert get_job(job.id) is job
    for job_id in ("job_nope_nope_nope_nope", "../etc"):
        with pytest.raises(NotFound):
            get_job(job_id)
    with workspace_scope("00000000-0000-0000-0000-000000000000"), pytest.raises(NotFound):
        get_job(job.id)
