"""What is true about one record right now, computed deterministically, and its wording by the AI.

`gather(record, now=...)` reads the record's values, its history (last change), its interactions
and its tasks in a handful of aggregate queries. `candidates(facts)` turns those facts into the
insights that hold (stale, missing fields, follow-up due, overdue tasks), each with a title, a
priority, the facts it rests on and a fingerprint of the situation. `phrase(...)` asks the
workspace's AI provider (through narrative.ai, so every call is in the AI call log; the local
provider is the offline default) to word the facts: numbers are never the model's.

Rules (documented because the dashboard and follow-up suggestions use the same ones):

- last activity = the latest of the record's last value change (history) and its last interaction;
  stale when it is at least `stale_after_days` old (default 30, recordset setting
  `settings.tracking.stale_after_days`, or the request's value).
- missing fields: required fields without a value (high priority) and important fields without a
  value: `settings.tracking.important_fields`, else fields whose options say `important: true`,
  else the recordset's email and phone fields (how to reach the contact).
- follow-up due: an interaction's `follow_up_at` has passed and no interaction happened since.
- overdue task: an open task of the record whose `due_at` has passed.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from narrative.ai import AiContext, get_provider
from narrative.ai.prompts import facts_message
from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.records.models import RecordHistory
from narrative.records.tracking.models import (
    FOLLOW_UP_DUE,
    MISSING_FIELDS,
    OPEN,
    OVERDUE_TASK,
    STALE,
    RecordInsight,
    RecordInteraction,
)
from narrative.tasks.models import COMPLETED, OPEN_STATUSES, Task
from narrative.tasks.service import overdue_clause

DEFAULT_STALE_AFTER_DAYS = 30
CONTACT_FIELD_TYPES = ("email", "phone")
SUBJECT_RECORD = "record"
SYSTEM_PROMPT = (
    "You help a small team keep track of the records they work on (contacts, deals, properties). "
    "Write short, plain sentences a busy person can act on."
)
_VALUE_CHANGES = ("created", "updated", "restored", "migrated")


# --- facts ---------------------------------------------------------------------------------------


@dataclass
class RecordFacts:
    record: object
    recordset: object
    now: datetime
    stale_after_days: int
    last_change_at: datetime
    last_interaction: object = None
    interaction_count: int = 0
    interactions_by_type: dict = field(default_factory=dict)
    due_follow_up: object = None  # the interaction whose follow-up date passed unanswered
    open_tasks: int = 0
    completed_tasks: int = 0
    overdue_tasks: list = field(default_factory=list)
    missing_required: list = field(default_factory=list)
    missing_important: list = field(default_factory=list)
    filled_fields: int = 0
    open_insights: int = 0

    @property
    def last_interaction_at(self):
        return self.last_interaction.occurred_at if self.last_interaction is not None else None

    @property
    def last_activity_at(self):
        return max(filter(None, (self.last_change_at, self.last_interaction_at)))

    @property
    def last_activity_kind(self):
        at = self.last_interaction_at
        return "interaction" if at is not None and at >= self.last_change_at else "update"

    @property
    def days_since_activity(self):
        return days_between(self.last_activity_at, self.now)

    @property
    def total_fields(self):
        return len(self.recordset.fields or [])

    @property
    def completeness(self):
        """Share of the recordset's fields that hold a value, in percent (100 without fields)."""
        return round(100 * self.filled_fields / self.total_fields) if self.total_fields else 100


def days_between(start, end):
    return max(0, (end - start).days) if start is not None else None


def stale_threshold(recordset, requested=None):
    if requested:
        return int(requested)
    configured = ((recordset.settings or {}).get("tracking") or {}).get("stale_after_days")
    return int(configured) if isinstance(configured, int) and configured > 0 else DEFAULT_STALE_AFTER_DAYS


def is_empty(value):
    return value is None or (isinstance(value, (str, list, dict)) and not value)


def important_fields(recordset):
    """Field keys that should hold a value (see the module docstring for the rule)."""
    tracking = (recordset.settings or {}).get("tracking") or {}
    if tracking.get("important_fields"):
        return [key for key in tracking["important_fields"] if recordset.field(key)]
    flagged = [spec["key"] for spec in recordset.fields or [] if (spec.get("options") or {}).get("important")]
    if flagged:
        return flagged
    return [spec["key"] for spec in recordset.fields or [] if spec["type"] in CONTACT_FIELD_TYPES]


def _field_name(recordset, key):
    spec = recordset.field(key)
    return spec["name"] if spec else key


def _missing(record, recordset):
    values = record.values or {}
    required = [spec["key"] for spec in recordset.fields or [] if spec.get("required")]
    missing_required = [key for key in required if is_empty(values.get(key))]
    missing_important = [
        key for key in important_fields(recordset) if key not in required and is_empty(values.get(key))
    ]
    filled = sum(1 for spec in recordset.fields or [] if not is_empty(values.get(spec["key"])))
    return missing_required, missing_important, filled


