"""A recordset's tracking numbers, computed with SQL aggregates (never a Python loop over records).

`record_signals(...)` is one SELECT with a row per active record of a recordset and the columns
tracking ranks on (last activity, follow-up due, overdue tasks, staleness tier, a score); the
dashboard counts over it and the follow-up suggestions read its top rows.
"""

from datetime import timedelta

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import UTCDateTime, utcnow
from narrative.records.models import ACTIVE, Record, RecordHistory
from narrative.records.tracking.insights import SUBJECT_RECORD, stale_threshold
from narrative.records.tracking.models import (
    ACTION_TAKEN,
    DISMISSED,
    OPEN,
    RecordInsight,
    RecordInteraction,
)
from narrative.tasks.models import CANCELLED, COMPLETED, OPEN_STATUSES, Task
from narrative.tasks.service import overdue_clause

PERIOD_DAYS = 30
RECENT_INTERACTIONS = 5
# Score weights of the follow-up ranking (documented in the API: the score is explainable).
FOLLOW_UP_DUE_POINTS = 30
OVERDUE_TASK_POINTS = 20  # per overdue task, at most 3 counted
STALE_TIER_POINTS = 10  # per multiple of the stale threshold, at most 3


def _dt(expression):
    return sa.type_coerce(expression, UTCDateTime())


def _active_records(recordset):
    return sa.select(Record.id).where(Record.recordset_id == recordset.id, Record.status == ACTIVE)


def _interaction_stats(recordset, now):
    return (
        sa.select(
            RecordInteraction.record_id.label("record_id"),
            sa.func.max(RecordInteraction.occurred_at).label("last_interaction_at"),
            sa.func.max(
                sa.case((RecordInteraction.follow_up_at <= now, RecordInteraction.follow_up_at), else_=None)
            ).label("due_follow_up_at"),
        )
        .where(RecordInteraction.recordset_id == recordset.id)
        .group_by(RecordInteraction.record_id)
        .subquery("interaction_stats")
    )


def _last_changes(recordset):
    return (
        sa.select(
            RecordHistory.record_id.label("record_id"),
            sa.func.max(RecordHistory.created_at).label("last_change_at"),
        )
        .where(
            RecordHistory.recordset_id == recordset.id,
            RecordHistory.action.in_(("created", "updated", "restored", "migrated")),
        )
        .group_by(RecordHistory.record_id)
        .subquery("last_changes")
    )


def _overdue_stats(recordset, now):
    return (
        sa.select(
            Task.subject_id.label("record_id"),
            sa.func.count().label("overdue_tasks"),
            sa.func.min(Task.due_at).label("oldest_due_at"),
        )
        .where(
            Task.subject_type == SUBJECT_RECORD,
            Task.subject_id.in_(_active_records(recordset)),
            overdue_clause(now),
        )
        .group_by(Task.subject_id)
        .subquery("overdue_stats")
    )


def record_signals(recordset, *, now=None, stale_after_days=None, record_ids=None):
    """(select, columns): one row per active record with its tracking signals.

    Columns: record (the Record), last_interaction_at, last_activity_at, follow_up_due (bool),
    due_follow_up_at, overdue_tasks, oldest_due_at, stale_tier (0-3: how many stale thresholds the
    last activity is behind), score."""
    now = now or utcnow()
    threshold = stale_threshold(recordset, stale_after_days)
    interactions = _interaction_stats(recordset, now)
    changes = _last_changes(recordset)
    overdue = _overdue_stats(recordset, now)
    base = _dt(sa.func.coalesce(changes.c.last_change_at, Record.created_at))
    last_activity = _dt(
        sa.case(
            (
                sa.and_(
                    interactions.c.last_interaction_at.is_not(None),
                    interactions.c.last_interaction_at > base,
                ),
                interactions.c.last_interaction_at,
            ),
            else_=base,
        )
    )
    follow_up_due = sa.and_(
        interactions.c.due_follow_up_at.is_not(None),
        interactions.c.due_follow_up_at > interactions.c.last_interaction_at,
    )
    stale_tier = sa.case(
        (last_activity <= now - timedelta(days=3 * threshold), 3),
        (last_activity <= now - timedelta(days=2 * threshold), 2),
        (last_activity <= now - timedelta(days=threshold), 1),
        else_=0,
    )
    overdue_count = sa.func.coalesce(overdue.c.overdue_tasks, 0)
    score = (
        sa.case((follow_up_due, FOLLOW_UP_DUE_POINTS), else_=0)
        + sa.case((overdue_count > 3, 3), else_=overdue_count) * OVERDUE_TASK_POINTS
        + stale_tier * STALE_TIER_POINTS
    )
    stmt = (
        sa.select(
            Record,
            interactions.c.last_interaction_at,
            last_activity.label("last_activity_at"),
            sa.case((follow_up_due, True), else_=False).label("follow_up_due"),
            interactions.c.due_follow_up_at,
            overdue_count.label("overdue_tasks"),
            overdue.c.oldest_due_at,
            stale_tier.label("stale_tier"),
            score.label("score"),
        )
        .outerjoin(interactions, interactions.c.record_id == Record.id)
        .outerjoin(changes, changes.c.record_id == Record.id)
        .outerjoin(overdue, overdue.c.record_id == Record.id)
        .where(Record.recordset_id == recordset.id, Record.status == ACTIVE)
    )
    if record_ids:
        stmt = stmt.where(Record.id.in_(record_ids))
    return stmt, {"score": score, "last_activity_at": last_activity, "threshold": threshold}


