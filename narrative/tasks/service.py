"""Create, change, complete and delete tasks, and the queries lists and dashboards use.

Every function works in the caller's unit of work (the platform commits it) and emits the domain
events task.created / task.updated / task.completed / task.deleted. Callers check access to the
task's subject themselves (a record's tasks follow the record's access rules).
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import MEMBER_ACTIVE, Member
from narrative.platform.errors import ValidationFailed
from narrative.platform.events import emit
from narrative.platform.models import new_id, utcnow
from narrative.tasks import events  # noqa: F401  (registers the event types)
from narrative.tasks.models import (
    CLOSED_STATUSES,
    COMPLETED,
    DEFAULT_PRIORITY,
    OPEN_STATUSES,
    PRIORITIES,
    STATUS_ALIASES,
    STATUSES,
    TODO,
    Task,
)

UPDATABLE = (
    "title",
    "description",
    "status",
    "priority",
    "due_at",
    "assignee_id",
    "position",
    "tags",
    "details",
)


def _invalid(field, message):
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


def normalise_status(value):
    """The stored status for `value` (aliases such as "done" and "canceled" accepted), or 422."""
    status = str(value or "").strip().lower()
    status = STATUS_ALIASES.get(status, status)
    if status not in STATUSES:
        raise _invalid("status", f"must be one of {', '.join(STATUSES)}")
    return status


def _checked_priority(value):
    priority = str(value or DEFAULT_PRIORITY).strip().lower()
    if priority not in PRIORITIES:
        raise _invalid("priority", f"must be one of {', '.join(PRIORITIES)}")
    return priority


def _checked_title(value):
    title = str(value or "").strip()
    if not title:
        raise _invalid("title", "must not be empty")
    if len(title) > 500:
        raise _invalid("title", "must be at most 500 characters")
    return title


def _checked_assignee(workspace_id, user_id):
    """An assignee is an active member of the task's workspace."""
    if user_id is None:
        return None
    member = db.session.scalar(
        sa.select(Member.id).where(
            Member.workspace_id == workspace_id, Member.user_id == user_id, Member.status == MEMBER_ACTIVE
        )
    )
    if member is None:
        raise _invalid("assignee_id", "is not a member of this workspace")
    return user_id


def _iso(value):
    return value.isoformat() if value is not None else None


def task_payload(task):
    return {
        "task_id": str(task.id),
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "due_at": _iso(task.due_at),
        "assignee_id": str(task.assignee_id) if task.assignee_id else None,
        "subject_type": task.subject_type,
        "subject_id": str(task.subject_id) if task.subject_id else None,
    }


def _next_position(workspace_id, subject_type, subject_id):
    last = db.session.scalar(
        sa.select(sa.func.max(Task.position)).where(
            Task.workspace_id == workspace_id,
            Task.subject_type.is_(None) if subject_type is None else Task.subject_type == subject_type,
            Task.subject_id.is_(None) if subject_id is None else Task.subject_id == subject_id,
        )
    )
    return (last or 0.0) + 1.0


def create_task(
    *,
    workspace_id,
    user_id,
    title,
    description=None,
    status=TODO,
    priority=DEFAULT_PRIORITY,
    due_at=None,
    assignee_id=None,
    subject_type=None,
    subject_id=None,
    position=None,
    tags=None,
    details=None,
):
    """A new task (appended at the end of its subject's list unless `position` is given)."""
    status = normalise_status(status)
    now = utcnow()
    task = Task(
        id=new_id(),
        workspace_id=workspace_id,
        title=_checked_title(title),
        description=description,
        status=status,
        priority=_checked_priority(priority),
        due_at=due_at,
        assignee_id=_checked_assignee(workspace_id, assignee_id),
        created_by_id=user_id,
        subject_type=subject_type,
        subject_id=subject_id,
        position=position if position is not None else _next_position(workspace_id, subject_type, subject_id),
        tags=list(tags or []),
        details=dict(details or {}),
        completed_at=now if status == COMPLETED else None,
        completed_by_id=user_id if status == COMPLETED else None,
        created_at=now,
        updated_at=now,
    )
    db.session.add(task)
    db.session.flush()
    emit("task.created", task_payload(task), workspace_id=workspace_id, actor_id=user_id)
    return task


