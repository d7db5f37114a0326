"""Record tracking writes: interactions, a record's tasks, insights (generate, act on, dismiss).

Keyword-only functions working in the caller's unit of work (nothing here commits). Callers have already
checked access to the record (narrative.records.access). Every write emits a `record.*` event with
the record's id, which puts it in the record's activity; task writes also emit the generic
`task.*` events through narrative.tasks.service.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.platform.events import emit
from narrative.platform.models import new_id, utcnow
from narrative.records.models import Record
from narrative.records.service import checked_member_user
from narrative.records.tracking import events  # noqa: F401  (registers the event types)
from narrative.records.tracking import insights as facts_of
from narrative.records.tracking.models import (
    ACTION_TAKEN,
    DIRECTIONS,
    DISMISSED,
    INSIGHT_TYPES,
    INTERACTION_TYPES,
    OPEN,
    RecordInsight,
    RecordInteraction,
)
from narrative.tasks import service as tasks
from narrative.tasks.models import COMPLETED, Task

SUBJECT_RECORD = facts_of.SUBJECT_RECORD


def _iso(value):
    return value.isoformat() if value is not None else None


def _ids(record):
    return {"record_id": str(record.id), "recordset_id": str(record.recordset_id)}


def _invalid(field, message):
    return ValidationFailed(f"{field}: {message}", details=[{"field": field, "message": message}])


# --- interactions --------------------------------------------------------------------------------

INTERACTION_ATTRIBUTES = (
    "interaction_type",
    "direction",
    "subject",
    "summary",
    "body",
    "occurred_at",
    "duration_minutes",
    "outcome",
    "participants",
    "follow_up_at",
)


def interaction_payload(interaction):
    return {
        "record_id": str(interaction.record_id),
        "recordset_id": str(interaction.recordset_id),
        "interaction_id": str(interaction.id),
        "interaction_type": interaction.interaction_type,
        "title": interaction.subject or interaction.interaction_type.capitalize(),
        "occurred_at": _iso(interaction.occurred_at),
        "follow_up_at": _iso(interaction.follow_up_at),
    }


def _checked_interaction(values):
    for index, participant in enumerate(values.get("participants") or []):
        if isinstance(participant, dict) and participant.get("user_id") is not None:
            user_id = checked_member_user(participant["user_id"], field=f"participants.{index}.user_id")
            participant["user_id"] = str(user_id)
    if "interaction_type" in values and values["interaction_type"] not in INTERACTION_TYPES:
        raise _invalid("interaction_type", f"must be one of {', '.join(INTERACTION_TYPES)}")
    if values.get("direction") is not None and values["direction"] not in DIRECTIONS:
        raise _invalid("direction", f"must be one of {', '.join(DIRECTIONS)}")
    if "occurred_at" in values and values["occurred_at"] is None:
        raise _invalid("occurred_at", "must be a date and time")
    return values


def log_interaction(record, *, user_id, interaction_type, occurred_at=None, **values):
    """A new interaction on the record's timeline (occurred_at defaults to now)."""
    values = _checked_interaction({"interaction_type": interaction_type, **values})
    unknown = set(values) - set(INTERACTION_ATTRIBUTES)
    if unknown:
        raise TypeError(f"unknown interaction attributes: {', '.join(sorted(unknown))}")
    now = utcnow()
    interaction = RecordInteraction(
        id=new_id(),
        workspace_id=record.workspace_id,
        record_id=record.id,
        recordset_id=record.recordset_id,
        occurred_at=occurred_at or now,
        participants=list(values.pop("participants", None) or []),
        created_by_id=user_id,
        created_at=now,
        updated_at=now,
        **values,
    )
    db.session.add(interaction)
    db.session.flush()
    emit(
        "record.interaction_logged",
        interaction_payload(interaction),
        workspace_id=record.workspace_id,
        actor_id=user_id,
    )
    return interaction


def update_interaction(interaction, *, user_id, changes):
    """Change the attributes present in `changes`; returns {name: {old, new}}."""
    _checked_interaction(changes)
    changed = {}
    for name in INTERACTION_ATTRIBUTES:
        if name not in changes:
            continue
        value = list(changes[name] or []) if name == "participants" else changes[name]
        old = getattr(interaction, name)
        if old != value:
            changed[name] = {
                "old": _iso(old) if hasattr(old, "isoformat") else old,
                "new": _iso(value) if hasattr(value, "isoformat") else value,
            }
            setattr(interaction, name, value)
    if changed:
        interaction.updated_at = utcnow()
        emit(
            "record.interaction_updated",
            {**interaction_payload(interaction), "changes": changed},
            workspace_id=interaction.workspace_id,
            actor_id=user_id,
        )
    return changed