def _last_change_at(record):
    last = db.session.scalar(
        sa.select(sa.func.max(RecordHistory.created_at)).where(
            RecordHistory.record_id == record.id, RecordHistory.action.in_(_VALUE_CHANGES)
        )
    )
    return last or record.created_at


def _interaction_facts(record, now):
    counts = dict(
        db.session.execute(
            sa.select(RecordInteraction.interaction_type, sa.func.count())
            .where(RecordInteraction.record_id == record.id)
            .group_by(RecordInteraction.interaction_type)
        ).all()
    )
    last = db.session.scalar(
        sa.select(RecordInteraction)
        .where(RecordInteraction.record_id == record.id)
        .order_by(RecordInteraction.occurred_at.desc(), RecordInteraction.id.desc())
        .limit(1)
    )
    due = db.session.scalar(
        sa.select(RecordInteraction)
        .where(
            RecordInteraction.record_id == record.id,
            RecordInteraction.follow_up_at.is_not(None),
            RecordInteraction.follow_up_at <= now,
        )
        .order_by(RecordInteraction.follow_up_at.desc(), RecordInteraction.id.desc())
        .limit(1)
    )
    # Answered when someone was in touch on or after the follow-up date.
    if due is not None and last is not None and last.occurred_at >= due.follow_up_at:
        due = None
    return counts, last, due


def _task_facts(record, now):
    record_tasks = (Task.subject_type == SUBJECT_RECORD, Task.subject_id == record.id)
    counts = dict(
        db.session.execute(
            sa.select(Task.status, sa.func.count()).where(*record_tasks).group_by(Task.status)
        ).all()
    )
    overdue = db.session.scalars(
        sa.select(Task).where(*record_tasks, overdue_clause(now)).order_by(Task.due_at, Task.id)
    ).all()
    open_count = sum(counts.get(status, 0) for status in OPEN_STATUSES)
    return open_count, counts.get(COMPLETED, 0), list(overdue)


def gather(record, *, now=None, stale_after_days=None):
    """The facts about `record` at `now` (default: the current time)."""
    now = now or utcnow()
    recordset = record.recordset
    counts, last, due = _interaction_facts(record, now)
    open_tasks, completed_tasks, overdue = _task_facts(record, now)
    missing_required, missing_important, filled = _missing(record, recordset)
    open_insights = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecordInsight)
        .where(RecordInsight.record_id == record.id, RecordInsight.status == OPEN)
    )
    return RecordFacts(
        record=record,
        recordset=recordset,
        now=now,
        stale_after_days=stale_threshold(recordset, stale_after_days),
        last_change_at=_last_change_at(record),
        last_interaction=last,
        interaction_count=sum(counts.values()),
        interactions_by_type=counts,
        due_follow_up=due,
        open_tasks=open_tasks,
        completed_tasks=completed_tasks,
        overdue_tasks=overdue,
        missing_required=missing_required,
        missing_important=missing_important,
        filled_fields=filled,
        open_insights=open_insights or 0,
    )


# --- candidate insights --------------------------------------------------------------------------


def day(value):
    return value.strftime("%d %B %Y").lstrip("0") if value is not None else None


def _fingerprint(*parts):
    return hashlib.sha256("|".join(str(part) for part in parts).encode()).hexdigest()


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def _stale(facts):
    days = facts.days_since_activity
    if days is None or days < facts.stale_after_days:
        return None
    kind = facts.last_activity_kind
    return {
        "insight_type": STALE,
        "title": f"No activity in {_plural(days, 'day')}",
        "priority": "high" if days >= 2 * facts.stale_after_days else "medium",
        "facts": {
            "days_since_activity": days,
            "last_activity_at": facts.last_activity_at.isoformat(),
            "last_activity_kind": kind,
            "stale_after_days": facts.stale_after_days,
            "interaction_count": facts.interaction_count,
        },
        "fingerprint": _fingerprint(STALE, facts.last_activity_at.isoformat()),
        "lines": [
            (
                "The last activity on this record",
                f"{_plural(days, 'day')} ago (an {kind} on {day(facts.last_activity_at)})",
            ),
            ("The point at which a record counts as stale", f"{_plural(facts.stale_after_days, 'day')}"),
            ("The suggested next step", "to get back in touch or update the record"),
        ],
    }


