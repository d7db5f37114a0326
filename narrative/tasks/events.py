"""Domain event types of tasks (emitted by narrative.tasks.service in the writer's transaction)."""

from narrative.platform.events import register_event_type

_TASK = {
    "task_id": "0190f3a2-7c1e-7b7a-9d2f-0000000000aa",
    "title": "Send the revised quote",
    "status": "todo",
    "priority": "high",
    "due_at": "2025-01-20T17:00:00+00:00",
    "assignee_id": "0190f3a2-7c1e-7b7a-9d2f-0000000000bb",
    "subject_type": "record",
    "subject_id": "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f",
}

register_event_type("task.created", description="A task was created", example=_TASK, category="task")
register_event_type(
    "task.updated",
    description="A task changed; changes lists each changed attribute with its old and new value",
    example={**_TASK, "changes": {"priority": {"old": "medium", "new": "high"}}},
    category="task",
)
register_event_type(
    "task.completed",
    description="A task was marked complete",
    example={
        **_TASK,
        "status": "completed",
        "completed_at": "2025-01-19T10:12:00+00:00",
        "completion_note": "Quote sent by email",
    },
    category="task",
)
register_event_type("task.deleted", description="A task was deleted", example=_TASK, category="task")
