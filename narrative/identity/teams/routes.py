"""Teams of the request's workspace (/api/v1/teams...) and their members."""

from narrative.extensions import db
from narrative.identity.access import current_user, require
from narrative.identity.models import TeamMember
from narrative.identity.teams import service
from narrative.identity.teams.schemas import (
    TeamCreateSchema,
    TeamDetailSchema,
    TeamMemberAddSchema,
    TeamMemberRoleSchema,
    TeamMemberSchema,
    TeamQueryArgsSchema,
    TeamSchema,
    TeamUpdateSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.pagination import PageArgs, page_schema, paginate
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("teams", __name__, description="Teams and their members (lead or member)")


def _with_count(team):
    team.member_count = service.member_counts([team.id]).get(team.id, 0)
    return team


def _detail(team):
    _with_count(team)
    rows = db.session.scalars(service.team_members_query(team).order_by(*service.team_member_order())).all()
    team.members = rows
    return team


@blp.route("/api/v1/teams")
@blp.operation("core.teams.list")
@require("teams.read")
@blp.arguments(TeamQueryArgsSchema, location="query")
@blp.response(200, page_schema(TeamSchema, "page"))
def list_teams(args):
    """List the workspace's teams (search by name), page by page"""
    page = paginate(
        service.teams_query(search=args["search"]),
        args,
        style="page",
        order_by=(db.func.lower(service.Team.name),),
    )
    counts = service.member_counts([team.id for team in page.items])
    for team in page.items:
        team.member_count = counts.get(team.id, 0)
    return page


@blp.route("/api/v1/teams", methods=["POST"])
@blp.operation("core.teams.create")
@require("teams.manage")
@blp.arguments(TeamCreateSchema)
@blp.response(201, TeamDetailSchema)
def create_team(payload):
    """Create a team (optionally with its lead)"""
    team = service.create_team(workspace_id=current_workspace_id(), actor=current_user(), **payload)
    return _detail(team)


@blp.route("/api/v1/teams/<team_id>")
@blp.operation("core.teams.get")
@require("teams.read")
@blp.response(200, TeamDetailSchema)
def get_team(team_id):
    """A team with its members"""
    return _detail(service.get_team(team_id))


@blp.route("/api/v1/teams/<team_id>", methods=["PATCH"])
@blp.operation("core.teams.update")
@require("teams.manage")
@blp.arguments(TeamUpdateSchema)
@blp.response(200, TeamDetailSchema)
def update_team(payload, team_id):
    """Rename a team or change its description or color"""
    team = service.update_team(team=service.get_team(team_id), actor=current_user(), changes=payload)
    return _detail(team)


@blp.route("/api/v1/teams/<team_id>", methods=["DELETE"])
@blp.operation("core.teams.delete")
@require("teams.manage")
@blp.response(204)
def delete_team(team_id):
    """Delete a team (its members stay in the workspace)"""
    service.delete_team(team=service.get_team(team_id), actor=current_user())


@blp.route("/api/v1/teams/<team_id>/members")
@blp.operation("core.teams.list-members")
@require("teams.read")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(TeamMemberSchema, "page"))
def list_team_members(args, team_id):
    """The team's members, leads first"""
    team = service.get_team(team_id)
    return paginate(
        service.team_members_query(team), args, style="page", order_by=service.team_member_order()
    )


@blp.route("/api/v1/teams/<team_id>/members", methods=["POST"])
@blp.operation("core.teams.add-member")
@require("teams.manage")
@blp.arguments(TeamMemberAddSchema)
@blp.response(201, TeamMemberSchema)
def add_team_member(payload, team_id):
    """Add a workspace member to the team as lead or member"""
    row = service.add_member(team=service.get_team(team_id), actor=current_user(), **payload)
    return row


def _membership(team_id, member_id) -> TeamMember:
    return service.find_membership(team=service.get_team(team_id), member_id=member_id)


@blp.route("/api/v1/teams/<team_id>/members/<member_id>", methods=["PATCH"])
@blp.operation("core.teams.update-member-role")
@require("teams.manage")
@blp.arguments(TeamMemberRoleSchema)
@blp.response(200, TeamMemberSchema)
def update_team_member_role(payload, team_id, member_id):
    """Make a team member lead, or a plain member"""
    row = service.change_member_role(
        row=_membership(team_id, member_id), role=payload["role"], actor=current_user()
    )
    return row


@blp.route("/api/v1/teams/<team_id>/members/<member_id>", methods=["DELETE"])
@blp.operation("core.teams.remove-member")
@require("teams.manage")
@blp.response(204)
def remove_team_member(team_id, member_id):
    """Take a member out of the team"""
    service.remove_member(row=_membership(team_id, member_id), actor=current_user())
