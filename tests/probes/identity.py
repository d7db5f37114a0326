"""Probe routes for identity's access decorator and the tenancy helpers."""

from flask import request

from narrative.extensions import db
from narrative.identity.access import current_caller, current_member, current_user, require
from narrative.identity.models import Team
from narrative.platform.api import Blueprint
from narrative.platform.tenancy import get_or_404, tenant_select

blp = Blueprint("probe_identity", __name__)


def _describe():
    caller = current_caller()
    member = current_member()
    user = current_user()
    return {
        "kind": caller.kind if caller else None,
        "user_id": str(caller.user_id) if caller and caller.user_id else None,
        "email": user.email if user else None,
        "workspace_id": str(caller.workspace_id) if caller and caller.workspace_id else None,
        "role": member.role if member else None,
    }


@blp.route("/_probe/identity/public")
@require(public=True)
def public_view():
    return _describe()


@blp.route("/_probe/identity/signed-in")
@require()
def signed_in():
    return _describe()


@blp.route("/_probe/identity/invite", methods=["POST"])
@require("members.invite")
def invite():
    # Work the view would do: the test checks it never happens for a refused caller.
    db.session.add(Team(workspace_id=current_caller().workspace_id, name=request.json["name"]))
    return _describe()


@blp.route("/_probe/identity/admin-only")
@require(platform_admin=True)
def admin_only():
    return _describe()


@blp.route("/_probe/identity/teams")
@require("teams.read")
def list_teams():
    return {"names": sorted(team.name for team in db.session.scalars(tenant_select(Team)))}


@blp.route("/_probe/identity/teams/<team_id>")
@require("teams.read")
def get_team(team_id):
    return {"name": get_or_404(Team, team_id).name}
