"""Who may do what on one recordset, on top of the workspace permissions.

The workspace role gates the kind of action (records.read / records.write / records.delete /
recordsets.manage, checked by `require` on every route). Within that, a recordset is visible to:
callers with recordsets.manage (workspace admins and owners: full access), its owner (full
access), and members holding a grant (directly or through a team) at level view, edit or admin.

Capabilities per level: view -> can_view; edit -> + can_create, can_edit, can_edit_own,
can_delete_own; admin -> + can_delete, can_admin. A capability also needs the workspace
permission of its kind (a viewer granted "edit" still cannot write).
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.access import current_member, current_user, has_permission
from narrative.identity.models import TeamMember
from narrative.platform.errors import Forbidden, NotFound
from narrative.platform.tenancy import get_or_404, tenant_select
from narrative.records import service
from narrative.records.models import ADMIN, EDIT, GRANT_LEVELS, VIEW, Recordset, RecordsetGrant

CAPABILITIES = (
    "can_view",
    "can_create",
    "can_edit",
    "can_edit_own",
    "can_delete",
    "can_delete_own",
    "can_admin",
)
_BY_LEVEL = {
    VIEW: {"can_view"},
    EDIT: {"can_view", "can_create", "can_edit", "can_edit_own", "can_delete_own"},
    ADMIN: set(CAPABILITIES),
}
_WORKSPACE_PERMISSION = {
    "can_view": "records.read",
    "can_create": "records.write",
    "can_edit": "records.write",
    "can_edit_own": "records.write",
    "can_delete": "records.delete",
    "can_delete_own": "records.delete",
    "can_admin": "recordsets.manage",
}


def _member_team_ids(member):
    return (
        select_team_ids(member.id) if member is not None else sa.select(TeamMember.team_id).where(sa.false())
    )


def select_team_ids(member_id):
    return sa.select(TeamMember.team_id).where(TeamMember.member_id == member_id)


def grant_level(recordset):
    """The caller's level on `recordset`: "admin", "edit", "view" or None."""
    user = current_user()
    if has_permission("recordsets.manage") or (user is not None and recordset.owner_id == user.id):
        return ADMIN
    member = current_member()
    if member is None:
        return None
    levels = db.session.scalars(
        sa.select(RecordsetGrant.level).where(
            RecordsetGrant.recordset_id == recordset.id,
            sa.or_(
                RecordsetGrant.member_id == member.id, RecordsetGrant.team_id.in_(_member_team_ids(member))
            ),
        )
    ).all()
    return max(levels, key=GRANT_LEVELS.index) if levels else None


def capabilities(recordset):
    level = grant_level(recordset)
    granted = _BY_LEVEL.get(level, set())
    return {name: name in granted and has_permission(_WORKSPACE_PERMISSION[name]) for name in CAPABILITIES}


def check(recordset, capability, *, record=None):
    """Raise unless the caller holds `capability` (or its _own twin for a record they own/created).
    Without even can_view the recordset does not exist for the caller (404)."""
    caps = capabilities(recordset)
    if not caps["can_view"]:
        raise NotFound("Recordset not found.")
    if caps.get(capability):
        return caps
    own = f"{capability}_own"
    user = current_user()
    if (
        record is not None
        and caps.get(own)
        and user is not None
        and user.id in (record.owner_id, record.created_by_id)
    ):
        return caps
    raise Forbidden(f"You need {capability} on this recordset.", extra={"required_permission": capability})


def visible_recordsets_clause():
    """WHERE clause limiting a Recordset query to those the caller can view."""
    if has_permission("recordsets.manage"):
        return sa.true()
    user, member = current_user(), current_member()
    clauses = [Recordset.owner_id == user.id] if user is not None else []
    if member is not None:
        granted = sa.select(RecordsetGrant.recordset_id).where(
            sa.or_(
                RecordsetGrant.member_id == member.id, RecordsetGrant.team_id.in_(_member_team_ids(member))
            )
        )
        clauses.append(Recordset.id.in_(granted))
    return sa.or_(*clauses) if clauses else sa.false()


# --- lookups the routes share ------------------------------------------------------------------


def recordset_by_slug(slug, *, trashed=False):
    """The workspace's live (or, with `trashed`, trashed) recordset with this slug; 404 otherwise."""
    recordset = db.session.scalar(
        tenant_select(Recordset, Recordset.slug == slug, Recordset.is_active.is_(not trashed))
    )
    if recordset is None:
        raise NotFound("Recordset not found.")
    return recordset


def recordset_by_id(recordset_id):
    """The workspace's live recordset with this id; 404 otherwise."""
    recordset = get_or_404(Recordset, recordset_id)
    if not recordset.is_active:
        raise NotFound("Recordset not found.")
    return recordset


def recordset_by_id_or_slug(value):
    """Query arguments name a recordset by id; its slug is accepted too."""
    try:
        return recordset_by_id(value)
    except NotFound:
        return recordset_by_slug(value)


def record_or_404(record_id, capability="can_view"):
    """A live record of a live recordset on which the caller has `capability`; 404 otherwise."""
    record = service.get_record(record_id)
    if not record.recordset.is_active:
        raise NotFound("Record not found.")
    check(record.recordset, capability, record=record)
    return record
