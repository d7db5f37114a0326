"""AI work on records that writes nothing: a record's analysis, a drafted message to its contact,
and a recordset's follow-up suggestions. Each computes its facts first (narrative.records.tracking
.insights and .dashboard), then asks the AI layer only to word them.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import utcnow
from narrative.records.models import Record
from narrative.records.tracking import insights as facts_of
from narrative.records.tracking.dashboard import (
    FOLLOW_UP_DUE_POINTS,
    OVERDUE_TASK_POINTS,
    STALE_TIER_POINTS,
    record_signals,
)
from narrative.records.tracking.insights import day, days_between, is_empty, record_title

# --- analysis of one record ----------------------------------------------------------------------

# Health score: 100 minus these penalties (each capped), never below 0.
STALE_PENALTY = 20
VERY_STALE_PENALTY = 35
MISSING_REQUIRED_PENALTY, MISSING_REQUIRED_CAP = 10, 30
MISSING_IMPORTANT_PENALTY, MISSING_IMPORTANT_CAP = 5, 15
OVERDUE_PENALTY, OVERDUE_CAP = 10, 30
FOLLOW_UP_PENALTY = 15


def health_score(facts):
    """0-100: how well the record is looked after (see the penalties above)."""
    score = 100
    days = facts.days_since_activity
    if days >= 2 * facts.stale_after_days:
        score -= VERY_STALE_PENALTY
    elif days >= facts.stale_after_days:
        score -= STALE_PENALTY
    score -= min(MISSING_REQUIRED_CAP, MISSING_REQUIRED_PENALTY * len(facts.missing_required))
    score -= min(MISSING_IMPORTANT_CAP, MISSING_IMPORTANT_PENALTY * len(facts.missing_important))
    score -= min(OVERDUE_CAP, OVERDUE_PENALTY * len(facts.overdue_tasks))
    if facts.due_follow_up is not None:
        score -= FOLLOW_UP_PENALTY
    return max(0, score)


def _field_names(recordset, keys):
    return ", ".join((recordset.field(key) or {"name": key})["name"] for key in keys)


def recommendations(facts):
    """Next steps in order of urgency, from the facts alone."""
    steps = [f'Complete or reschedule "{task.title}"' for task in facts.overdue_tasks[:3]]
    if facts.due_follow_up is not None:
        interaction = facts.due_follow_up
        steps.append(
            f"Follow up on the {interaction.interaction_type} of {day(interaction.occurred_at)} "
            f"(follow-up was due {day(interaction.follow_up_at)})"
        )
    if facts.days_since_activity >= facts.stale_after_days:
        steps.append(f"Get back in touch: nothing has happened in {facts.days_since_activity} days")
    missing = facts.missing_required + facts.missing_important
    if missing:
        steps.append(f"Fill in {_field_names(facts.recordset, missing)}")
    if facts.interaction_count == 0:
        steps.append("Log the first interaction with this contact")
    if not steps and facts.open_tasks == 0:
        steps.append("Plan the next step as a task")
    return steps


def _interactions_text(facts):
    if not facts.interaction_count:
        return "0"
    parts = ", ".join(
        f"{count} {kind}{'' if count == 1 else 's'}"
        for kind, count in sorted(facts.interactions_by_type.items())
    )
    return f"{facts.interaction_count} ({parts})"


def analyze(record, *, user_id, now=None, stale_after_days=None):
    facts = facts_of.gather(record, now=now, stale_after_days=stale_after_days)
    signals = facts_of.candidates(facts)
    score = health_score(facts)
    steps = recommendations(facts)
    lines = [
        ("The record", record_title(record)),
        ("Its health score", f"{score} out of 100"),
        (
            "The last activity",
            f"{facts.days_since_activity} days ago (an {facts.last_activity_kind} on {day(facts.last_activity_at)})",
        ),
        ("The number of interactions logged", _interactions_text(facts)),
        ("The number of open tasks", f"{facts.open_tasks} ({len(facts.overdue_tasks)} overdue)"),
        ("The share of fields filled in", f"{facts.completeness}%"),
    ]
    if steps:
        lines.append(("The most useful next step", f"to {steps[0][:1].lower()}{steps[0][1:]}"))
    phrased = facts_of.phrase(
        lines, workspace_id=record.workspace_id, user_id=user_id, function="records.analyze"
    )
    return {
        "record_id": record.id,
        "recordset_id": record.recordset_id,
        "title": record_title(record),
        "health_score": score,
        "summary": phrased.text,
        "facts": {
            "days_since_activity": facts.days_since_activity,
            "last_activity_at": facts.last_activity_at,
            "last_activity_kind": facts.last_activity_kind,
            "last_interaction_at": facts.last_interaction_at,
            "interaction_count": facts.interaction_count,
            "interactions_by_type": facts.interactions_by_type,
            "open_tasks": facts.open_tasks,
            "overdue_tasks": len(facts.overdue_tasks),
            "completed_tasks": facts.completed_tasks,
            "open_insights": facts.open_insights,
            "missing_required": facts.missing_required,
            "missing_important": facts.missing_important,
            "completeness": facts.completeness,
            "stale_after_days": facts.stale_after_days,
            "follow_up_due": facts.due_follow_up is not None,
        },
        "signals": [
            {key: item[key] for key in ("insight_type", "title", "priority", "facts")} for item in signals
        ],
        "recommendations": steps,
        "provider": phrased.provider,
        "model": phrased.model,
        "analyzed_at": facts.now,
    }


# --- drafting a message --------------------------------------------------------------------------

CHANNELS = ("email", "sms", "message", "linkedin", "whatsapp")
TONES = ("professional", "friendly", "formal", "casual", "urgent")
PURPOSES = ("follow_up", "check_in", "introduction", "meeting_request", "thank_you", "proposal", "reminder")
SHORT_CHANNELS = ("sms", "whatsapp")

_GREETINGS = {
    "professional": "Hello {first},",
    "friendly": "Hi {first},",
    "formal": "Dear {name},",
    "casual": "Hey {first},",
    "urgent": "Hello {first},",
}
_CLOSINGS = {
    "professional": "Best regards,",
    "friendly": "Cheers,",
    "formal": "Yours sincerely,",
    "casual": "Thanks,",
    "urgent": "Thank you,",
}
_NEXT_STEPS = {
    "follow_up": "a short call this week to agree on the next steps",
    "check_in": "a quick reply letting me know if there is anything you need",
    "introduction": "a short introductory call at a time that suits you",
    "meeting_request": "a 30-minute meeting at a time that suits you",
    "thank_you": "that we stay in touch about what comes next",
    "proposal": "that we go through the proposal together",
    "reminder": "that you let me know when this can be done",
}
_SUBJECTS = {
    "follow_up": "Following up: {title}",
    "check_in": "Checking in: {title}",
    "introduction": "Introduction",
    "meeting_request": "Meeting request: {title}",
    "thank_you": "Thank you",
    "proposal": "Proposal: {title}",
    "reminder": "Reminder: {title}",
}


def contact_of(record, recipient_name=None):
    """{name, email, phone} of the record's contact, from its title, email and phone fields."""
    values = record.values or {}
    found = {"name": recipient_name or record_title(record), "email": None, "phone": None}
    for spec in record.recordset.fields or []:
        if (
            spec["type"] in ("email", "phone")
            and found[spec["type"]] is None
            and not is_empty(values.get(spec["key"]))
        ):
            found[spec["type"]] = str(values[spec["key"]])
    return found


