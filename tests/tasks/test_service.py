"""The workspace task model: create, update, complete, reopen, delete, list filters, due and overdue
queries, and the task.* domain events."""

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.platform.events import get_event_type
from narrative.platform.events.models import OutboxEvent
from narrative.platform.models import utcnow
from narrative.tasks import service
from narrative.tasks.models import Task
from tests.identity.factories import make_user, workspace_of


@pytest.fixture
def owner(app):
    return make_user()


@pytest.fixture
def workspace(owner):
    return workspace_of(owner)


def _events(kind=None):
    stmt = sa.select(OutboxEvent).order_by(OutboxEvent.id)
    if kind:
        stmt = stmt.where(OutboxEvent.event_type == kind)
    return db.session.scalars(stmt).all()


def _create(workspace, owner, **values):
    task = service.create_task(
        workspace_id=workspace.id, user_id=owner.id, **{"title": "Call back", **values}
    )
    db.session.commit()
    return task


def test_event_types_are_registered():
    for name in ("task.created", "task.updated", "task.completed", "task.deleted"):
        assert get_event_type(name) is not None


def test_create_defaults_position_and_event(workspace, owner):
    subject = uuid.uuid4()
    first = _create(workspace, owner, subject_type="record", subject_id=subject)
    second = _create(workspace, owner, subject_type="record", subject_id=subject, priority="HIGH")
    other = _create(workspace, owner)
    assert (first.status, first.priority, first.position) == ("todo", "medium", 1.0)
    assert (second.priority, second.position) == ("high", 2.0)
    assert other.position == 1.0  # positions count per subject
    created = _events("task.created")
    assert len(created) == 3
    assert created[0].payload["task_id"] == str(first.id)
    assert created[0].payload["subject_id"] == str(subject)
    assert created[0].actor_id == owner.id


@pytest.mark.parametrize(
    "values, field",
    [
        ({"title": "  "}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"priority": "critical"}, "priority"),
        ({"status": "sleeping"}, "status"),
        ({"assignee_id": uuid.uuid4()}, "assignee_id"),
    ],
)
def test_create_validates(workspace, owner, values, field):
    with pytest.raises(ValidationFailed) as raised:
        service.create_task(workspace_id=workspace.id, user_id=owner.id, **{"title": "ok", **values})
    assert raised.value.details[0]["field"] == field


def test_assignee_must_be_a_member(workspace, owner):
    colleague = make_user(role="member", workspace=workspace)
    outsider = make_user()
    task = _create(workspace, owner, assignee_id=colleague.id)
    assert task.assignee_id == colleague.id
    with pytest.raises(ValidationFailed) as refused:
        service.update_task(task, user_id=owner.id, changes={"assignee_id": outsider.id})
    assert refused.value.details[0]["field"] == "assignee_id"
    # Another workspace's user is refused on create too, and nothing is written.
    with pytest.raises(ValidationFailed) as refused:
        service.create_task(workspace_id=workspace.id, user_id=owner.id, title="x", assignee_id=outsider.id)
    assert refused.value.details[0]["field"] == "assignee_id"
    assert db.session.scalar(sa.select(sa.func.count(Task.id))) == 1


def test_update_records_changes_and_completion(workspace, owner):
    task = _create(workspace, owner)
    assert service.update_task(task, user_id=owner.id, changes={"title": "Call back"}) == {}
    changed = service.update_task(
        task, user_id=owner.id, changes={"priority": "urgent", "status": "in_progress"}
    )
    assert changed == {
        "priority": {"old": "medium", "new": "urgent"},
        "status": {"old": "todo", "new": "in_progress"},
    }
    service.update_task(task, user_id=owner.id, changes={"status": "done"})  # alias of completed
    db.session.commit()
    assert task.status == "completed" and task.completed_at is not None and task.completed_by_id == owner.id
    assert [e.payload["status"] for e in _events("task.completed")] == ["completed"]
    assert service.reopen_task(task, user_id=owner.id) is True
    assert task.status == "todo" and task.completed_at is None
    assert len(_events("task.updated")) == 3


def test_complete_is_idempotent(workspace, owner):
    task = _create(workspace, owner)
    assert service.complete_task(task, user_id=owner.id, note="Done by phone") is True
    assert service.complete_task(task, user_id=owner.id) is False
    db.session.commit()
    assert task.completion_note == "Done by phone"
    assert len(_events("task.completed")) == 1
    assert _events("task.completed")[0].payload["completion_note"] == "Done by phone"


def test_delete_emits_and_removes(workspace, owner):
    task = _create(workspace, owner)
    task_id = task.id
    service.delete_task(task, user_id=owner.id)
    db.session.commit()
    assert db.session.get(Task, task_id) is None
    assert _events("task.deleted")[0].payload["task_id"] == str(task_id)


def test_queries_filter_due_and_overdue(workspace, owner):
    now = utcnow()
    subject = uuid.uuid4()
    overdue = _create(
        workspace,
        owner,
        title="Late",
        due_at=now - timedelta(days=2),
        subject_type="record",
        subject_id=subject,
    )
    soon = _create(
        workspace,
        owner,
        title="Soon",
        due_at=now + timedelta(days=1),
        subject_type="record",
        subject_id=subject,
    )
    done = _create(workspace, owner, title="Done", due_at=now - timedelta(days=5), status="completed")
    _create(workspace, owner, title="Later", due_at=now + timedelta(days=30), priority="low")

    def titles(**filters):
        stmt = service.tasks_query(workspace_id=workspace.id, **filters).order_by(Task.title)
        return [task.title for task in db.session.scalars(stmt)]

    assert titles() == ["Done", "Late", "Later", "Soon"]
    assert titles(include_closed=False) == ["Late", "Later", "Soon"]
    assert titles(status="completed", include_closed=False) == ["Done"]
    assert titles(priority="low") == ["Later"]
    assert titles(subject_type="record", subject_id=subject) == ["Late", "Soon"]
    assert [t.id for t in service.overdue_tasks(workspace_id=workspace.id, now=now)] == [overdue.id]
    due = service.due_tasks(workspace_id=workspace.id, start=now, end=now + timedelta(days=7))
    assert [t.id for t in due] == [soon.id]
    assert done.completed_at is not None
    # Another workspace sees none of them.
    other = workspace_of(make_user())
    assert db.session.scalars(service.tasks_query(workspace_id=other.id)).all() == []
