"""Workspace tasks: the one task model of the platform (record tracking's tasks today; the
workspace task list, CRM tasks and the studio kanban build on it later).

A task optionally points at what it is about through `subject_type` + `subject_id` ("record" and a
record id, later "channel", "goal", "contact"...), so any domain links tasks to its objects without
a table of its own. Domains call `narrative.tasks.service`; no generic /tasks routes exist yet.
"""

from narrative.tasks import events, models  # noqa: F401  (event types registered, table mapped)
