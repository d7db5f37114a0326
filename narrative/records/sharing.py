"""Saved views of a recordset (filters, sorts, visible fields, grouping) and the grants that share
a recordset with members and teams. Nothing here commits: the request's unit of work does.

Every route here has an authenticated caller whose workspace scopes the session; records have no
public share links (the public, signed links of this domain are the import's: the direct upload
and the error report, narrative.records.importing.routes)."""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member, Team
from narrative.platform.errors import Conflict, NotFound, ValidationFailed
from narrative.platform.models import parse_uuid
from narrative.platform.tenancy import get_or_404, resolve_reference
from narrative.records.filters import compile_filter, compile_sorts
from narrative.records.models import RecordsetGrant, RecordView

# --- views ---------------------------------------------------------------------------------------


def list_views(recordset):
    return db.session.scalars(
        sa.select(RecordView)
        .where(RecordView.recordset_id == recordset.id)
        .order_by(RecordView.created_at, RecordView.id)
    ).all()


def _checked_view_settings(recordset, settings):
    """A view's filters, sorts, fields and grouping must make sense for the recordset (422 if not)."""
    if settings.get("filters") is not None:
        compile_filter(recordset, settings["filters"])
    if settings.get("sorts"):
        compile_sorts(recordset, settings["sorts"])
    keys = {spec["key"] for spec in recordset.fields}
    unknown = [key for key in settings.get("visible_fields") or [] if key not in keys]
    if unknown:
        raise ValidationFailed(
            f"Unknown fields: {', '.join(unknown)}.",
            details=[{"field": "visible_fields", "message": f"unknown: {', '.join(unknown)}"}],
        )
    if settings.get("group_by") and settings["group_by"] not in keys:
        raise ValidationFailed(
            "group_by must be a field of the recordset.",
            details=[{"field": "group_by", "message": "unknown field"}],
        )


def create_view(recordset, *, user_id, settings):
    _checked_view_settings(recordset, settings)
    view = RecordView(
        workspace_id=recordset.workspace_id,
        recordset_id=recordset.id,
        created_by_id=user_id,
        name=settings["name"],
        layout=settings.get("layout") or "grid",
        filters=settings.get("filters"),
        sorts=settings.get("sorts") or [],
        visible_fields=settings.get("visible_fields"),
        group_by=settings.get("group_by"),
        is_default=bool(settings.get("is_default")),
    )
    db.session.add(view)
    db.session.flush()
    if view.is_default:
        _make_default(recordset, view)
    return view


def get_view(recordset, view_id):
    view = get_or_404(RecordView, view_id)
    if view.recordset_id != recordset.id:
        raise NotFound("View not found.")
    return view


def update_view(recordset, view, *, changes):
    _checked_view_settings(recordset, changes)
    for name in ("name", "layout", "filters", "sorts", "visible_fields", "group_by"):
        if name in changes:
            setattr(view, name, changes[name] if name != "sorts" else changes[name] or [])
    if changes.get("is_default"):
        _make_default(recordset, view)
    return view


def _make_default(recordset, view):
    db.session.execute(
        sa.update(RecordView)
        .where(RecordView.recordset_id == recordset.id, RecordView.id != view.id)
        .values(is_default=False)
    )
    view.is_default = True
    recordset.default_view_id = view.id


def delete_view(recordset, view):
    if recordset.default_view_id == view.id:
        recordset.default_view_id = None
    db.session.delete(view)


# --- grants --------------------------------------------------------------------------------------


def list_grants(recordset):
    return db.session.scalars(
        sa.select(RecordsetGrant)
        .where(RecordsetGrant.recordset_id == recordset.id)
        .order_by(RecordsetGrant.created_at)
    ).all()


def grant_access(recordset, *, member_id=None, team_id=None, level, granted_by_id):
    """Grant (or change) a member's or a team's level on the recordset: exactly one of the two."""
    if (member_id is None) == (team_id is None):
        raise ValidationFailed(
            "Give exactly one of member_id or team_id.",
            details=[{"field": "member_id", "message": "exactly one of member_id or team_id"}],
        )
    if member_id is not None:
        member_id = resolve_reference(Member, member_id, field="member_id").id
        match = RecordsetGrant.member_id == member_id
    else:
        team_id = resolve_reference(Team, team_id, field="team_id").id
        match = RecordsetGrant.team_id == team_id
    grant = db.session.scalar(
        sa.select(RecordsetGrant).where(RecordsetGrant.recordset_id == recordset.id, match)
    )
    if grant is not None:
        if grant.level == level:
            raise Conflict("This access is already granted.")
        grant.level = level
        return grant
    grant = RecordsetGrant(
        workspace_id=recordset.workspace_id,
        recordset_id=recordset.id,
        member_id=member_id,
        team_id=team_id,
        level=level,
        granted_by_id=granted_by_id,
    )
    db.session.add(grant)
    db.session.flush()
    return grant


def revoke(recordset, *, member_id=None, team_id=None):
    column, value = (
        (RecordsetGrant.member_id, member_id) if member_id is not None else (RecordsetGrant.team_id, team_id)
    )
    value = parse_uuid(value)
    if value is None:
        raise NotFound("Grant not found.")
    grant = db.session.scalar(
        sa.select(RecordsetGrant).where(RecordsetGrant.recordset_id == recordset.id, column == value)
    )
    if grant is None:
        raise NotFound("Grant not found.")
    db.session.delete(grant)