def _missing_fields(facts):
    if not facts.missing_required and not facts.missing_important:
        return None
    recordset = facts.recordset
    names = [_field_name(recordset, key) for key in facts.missing_required + facts.missing_important]
    lines = []
    if facts.missing_required:
        required = ", ".join(_field_name(recordset, key) for key in facts.missing_required)
        lines.append(("The required fields without a value", required))
    if facts.missing_important:
        important = ", ".join(_field_name(recordset, key) for key in facts.missing_important)
        lines.append(("The important fields without a value", important))
    lines.append(("The share of fields filled in", f"{facts.completeness}%"))
    return {
        "insight_type": MISSING_FIELDS,
        "title": f"Missing {', '.join(names)}"[:300],
        "priority": "high" if facts.missing_required else "medium",
        "facts": {
            "missing_required": facts.missing_required,
            "missing_important": facts.missing_important,
            "completeness": facts.completeness,
        },
        "fingerprint": _fingerprint(
            MISSING_FIELDS, *sorted(facts.missing_required + facts.missing_important)
        ),
        "lines": lines,
    }


def _follow_up_due(facts):
    interaction = facts.due_follow_up
    if interaction is None:
        return None
    days = days_between(interaction.follow_up_at, facts.now)
    about = f" about {interaction.subject}" if interaction.subject else ""
    return {
        "insight_type": FOLLOW_UP_DUE,
        "title": f"Follow-up due since {day(interaction.follow_up_at)}",
        "priority": "high" if days >= 7 else "medium",
        "facts": {
            "follow_up_at": interaction.follow_up_at.isoformat(),
            "days_overdue": days,
            "interaction_id": str(interaction.id),
            "interaction_type": interaction.interaction_type,
            "interaction_subject": interaction.subject,
            "interaction_at": interaction.occurred_at.isoformat(),
        },
        "fingerprint": _fingerprint(FOLLOW_UP_DUE, interaction.id, interaction.follow_up_at.isoformat()),
        "lines": [
            (
                "The follow-up promised after the "
                f"{interaction.interaction_type} of {day(interaction.occurred_at)}{about}",
                f"due on {day(interaction.follow_up_at)}, {_plural(days, 'day')} ago",
            ),
            ("The contact since then", "none"),
        ],
    }


def _overdue_task(facts):
    tasks = facts.overdue_tasks
    if not tasks:
        return None
    oldest = tasks[0]
    days = days_between(oldest.due_at, facts.now)
    titles = [task.title for task in tasks[:5]]
    return {
        "insight_type": OVERDUE_TASK,
        "title": f"{_plural(len(tasks), 'overdue task')}: {', '.join(titles)}"[:300],
        "priority": "urgent" if any(task.priority == "urgent" for task in tasks) else "high",
        "facts": {
            "overdue_count": len(tasks),
            "task_ids": [str(task.id) for task in tasks],
            "task_titles": titles,
            "oldest_due_at": oldest.due_at.isoformat(),
            "max_days_overdue": days,
        },
        "fingerprint": _fingerprint(OVERDUE_TASK, *sorted(str(task.id) for task in tasks)),
        "lines": [
            ("The number of overdue tasks", len(tasks)),
            (
                "The longest overdue",
                f'"{oldest.title}", due {day(oldest.due_at)} ({_plural(days, "day")} ago)',
            ),
        ],
    }


RULES = {
    STALE: _stale,
    MISSING_FIELDS: _missing_fields,
    FOLLOW_UP_DUE: _follow_up_due,
    OVERDUE_TASK: _overdue_task,
}


def candidates(facts, *, insight_types=None):
    """The insights that hold for `facts`, in a fixed order (only `insight_types` when given)."""
    found = []
    for insight_type, rule in RULES.items():
        if insight_types and insight_type not in insight_types:
            continue
        candidate = rule(facts)
        if candidate is not None:
            found.append(candidate)
    return found


# --- wording -------------------------------------------------------------------------------------


@dataclass
class Phrased:
    text: str
    provider: str
    model: str
    usage: object = None


def phrase(lines, *, workspace_id, user_id, function, instruction=None):
    """Ask the workspace's chat provider to word `lines` ([(label, value)]); logged as `function`."""
    provider = get_provider(workspace_id=workspace_id, function="chat")
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, facts_message(lines)]
    if instruction:
        messages.append({"role": "user", "content": instruction})
    result = provider.chat(
        messages, context=AiContext(workspace_id=workspace_id, user_id=user_id, function=function)
    )
    return Phrased(
        text=(result.content or "").strip(),
        provider=provider.name,
        model=result.model or provider.model,
        usage=result.usage,
    )


def record_title(record):
    """What the record is called: its title field's value, else the first text value."""
    values = record.values or {}
    key = record.recordset.title_field
    if key and not is_empty(values.get(key)):
        return str(values[key])
    for spec in record.recordset.fields or []:
        if spec["type"] == "text" and not is_empty(values.get(spec["key"])):
            return str(values[spec["key"]])
    return f"Record {str(record.id)[:8]}"