def delete_interaction(interaction, *, user_id):
    payload = interaction_payload(interaction)
    workspace_id = interaction.workspace_id
    db.session.delete(interaction)
    emit("record.interaction_deleted", payload, workspace_id=workspace_id, actor_id=user_id)


def interactions_query(record, *, interaction_type=None):
    stmt = sa.select(RecordInteraction).where(RecordInteraction.record_id == record.id)
    if interaction_type:
        stmt = stmt.where(RecordInteraction.interaction_type == interaction_type)
    return stmt


# --- a record's tasks ----------------------------------------------------------------------------


def record_task_payload(task):
    return {
        "record_id": str(task.subject_id),
        "task_id": str(task.id),
        "title": task.title,
        "status": task.status,
        "priority": task.priority,
        "due_at": _iso(task.due_at),
    }


def _emit_task_event(name, task, record, user_id, **extra):
    emit(
        name,
        {**record_task_payload(task), "recordset_id": str(record.recordset_id), **extra},
        workspace_id=record.workspace_id,
        actor_id=user_id,
    )


def create_record_task(record, *, user_id, **values):
    """A task about `record` (subject "record")."""
    task = tasks.create_task(
        workspace_id=record.workspace_id,
        user_id=user_id,
        subject_type=SUBJECT_RECORD,
        subject_id=record.id,
        **values,
    )
    _emit_task_event("record.task_created", task, record, user_id)
    return task


def update_record_task(task, record, *, user_id, changes):
    was_completed = task.status == COMPLETED
    changed = tasks.update_task(task, user_id=user_id, changes=changes)
    if changed:
        _emit_task_event("record.task_updated", task, record, user_id, changes=changed)
        if task.status == COMPLETED and not was_completed:
            _emit_task_event("record.task_completed", task, record, user_id)
    return changed


def complete_record_task(task, record, *, user_id, note=None):
    if tasks.complete_task(task, user_id=user_id, note=note):
        _emit_task_event("record.task_completed", task, record, user_id)
    return task


def delete_record_task(task, record, *, user_id):
    payload = record_task_payload(task)
    tasks.delete_task(task, user_id=user_id)
    emit(
        "record.task_deleted",
        {**payload, "recordset_id": str(record.recordset_id)},
        workspace_id=record.workspace_id,
        actor_id=user_id,
    )


def record_tasks_query(record, *, status=None, priority=None, include_completed=False):
    return tasks.tasks_query(
        workspace_id=record.workspace_id,
        subject_type=SUBJECT_RECORD,
        subject_id=record.id,
        status=status,
        priority=priority,
        include_closed=include_completed,
    )


def is_record_task(task):
    return isinstance(task, Task) and task.subject_type == SUBJECT_RECORD and task.subject_id is not None


# --- insights ------------------------------------------------------------------------------------


def insight_payload(insight):
    return {
        "record_id": str(insight.record_id),
        "recordset_id": str(insight.recordset_id),
        "insight_id": str(insight.id),
        "insight_type": insight.insight_type,
        "title": insight.title,
        "priority": insight.priority,
        "status": insight.status,
    }


def insights_query(record, *, insight_type=None, include_dismissed=False, status=None):
    stmt = sa.select(RecordInsight).where(RecordInsight.record_id == record.id)
    if insight_type:
        stmt = stmt.where(RecordInsight.insight_type == insight_type)
    if status:
        stmt = stmt.where(RecordInsight.status == status)
    elif not include_dismissed:
        stmt = stmt.where(RecordInsight.status != DISMISSED)
    return stmt


def _existing_insights(record, types):
    rows = db.session.scalars(
        sa.select(RecordInsight).where(
            RecordInsight.record_id == record.id, RecordInsight.insight_type.in_(types)
        )
    ).all()
    open_by_type = {row.insight_type: row for row in rows if row.status == OPEN}
    handled = {(row.insight_type, row.fingerprint) for row in rows if row.status != OPEN}
    # Duplicated open rows (never written by this code, but cheap to heal): keep the newest.
    for row in rows:
        if row.status == OPEN and open_by_type[row.insight_type] is not row:
            db.session.delete(row)
    return open_by_type, handled


