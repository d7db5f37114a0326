"""Tenant scoping: every query for tenant-owned rows goes through these helpers.

The request's workspace is the caller's (`current_caller().workspace_id`: the token's workspace,
the `x-workspace-id` header's after identity's membership check, or an API key's workspace).

    teams = db.session.scalars(tenant_select(Team).order_by(Team.name)).all()
    team = get_in_workspace_or_404(Team, team_id)

Another workspace's object and a malformed id are both 404, so an answer never confirms that an
object exists elsewhere.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.caller import current_caller
from narrative.platform.errors import Forbidden, NotFound, Unauthorized
from narrative.platform.models import parse_uuid


class WorkspaceRequired(Forbidden):
    code = "workspace_required"
    message = "Choose a workspace for this request (x-workspace-id header)."


def current_workspace_id():
    """The request's workspace id; 401 when anonymous, 403 when the caller has no workspace."""
    caller = current_caller()
    if caller is None:
        raise Unauthorized()
    if caller.workspace_id is None:
        raise WorkspaceRequired()
    return caller.workspace_id


def tenant_select(model, *criteria):
    """`select(model)` limited to the request's workspace (plus any extra `criteria`)."""
    return sa.select(model).where(model.workspace_id == current_workspace_id(), *criteria)


def _coerce_id(model, object_id):
    column_type = model.__table__.c.id.type
    if isinstance(column_type, sa.Uuid):
        return parse_uuid(object_id)
    if isinstance(column_type, sa.Integer):
        try:
            return int(object_id)
        except (TypeError, ValueError):
            return None
    return object_id


def get_in_workspace_or_404(model, object_id, *, message=None):
    """The request workspace's `model` row with this id, or 404 (also for malformed ids)."""
    workspace_id = current_workspace_id()
    coerced = _coerce_id(model, object_id)
    row = None
    if coerced is not None:
        row = db.session.scalar(
            sa.select(model).where(model.id == coerced, model.workspace_id == workspace_id)
        )
    if row is None:
        name = getattr(model, "__display_name__", None) or model.__name__
        raise NotFound(message or f"{name} not found.")
    return row