def _last_touch_text(interaction):
    about = f" about {interaction.subject}" if interaction.subject else ""
    return f"our {interaction.interaction_type} of {day(interaction.occurred_at)}{about}"


def _reason(purpose, facts, title):
    last = facts.last_interaction
    if purpose == "follow_up":
        return f"to follow up on {_last_touch_text(last)}" if last else f"to follow up on {title}"
    if purpose == "check_in":
        return f"to check in and see how things are going with {title}"
    if purpose == "introduction":
        return "to introduce myself and how we could work together"
    if purpose == "meeting_request":
        return f"to suggest that we meet to discuss {title}"
    if purpose == "thank_you":
        return f"to thank you for {_last_touch_text(last)}" if last else "to thank you for your time"
    if purpose == "proposal":
        return f"to share a proposal for {title}"
    if purpose == "reminder":
        return f"to remind you about {title}"
    text = purpose.strip().rstrip(".")
    return text if text.lower().startswith("to ") else f"to {text[:1].lower()}{text[1:]}"


def _preferred_channel(facts):
    by_type = facts.interactions_by_type
    return max(sorted(by_type), key=by_type.get) if by_type else None


def draft_message(
    record,
    *,
    user_id,
    sender_name=None,
    channel="email",
    tone="professional",
    purpose="follow_up",
    additional_context=None,
    recipient_name=None,
    now=None,
):
    """A message to the record's contact: greeting and sign-off by tone, the middle worded by the AI
    from the purpose, the last interaction and the next open task."""
    facts = facts_of.gather(record, now=now)
    title = record_title(record)
    contact = contact_of(record, recipient_name)
    first = contact["name"].split()[0] if contact["name"].split() else contact["name"]
    lines = [("The reason for my message", _reason(purpose, facts, title))]
    if additional_context:
        lines.append(("Something worth mentioning", additional_context.strip().replace("\n", " ")))
    lines.append(
        (
            "What I would like to suggest next",
            _NEXT_STEPS.get(purpose, "a short reply when you have a moment"),
        )
    )
    short = channel in SHORT_CHANNELS
    instruction = (
        f"Write only the middle of a {tone} {channel} message to {contact['name']} from these facts: "
        f"no greeting and no sign-off{', at most 300 characters' if short else ''}."
    )
    phrased = facts_of.phrase(
        lines,
        workspace_id=record.workspace_id,
        user_id=user_id,
        function="records.draft_message",
        instruction=instruction,
    )
    greeting = _GREETINGS.get(tone, "Hello {first},").format(first=first, name=contact["name"])
    sender = sender_name or ""
    if short:
        body = f"{greeting} {phrased.text}" + (f" - {sender}" if sender else "")
    else:
        body = f"{greeting}\n\n{phrased.text}\n\n{_CLOSINGS.get(tone, 'Best regards,')}" + (
            f"\n{sender}" if sender else ""
        )
    subject = _SUBJECTS.get(purpose, "About {title}").format(title=title) if channel == "email" else None
    return {
        "record_id": record.id,
        "channel": channel,
        "tone": tone,
        "purpose": purpose,
        "recipient": contact,
        "subject": subject,
        "body": body,
        "facts": {
            "last_interaction_at": facts.last_interaction_at,
            "last_interaction_type": facts.last_interaction.interaction_type
            if facts.last_interaction
            else None,
            "preferred_channel": _preferred_channel(facts),
            "interaction_count": facts.interaction_count,
            "open_tasks": facts.open_tasks,
        },
        "provider": phrased.provider,
        "model": phrased.model,
    }