def generate_insights(record, *, user_id, now=None, stale_after_days=None, insight_types=None):
    """Compute the facts, then create, refresh or resolve the record's open insights.

    Per insight type: a situation that holds updates the open insight of that type (or creates
    one); one someone already acted on or dismissed (same fingerprint) is not raised again; an
    open insight whose situation no longer holds is removed (resolved). Only new or changed
    insights are worded by the AI. Returns a summary with the record's open insights."""
    types = [t for t in INSIGHT_TYPES if not insight_types or t in insight_types]
    facts = facts_of.gather(record, now=now, stale_after_days=stale_after_days)
    found = facts_of.candidates(facts, insight_types=types)
    open_by_type, handled = _existing_insights(record, types)
    created = updated = skipped = resolved = 0
    provider = model = None
    for candidate in found:
        existing = open_by_type.pop(candidate["insight_type"], None)
        if (candidate["insight_type"], candidate["fingerprint"]) in handled:
            skipped += 1
            if existing is not None:
                db.session.delete(existing)
                resolved += 1
            continue
        if (
            existing is not None
            and existing.fingerprint == candidate["fingerprint"]
            and existing.facts == candidate["facts"]
        ):
            continue
        phrased = facts_of.phrase(
            candidate["lines"], workspace_id=record.workspace_id, user_id=user_id, function="records.insights"
        )
        provider, model = phrased.provider, phrased.model
        insight = existing or RecordInsight(
            id=new_id(),
            workspace_id=record.workspace_id,
            record_id=record.id,
            recordset_id=record.recordset_id,
            insight_type=candidate["insight_type"],
            status=OPEN,
        )
        insight.title = candidate["title"]
        insight.priority = candidate["priority"]
        insight.facts = candidate["facts"]
        insight.fingerprint = candidate["fingerprint"]
        insight.body = phrased.text
        insight.provider, insight.model = phrased.provider, phrased.model
        insight.generated_by_id = user_id
        insight.updated_at = utcnow()
        if existing is None:
            db.session.add(insight)
            created += 1
        else:
            updated += 1
    for stale_insight in open_by_type.values():
        db.session.delete(stale_insight)
        resolved += 1
    db.session.flush()
    current = db.session.scalars(
        insights_query(record, status=OPEN).order_by(RecordInsight.created_at, RecordInsight.id)
    ).all()
    if created or updated or resolved:
        emit(
            "record.insight_generated",
            {
                **_ids(record),
                "title": f"{len(current)} open insight{'' if len(current) == 1 else 's'}",
                "insights": [insight_payload(item) for item in current],
                "created": created,
                "updated": updated,
                "resolved": resolved,
            },
            workspace_id=record.workspace_id,
            actor_id=user_id,
        )
    return {
        "record_id": record.id,
        "insights": current,
        "created": created,
        "updated": updated,
        "resolved": resolved,
        "skipped": skipped,
        "stale_after_days": facts.stale_after_days,
        "provider": provider,
        "model": model,
        "generated_at": facts.now,
    }


def _close_insight(insight, *, status, user_id, note, event):
    if insight.status == status and (note is None or note == insight.action_note):
        return insight
    insight.status = status
    if note is not None:
        insight.action_note = note
    insight.acted_by_id, insight.acted_at = user_id, utcnow()
    insight.updated_at = insight.acted_at
    emit(
        event,
        {**insight_payload(insight), "action_note": insight.action_note},
        workspace_id=insight.workspace_id,
        actor_id=user_id,
    )
    return insight


def take_action(insight, *, user_id, note=None):
    """Mark that someone acted on the insight (an optional note says what was done)."""
    return _close_insight(
        insight, status=ACTION_TAKEN, user_id=user_id, note=note, event="record.insight_action_taken"
    )


def dismiss_insight(insight, *, user_id, note=None):
    return _close_insight(
        insight, status=DISMISSED, user_id=user_id, note=note, event="record.insight_dismissed"
    )


# --- cleanup -------------------------------------------------------------------------------------


def remove_tracking_of_recordset(recordset):
    """Delete the insights, interactions and tasks of a recordset's records, in bulk.

    For a permanent recordset deletion: call it before the records go. Insights and interactions
    would follow the records through ON DELETE CASCADE on PostgreSQL, but tasks point at their
    subject without a foreign key (any kind of subject), so they must be removed here."""
    record_ids = sa.select(Record.id).where(Record.recordset_id == recordset.id)
    db.session.execute(
        sa.delete(Task)
        .where(Task.subject_type == SUBJECT_RECORD, Task.subject_id.in_(record_ids))
        .execution_options(synchronize_session=False)
    )
    for model in (RecordInsight, RecordInteraction):
        db.session.execute(
            sa.delete(model)
            .where(model.recordset_id == recordset.id)
            .execution_options(synchronize_session=False)
        )