def _jsonable(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if value is not None and not isinstance(value, (str, int, float, bool, list, dict)):
        return str(value)
    return value


def _clean_change(task, name, value):
    if name == "title":
        return _checked_title(value)
    if name == "priority":
        return _checked_priority(value)
    if name == "status":
        return normalise_status(value)
    if name == "assignee_id":
        return _checked_assignee(task.workspace_id, value)
    if name == "tags":
        return list(value or [])
    if name == "details":
        return dict(value or {})
    if name == "position" and value is None:
        raise _invalid("position", "must be a number")
    return value


def update_task(task, *, user_id, changes):
    """Change the attributes present in `changes`; returns {name: {old, new}} of what changed.

    Moving the status to completed completes the task (completed_at, task.completed); moving it
    away from completed reopens it (completed_at cleared). Nothing changed = no event."""
    changed = {}
    for name in UPDATABLE:
        if name not in changes:
            continue
        value = _clean_change(task, name, changes[name])
        if getattr(task, name) != value:
            changed[name] = {"old": _jsonable(getattr(task, name)), "new": _jsonable(value)}
            setattr(task, name, value)
    if not changed:
        return {}
    now = utcnow()
    completed_now = "status" in changed and task.status == COMPLETED
    if completed_now:
        task.completed_at, task.completed_by_id = now, user_id
    elif "status" in changed and changed["status"]["old"] == COMPLETED:
        task.completed_at = task.completed_by_id = None
    task.updated_at = now
    emit(
        "task.updated",
        {**task_payload(task), "changes": changed},
        workspace_id=task.workspace_id,
        actor_id=user_id,
    )
    if completed_now:
        _emit_completed(task, user_id)
    return changed


def _emit_completed(task, user_id):
    emit(
        "task.completed",
        {
            **task_payload(task),
            "completed_at": _iso(task.completed_at),
            "completion_note": task.completion_note,
        },
        workspace_id=task.workspace_id,
        actor_id=user_id,
    )


def complete_task(task, *, user_id, note=None):
    """Mark the task completed (with an optional note). Completing a completed task changes
    nothing and emits nothing; returns whether it changed."""
    if task.status == COMPLETED:
        return False
    now = utcnow()
    task.status = COMPLETED
    task.completed_at, task.completed_by_id = now, user_id
    if note:
        task.completion_note = note
    task.updated_at = now
    _emit_completed(task, user_id)
    return True


def reopen_task(task, *, user_id):
    """A completed or cancelled task back to todo."""
    if task.status not in CLOSED_STATUSES:
        return False
    update_task(task, user_id=user_id, changes={"status": TODO})
    return True


def delete_task(task, *, user_id):
    payload = task_payload(task)
    workspace_id = task.workspace_id
    db.session.delete(task)
    emit("task.deleted", payload, workspace_id=workspace_id, actor_id=user_id)


# --- queries -------------------------------------------------------------------------------------


def tasks_query(
    *,
    workspace_id,
    subject_type=None,
    subject_id=None,
    status=None,
    priority=None,
    include_closed=True,
    assignee_id=None,
):
    """SELECT of the workspace's tasks with the usual list filters (an explicit `status` wins
    over `include_closed`). Callers (records tracking) name the workspace; the session's scope
    applies too."""
    stmt = sa.select(Task).where(Task.workspace_id == workspace_id)
    if subject_type is not None:
        stmt = stmt.where(Task.subject_type == subject_type)
    if subject_id is not None:
        stmt = stmt.where(Task.subject_id == subject_id)
    if status:
        stmt = stmt.where(Task.status == normalise_status(status))
    elif not include_closed:
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES))
    if priority:
        stmt = stmt.where(Task.priority == _checked_priority(priority))
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    return stmt


def overdue_clause(now=None):
    """Open tasks whose due time has passed."""
    return sa.and_(Task.status.in_(OPEN_STATUSES), Task.due_at.is_not(None), Task.due_at < (now or utcnow()))


def due_between_clause(start, end):
    """Open tasks due in [start, end)."""
    return sa.and_(Task.status.in_(OPEN_STATUSES), Task.due_at >= start, Task.due_at < end)


def overdue_tasks(*, workspace_id, now=None, subject_type=None, subject_id=None):
    """The overdue tasks of a workspace (or of one subject), the longest overdue first."""
    stmt = tasks_query(workspace_id=workspace_id, subject_type=subject_type, subject_id=subject_id)
    return db.session.scalars(stmt.where(overdue_clause(now)).order_by(Task.due_at, Task.id)).all()


def due_tasks(*, workspace_id, start, end, subject_type=None, subject_id=None):
    """Open tasks due in [start, end), soonest first (a daily or weekly queue)."""
    stmt = tasks_query(workspace_id=workspace_id, subject_type=subject_type, subject_id=subject_id)
    return db.session.scalars(stmt.where(due_between_clause(start, end)).order_by(Task.due_at, Task.id)).all()
