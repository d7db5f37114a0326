"""Event types of the platform itself; domains register theirs next to their own services."""

from narrative.platform.events.registry import register_event_type

_JOB_EXAMPLE = {
    "job_id": "job_5Yv1nW8cQ2xR7tKp",
    "kind": "contacts.import",
    "status": "COMPLETED",
    "user_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0d",
    "started_at": "2025-01-15T09:30:02+00:00",
    "finished_at": "2025-01-15T09:31:47+00:00",
    "result": {"imported": 248, "skipped": 3},
}

register_event_type(
    "job.completed",
    description="A background job (import, export, sync, report, AI generation...) finished successfully.",
    example=_JOB_EXAMPLE,
    category="job",
)

register_event_type(
    "job.failed",
    description="A background job stopped with an error; `error` says why.",
    example={
        **{key: value for key, value in _JOB_EXAMPLE.items() if key != "result"},
        "status": "FAILED",
        "error": "The file has no header row.",
    },
    category="job",
)