# --- follow-up suggestions of a recordset --------------------------------------------------------

DEFAULT_SUGGESTIONS = 10
PHRASED_SUGGESTIONS = 5


def _priority(score):
    if score >= 60:
        return "urgent"
    if score >= 40:
        return "high"
    if score >= 20:
        return "medium"
    return "low"


def _reasons(row, now, threshold):
    reasons, actions = [], []
    if row.overdue_tasks:
        count = row.overdue_tasks
        reasons.append(
            f"{count} overdue task{'' if count == 1 else 's'}, the oldest due {day(row.oldest_due_at)}"
        )
        actions.append("Complete or reschedule the overdue tasks")
    if row.follow_up_due:
        reasons.append(f"a follow-up due since {day(row.due_follow_up_at)} with no contact since")
        actions.append("Get back in touch as promised")
    if row.stale_tier:
        days = days_between(row.last_activity_at, now)
        reasons.append(f"no activity in {days} days (stale after {threshold})")
        if not row.follow_up_due:
            actions.append("Reach out: it has gone quiet")
    return reasons, actions


def follow_up_suggestions(
    recordset, *, user_id, now=None, limit=DEFAULT_SUGGESTIONS, record_ids=None, stale_after_days=None
):
    """The recordset's records that need attention, ranked by a deterministic score (follow-up
    due 30 points, 20 per overdue task up to 3, 10 per stale threshold passed up to 3), each with
    its reasons; the AI words a summary of the top ones."""
    now = now or utcnow()
    stmt, columns = record_signals(
        recordset, now=now, stale_after_days=stale_after_days, record_ids=record_ids
    )
    ranked = stmt.where(columns["score"] > 0)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(ranked.subquery())) or 0
    rows = db.session.execute(
        ranked.order_by(columns["score"].desc(), columns["last_activity_at"].asc(), Record.id).limit(limit)
    ).all()
    suggestions = []
    for row in rows:
        reasons, actions = _reasons(row, now, columns["threshold"])
        suggestions.append(
            {
                "record_id": row.Record.id,
                "title": record_title(row.Record),
                "score": int(row.score),
                "priority": _priority(int(row.score)),
                "reasons": reasons,
                "suggested_action": actions[0] if actions else "Get in touch",
                "last_interaction_at": row.last_interaction_at,
                "last_activity_at": row.last_activity_at,
                "days_since_activity": days_between(row.last_activity_at, now),
                "overdue_tasks": int(row.overdue_tasks),
                "follow_up_due": bool(row.follow_up_due),
                "follow_up_at": row.due_follow_up_at,
            }
        )
    summary, provider, model = "No record needs a follow-up now.", None, None
    if suggestions:
        lines = [
            ("The number of records that need a follow-up", f"{total} (the top {len(suggestions)} listed)")
        ]
        lines += [
            (f"The reason to contact {item['title']}", "; ".join(item["reasons"]))
            for item in suggestions[:PHRASED_SUGGESTIONS]
        ]
        phrased = facts_of.phrase(
            lines, workspace_id=recordset.workspace_id, user_id=user_id, function="records.follow_up"
        )
        summary, provider, model = phrased.text, phrased.provider, phrased.model
    return {
        "recordset_id": recordset.id,
        "generated_at": now,
        "stale_after_days": columns["threshold"],
        "total": total,
        "suggestions": suggestions,
        "summary": summary,
        "scoring": {
            "follow_up_due": FOLLOW_UP_DUE_POINTS,
            "per_overdue_task": OVERDUE_TASK_POINTS,
            "per_stale_threshold": STALE_TIER_POINTS,
        },
        "provider": provider,
        "model": model,
    }
