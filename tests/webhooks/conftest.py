"""Fixtures for the webhook tests: a loopback receiver and helpers to drive deliveries."""

import pytest

from narrative.extensions import get_queue
from tests.webhooks.receiver import Receiver
from workers.worker import run_jobs_in_process


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


def scheduled_jobs():
    """(rq job, scheduled time) of every job waiting in the default queue's scheduled registry."""
    queue = get_queue("default")
    registry = queue.scheduled_job_registry
    return [
        (queue.fetch_job(job_id), registry.get_scheduled_time(job_id)) for job_id in registry.get_job_ids()
    ]


def run_scheduled_now(app):
    """Time travel for RQ: move every scheduled job to the queue and run the queue."""
    queue = get_queue("default")
    registry = queue.scheduled_job_registry
    for job, _when in scheduled_jobs():
        registry.remove(job)
        queue.enqueue_job(job)
    run_jobs_in_process(app)


def create_webhook(client, url, events=("probe.note.added",), **extra):
    response = client.post("/api/v1/webhooks", json={"url": url, "events": list(events), **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def emit_notes(client, workspace_id, *texts):
    response = client.post(
        "/_probe/events/notes", json={"workspace_id": str(workspace_id), "notes": list(texts)}
    )
    assert response.status_code == 201
