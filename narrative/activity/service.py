"""The activity feed: the "activity" consumer records every event with an actor; the feed, stats and
exports read those rows (the current workspace's: the session scopes every query to it)."""

from datetime import timedelta

import sqlalchemy as sa

from narrative.activity.models import Activity
from narrative.extensions import db
from narrative.identity.models import Member, Team, TeamMember, User
from narrative.platform.errors import ValidationFailed
from narrative.platform.events import consumer
from narrative.platform.models import parse_uuid, utcnow
from narrative.platform.tenancy import resolve_reference, workspace_scope

_ID_KEYS = ("id",)


def describe(event_type, payload):
    """(object_type, verb, object_id, summary) for an event."""
    object_type, _, verb = event_type.rpartition(".")
    object_type = object_type.replace(".", "_")
    object_id = (
        payload.get(f"{object_type.rsplit('_', 1)[-1]}_id")
        or payload.get(f"{object_type}_id")
        or payload.get("id")
    )
    label = payload.get("name") or payload.get("title") or payload.get("text") or object_id or ""
    summary = f"{object_type.replace('_', ' ').capitalize()} {verb.replace('_', ' ')}"
    if label:
        summary += f": {label}"
    return object_type, verb, str(object_id) if object_id is not None else None, summary[:500]


@consumer("activity")
def record_activity(event):
    """Events a person caused (an actor) become activity rows; system events are not activity."""
    if event.actor_id is None:
        return
    with workspace_scope(event.workspace_id):
        _record(event)


def _record(event):
    if db.session.scalar(sa.select(Activity.id).where(Activity.event_id == event.id)) is not None:
        return
    object_type, verb, object_id, summary = describe(event.type, event.payload)
    db.session.add(
        Activity(
            workspace_id=event.workspace_id,
            actor_id=event.actor_id,
            event_type=event.type,
            object_type=object_type,
            verb=verb,
            object_id=object_id,
            summary=summary,
            data=event.payload,
            event_id=event.id,
            created_at=event.created_at,
        )
    )
    # The unique event_id decides a race of two deliveries: it fails here, in this consumer.
    db.session.flush()


def _listed(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _unknown(field, value, what):
    return ValidationFailed(
        details=[{"field": field, "message": f"{value} is not {what} of this workspace."}]
    )


def people(text):
    """The user ids a `user_ids` filter names: member or user ids of this workspace's members (past
    ones too: their activity stays); anything else is a 422 on user_ids."""
    named = [(value, parse_uuid(value)) for value in _listed(text)]
    ids = [ident for _value, ident in named if ident is not None]
    members = db.session.scalars(
        sa.select(Member).where(sa.or_(Member.id.in_(ids), Member.user_id.in_(ids)))
    ).all()
    by_id = {member.id: member.user_id for member in members} | {m.user_id: m.user_id for m in members}
    for value, ident in named:
        if ident not in by_id:
            raise _unknown("user_ids", value, "a member")
    return [by_id[ident] for _value, ident in named]


def teams(text):
    """The team ids a `team_ids` filter names: this workspace's teams (anything else: 422)."""
    message = "is not a team of this workspace."
    return [
        resolve_reference(Team, value, field="team_ids", message=f"{value} {message}").id
        for value in _listed(text)
    ]


def feed_query(*, user_id, filters):
    """Activities matching the feed's filters (types, search, dates, scope, people, teams).

    The people and teams named are checked here (a 422 naming the filter), so an export is refused
    before its job starts."""
    stmt = sa.select(Activity)
    types = [t.strip() for t in (filters.get("types") or "").split(",") if t.strip()]
    if types:
        stmt = stmt.where(sa.or_(Activity.object_type.in_(types), Activity.event_type.in_(types)))
    if filters.get("object_type"):
        stmt = stmt.where(Activity.object_type == filters["object_type"])
    if filters.get("object_id"):
        stmt = stmt.where(Activity.object_id == str(filters["object_id"]))
    if filters.get("search"):
        stmt = stmt.where(Activity.summary.ilike(f"%{filters['search']}%"))
    if filters.get("start_date"):
        stmt = stmt.where(Activity.created_at >= filters["start_date"])
    if filters.get("end_date"):
        stmt = stmt.where(Activity.created_at < filters["end_date"])
    if filters.get("scope") == "mine":
        stmt = stmt.where(Activity.actor_id == user_id)
    actors = people(filters.get("user_ids"))
    if actors:
        stmt = stmt.where(Activity.actor_id.in_(actors))
    team_ids = teams(filters.get("team_ids"))
    if team_ids:
        team_users = (
            sa.select(Member.user_id)
            .join(TeamMember, TeamMember.member_id == Member.id)
            .where(TeamMember.team_id.in_(team_ids))
        )
        stmt = stmt.where(Activity.actor_id.in_(team_users))
    return stmt


def activity_dict(row, actors=None):
    actor = (actors or {}).get(row.actor_id)
    return {
        "id": row.id,
        "actor_id": row.actor_id,
        "user_id": row.actor_id,
        "actor_name": actor.name if actor else None,
        "actor_email": actor.email if actor else None,
        "type": row.object_type,
        "event_type": row.event_type,
        "verb": row.verb,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "summary": row.summary,
        "description": row.summary,
        "data": row.data,
        "workspace_id": row.workspace_id,
        "timestamp": row.created_at,
        "created_at": row.created_at,
    }


def actors_of(rows):
    ids = {row.actor_id for row in rows}
    if not ids:
        return {}
    return {user.id: user for user in db.session.scalars(sa.select(User).where(User.id.in_(ids)))}


def stats(*, days=30):
    base = sa.select(Activity).subquery()
    by_type = dict(
        db.session.execute(sa.select(base.c.object_type, sa.func.count()).group_by(base.c.object_type)).all()
    )
    since = utcnow() - timedelta(days=days)
    recent = db.session.scalars(sa.select(Activity.created_at).where(Activity.created_at >= since)).all()
    by_day = {}
    for moment in recent:
        day = moment.date().isoformat()
        by_day[day] = by_day.get(day, 0) + 1
    by_actor = db.session.execute(
        sa.select(base.c.actor_id, sa.func.count())
        .group_by(base.c.actor_id)
        .order_by(sa.func.count().desc())
        .limit(10)
    ).all()
    return {
        "total": sum(by_type.values()),
        "by_type": by_type,
        "by_day": [{"date": day, "count": by_day[day]} for day in sorted(by_day)],
        "top_actors": [{"actor_id": actor, "count": count} for actor, count in by_actor],
        "last_days": days,
    }
