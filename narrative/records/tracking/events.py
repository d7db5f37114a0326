"""Domain event types of record tracking. Each payload carries `record_id`, so the activity feed
files the event under the record (object_type "record") and the record's story shows it."""

from narrative.platform.events import register_event_type

_IDS = {
    "record_id": "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f",
    "recordset_id": "0190f3a2-7c1e-7b7a-9d2f-aaaaaaaaaaaa",
}
_INTERACTION = {
    **_IDS,
    "interaction_id": "0190f3a2-7c1e-7b7a-9d2f-0000000000c1",
    "interaction_type": "call",
    "title": "Pricing call",
    "occurred_at": "2025-01-15T09:30:00+00:00",
    "follow_up_at": "2025-01-22T09:00:00+00:00",
}
_TASK = {
    **_IDS,
    "task_id": "0190f3a2-7c1e-7b7a-9d2f-0000000000aa",
    "title": "Send the revised quote",
    "status": "todo",
    "priority": "high",
    "due_at": "2025-01-20T17:00:00+00:00",
}
_INSIGHT = {
    **_IDS,
    "insight_id": "0190f3a2-7c1e-7b7a-9d2f-0000000000d1",
    "insight_type": "stale",
    "title": "No activity in 45 days",
    "priority": "medium",
}


def _register(name, description, example):
    register_event_type(name, description=description, example=example, category="record")


_register("record.interaction_logged", "An interaction (call, email, meeting...) was logged", _INTERACTION)
_register(
    "record.interaction_updated",
    "A logged interaction changed; changes lists old and new values",
    {**_INTERACTION, "changes": {"outcome": {"old": None, "new": "positive"}}},
)
_register("record.interaction_deleted", "A logged interaction was deleted", _INTERACTION)
_register("record.task_created", "A task was added to a record", _TASK)
_register(
    "record.task_updated",
    "A record's task changed; changes lists old and new values",
    {**_TASK, "changes": {"priority": {"old": "medium", "new": "high"}}},
)
_register("record.task_completed", "A record's task was completed", {**_TASK, "status": "completed"})
_register("record.task_deleted", "A record's task was deleted", _TASK)
_register(
    "record.insight_generated",
    "Insights about a record were generated (new or refreshed); insights lists them",
    {**_IDS, "title": "2 insights", "insights": [_INSIGHT], "created": 1, "updated": 1, "resolved": 0},
)
_register(
    "record.insight_action_taken",
    "Someone acted on an insight about a record",
    {**_INSIGHT, "status": "action_taken", "action_note": "Called them back"},
)
_register(
    "record.insight_dismissed", "An insight about a record was dismissed", {**_INSIGHT, "status": "dismissed"}
)
