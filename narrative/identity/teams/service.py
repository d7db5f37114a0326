"""Teams of a workspace and their members (role lead or member), with team.* events.

A team's members are workspace members (`TeamMember.member_id` -> members.id). Teams a member
leads are things they own: they are registered with the offboarding registry, so a member who
leads a team cannot be deleted until someone else leads it.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.members.ownership import register_owned_items
from narrative.identity.members.service import get_member
from narrative.identity.models import (
    MEMBER_ACTIVE,
    MEMBER_INVITED,
    TEAM_ROLES,
    Member,
    Team,
    TeamMember,
    User,
)
from narrative.platform.errors import Conflict, NotFound, ValidationFailed, integrity_errors_as_conflict
from narrative.platform.events import emit, register_event_type
from narrative.platform.tenancy import get_or_404, resolve_reference, tenant_select

LEAD = "lead"

_TEAM = {
    "team_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c20",
    "name": "Sales",
    "description": "Field sales, Benelux",
    "color": "#2563eb",
}
_TEAM_MEMBER = {
    "team_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c20",
    "team_name": "Sales",
    "member_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0d",
    "user_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0e",
    "role": "member",
}

register_event_type("team.created", description="A team was created.", example=_TEAM)
register_event_type(
    "team.updated",
    description="A team's name, description or color changed; `changes` holds old and new values.",
    example={**_TEAM, "changes": {"name": {"old": "Sales NL", "new": "Sales"}}},
)
register_event_type("team.deleted", description="A team was deleted.", example=_TEAM)
register_event_type("team.member_added", description="A member joined a team.", example=_TEAM_MEMBER)
register_event_type("team.member_removed", description="A member left a team.", example=_TEAM_MEMBER)
register_event_type(
    "team.member_role_changed",
    description="A team member became lead, or stopped being lead.",
    example={**_TEAM_MEMBER, "role": "lead", "previous_role": "member"},
)

TEAM_FIELDS = ("name", "description", "color")


def _team_payload(team, **extra):
    return {
        "team_id": str(team.id),
        "name": team.name,
        "description": team.description,
        "color": team.color,
        **extra,
    }


def _membership_payload(row, **extra):
    return {
        "team_id": str(row.team_id),
        "team_name": row.team.name,
        "member_id": str(row.member_id),
        "user_id": str(row.member.user_id),
        "role": row.role,
        **extra,
    }


# --- teams --------------------------------------------------------------------------------------


def get_team(team_id):
    return get_or_404(Team, team_id, message="Team not found.")


def teams_query(*, search=None):
    query = tenant_select(Team)
    if search:
        pattern = f"%{search.strip().lower()}%"
        query = query.where(
            sa.or_(sa.func.lower(Team.name).like(pattern), sa.func.lower(Team.description).like(pattern))
        )
    return query


def _clean_name(name):
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(details=[{"field": "name", "message": "A team needs a name."}])
    return name


def _ensure_name_free(*, name, team_id=None):
    """A friendly early answer; the unique constraint on (workspace, name) is what decides."""
    query = db.select(Team.id).where(sa.func.lower(Team.name) == name.lower())
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if db.session.scalar(query) is not None:
        raise Conflict(f"A team called '{name}' already exists in this workspace.")


def create_team(*, workspace_id, actor, name, description=None, color=None, lead_member_id=None):
    name = _clean_name(name)
    # Checked before anything is written, like every other part of the payload.
    lead = _candidate(lead_member_id, field="lead_member_id") if lead_member_id is not None else None
    _ensure_name_free(name=name)
    team = Team(
        workspace_id=workspace_id, name=name, description=description, color=color, created_by_id=actor.id
    )
    with integrity_errors_as_conflict(f"A team called '{name}' already exists in this workspace."):
        db.session.add(team)
    emit("team.created", _team_payload(team), workspace_id=workspace_id, actor_id=actor.id)
    if lead is not None:
        add_member(team=team, member_id=lead.id, role=LEAD, actor=actor)
    return team


def update_team(*, team, actor, changes):
    changed = {}
    if "name" in changes:
        changes = {**changes, "name": _clean_name(changes["name"])}
        if changes["name"] != team.name:
            _ensure_name_free(name=changes["name"], team_id=team.id)
    for field in TEAM_FIELDS:
        if field in changes and changes[field] != getattr(team, field):
            changed[field] = {"old": getattr(team, field), "new": changes[field]}
            setattr(team, field, changes[field])
    if changed:
        emit(
            "team.updated",
            _team_payload(team, changes=changed),
            workspace_id=team.workspace_id,
            actor_id=actor.id,
        )
    return team


def delete_team(*, team, actor):
    emit("team.deleted", _team_payload(team), workspace_id=team.workspace_id, actor_id=actor.id)
    db.session.delete(team)


# --- team members -------------------------------------------------------------------------------


def team_members_query(team):
    return (
        db.select(TeamMember)
        .join(Member, Member.id == TeamMember.member_id)
        .join(User, User.id == Member.user_id)
        .where(TeamMember.team_id == team.id)
    )


def team_member_order():
    return (TeamMember.role == "member", sa.func.lower(sa.func.coalesce(User.name, User.email)))


def _check_role(role):
    if role not in TEAM_ROLES:
        raise ValidationFailed(
            details=[{"field": "role", "message": f"Must be one of {', '.join(TEAM_ROLES)}."}]
        )


def find_membership(*, team, member_id):
    member = get_member(member_id)
    row = db.session.scalar(db.select(TeamMember).filter_by(team_id=team.id, member_id=member.id))
    if row is None:
        raise NotFound("This member is not in the team.")
    return row


def _candidate(member_id, *, field):
    """The workspace member a payload's `field` names for a team; 422 naming the field otherwise."""
    member = resolve_reference(Member, member_id, field=field)
    if member.removed_at is not None or member.status not in (MEMBER_ACTIVE, MEMBER_INVITED):
        raise ValidationFailed(details=[{"field": field, "message": "This member is not active."}])
    return member