def _count(stmt):
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery())) or 0


def _grouped(column, *criteria):
    return {
        key: count
        for key, count in db.session.execute(
            sa.select(column, sa.func.count()).where(*criteria).group_by(column)
        ).all()
    }


def _record_metrics(recordset, now, since, stale_after_days):
    signals, _ = record_signals(recordset, now=now, stale_after_days=stale_after_days)
    signals = signals.subquery("signals")
    active = _active_records(recordset)
    recent = sa.select(RecordInteraction.record_id).where(
        RecordInteraction.recordset_id == recordset.id,
        RecordInteraction.occurred_at >= since,
        RecordInteraction.occurred_at <= now,
    )
    any_interaction = sa.select(RecordInteraction.record_id).where(
        RecordInteraction.recordset_id == recordset.id
    )
    with_open_insights = sa.select(RecordInsight.record_id).where(
        RecordInsight.recordset_id == recordset.id, RecordInsight.status == OPEN
    )
    row = db.session.execute(
        sa.select(
            sa.func.count().label("total"),
            sa.func.coalesce(sa.func.sum(sa.case((signals.c.follow_up_due, 1), else_=0)), 0).label(
                "follow_up_due"
            ),
            sa.func.coalesce(sa.func.sum(sa.case((signals.c.stale_tier > 0, 1), else_=0)), 0).label("stale"),
            sa.func.coalesce(sa.func.sum(sa.case((signals.c.overdue_tasks > 0, 1), else_=0)), 0).label(
                "with_overdue_tasks"
            ),
        ).select_from(signals)
    ).one()
    return {
        "total": row.total,
        "with_open_insights": _count(active.where(Record.id.in_(with_open_insights))),
        "without_interaction_last_30_days": _count(active.where(Record.id.not_in(recent))),
        "never_contacted": _count(active.where(Record.id.not_in(any_interaction))),
        "stale": int(row.stale),
        "follow_up_due": int(row.follow_up_due),
        "with_overdue_tasks": int(row.with_overdue_tasks),
    }


def _insight_metrics(recordset, since):
    in_active = (
        RecordInsight.recordset_id == recordset.id,
        RecordInsight.record_id.in_(_active_records(recordset)),
    )
    open_ = (*in_active, RecordInsight.status == OPEN)
    by_type = _grouped(RecordInsight.insight_type, *open_)
    closed_recently = _grouped(RecordInsight.status, *in_active, RecordInsight.acted_at >= since)
    return {
        "open": sum(by_type.values()),
        "open_by_type": by_type,
        "open_by_priority": _grouped(RecordInsight.priority, *open_),
        "action_taken_last_30_days": closed_recently.get(ACTION_TAKEN, 0),
        "dismissed_last_30_days": closed_recently.get(DISMISSED, 0),
    }


def _interaction_metrics(recordset, now, since):
    by_type = _grouped(
        RecordInteraction.interaction_type,
        RecordInteraction.recordset_id == recordset.id,
        RecordInteraction.record_id.in_(_active_records(recordset)),
        RecordInteraction.occurred_at >= since,
        RecordInteraction.occurred_at <= now,
    )
    return {"last_30_days": sum(by_type.values()), "by_type_last_30_days": by_type}


def _task_metrics(recordset, now, since):
    of_records = (
        Task.subject_type == SUBJECT_RECORD,
        Task.subject_id.in_(_active_records(recordset)),
    )
    by_status = _grouped(Task.status, *of_records)
    tasks = sa.select(Task.id).where(*of_records)
    return {
        "open": sum(by_status.get(status, 0) for status in OPEN_STATUSES),
        "overdue": _count(tasks.where(overdue_clause(now))),
        "due_next_7_days": _count(
            tasks.where(
                Task.status.in_(OPEN_STATUSES), Task.due_at >= now, Task.due_at < now + timedelta(days=7)
            )
        ),
        "completed": by_status.get(COMPLETED, 0),
        "completed_last_30_days": _count(tasks.where(Task.status == COMPLETED, Task.completed_at >= since)),
        "cancelled": by_status.get(CANCELLED, 0),
        "by_status": by_status,
    }


def _recent_interactions(recordset):
    return db.session.scalars(
        sa.select(RecordInteraction)
        .where(
            RecordInteraction.recordset_id == recordset.id,
            RecordInteraction.record_id.in_(_active_records(recordset)),
        )
        .order_by(RecordInteraction.occurred_at.desc(), RecordInteraction.id.desc())
        .limit(RECENT_INTERACTIONS)
    ).all()


def dashboard(recordset, *, now=None, stale_after_days=None):
    """Tracking metrics of a recordset over its active records (see the response schema)."""
    now = now or utcnow()
    since = now - timedelta(days=PERIOD_DAYS)
    return {
        "recordset_id": recordset.id,
        "generated_at": now,
        "period_days": PERIOD_DAYS,
        "stale_after_days": stale_threshold(recordset, stale_after_days),
        "records": _record_metrics(recordset, now, since, stale_after_days),
        "insights": _insight_metrics(recordset, since),
        "interactions": _interaction_metrics(recordset, now, since),
        "tasks": _task_metrics(recordset, now, since),
        "recent_interactions": _recent_interactions(recordset),
    }