def add_member(*, team, member_id, role="member", actor):
    _check_role(role)
    member = _candidate(member_id, field="member_id")
    existing = db.session.scalar(db.select(TeamMember).filter_by(team_id=team.id, member_id=member.id))
    if existing is not None:
        raise Conflict("This member is already in the team.")
    with integrity_errors_as_conflict("This member is already in the team."):
        row = TeamMember(workspace_id=team.workspace_id, team=team, member=member, role=role)
        db.session.add(row)
    emit("team.member_added", _membership_payload(row), workspace_id=team.workspace_id, actor_id=actor.id)
    return row


def change_member_role(*, row, role, actor):
    _check_role(role)
    if role != row.role:
        previous = row.role
        row.role = role
        emit(
            "team.member_role_changed",
            _membership_payload(row, previous_role=previous),
            workspace_id=row.workspace_id,
            actor_id=actor.id,
        )
    return row


def remove_member(*, row, actor):
    emit("team.member_removed", _membership_payload(row), workspace_id=row.workspace_id, actor_id=actor.id)
    db.session.delete(row)


def member_counts(team_ids):
    """{team_id: number of members} for a page of teams, in one query."""
    if not team_ids:
        return {}
    rows = db.session.execute(
        db.select(TeamMember.team_id, db.func.count(TeamMember.id))
        .where(TeamMember.team_id.in_(team_ids))
        .group_by(TeamMember.team_id)
    ).all()
    return dict(rows)


# --- offboarding: teams a member leads ---------------------------------------------------------


def _led(*, workspace_id, member):
    return db.select(TeamMember).where(
        TeamMember.workspace_id == workspace_id, TeamMember.member_id == member.id, TeamMember.role == LEAD
    )


def count_teams_led(*, workspace_id, member):
    return db.session.scalar(
        db.select(db.func.count()).select_from(_led(workspace_id=workspace_id, member=member).subquery())
    )


def reassign_teams_led(*, workspace_id, from_member, to_member):
    """The new member leads each team (joining it if needed); the old one stays as a plain member."""
    rows = db.session.scalars(_led(workspace_id=workspace_id, member=from_member)).all()
    for row in rows:
        successor = db.session.scalar(
            db.select(TeamMember).filter_by(team_id=row.team_id, member_id=to_member.id)
        )
        if successor is None:
            db.session.add(
                TeamMember(workspace_id=workspace_id, team_id=row.team_id, member_id=to_member.id, role=LEAD)
            )
        else:
            successor.role = LEAD
        row.role = "member"
    db.session.flush()
    return len(rows)


register_owned_items("teams_led", count_teams_led, reassign_teams_led, description="Teams the member leads")
