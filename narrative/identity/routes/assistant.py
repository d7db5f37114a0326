"""Organisation assistant family: auth & sessions (/auth/*), users (/api/users), the organisation
and its groups (/api/organisation). The organisation is the caller's workspace; groups are teams.

Lists paginate with `page` / `page_size`.
"""

import dataclasses
from datetime import timedelta

from narrative.extensions import db
from narrative.identity import assistant_service as service
from narrative.identity import auth_service, profile_service
from narrative.identity.access import (
    current_caller,
    current_member,
    current_permissions,
    current_user,
    current_workspace,
    require,
)
from narrative.identity.assistant_schemas import (
    AdminLoginSchema,
    AssistantInvitationSchema,
    AssistantPermissionsSchema,
    AssistantSessionSchema,
    AssistantSignupResultSchema,
    AssistantSignupSchema,
    CurrentUserSchema,
    GroupCreateSchema,
    GroupMemberAddSchema,
    GroupSchema,
    GroupsQueryArgsSchema,
    GroupUpdateSchema,
    OkSchema,
    OrganisationSchema,
    OrganisationUpdateSchema,
    OrgUserSchema,
    OrgUserUpdateSchema,
    PendingSignupSchema,
    PublicOrganisationSchema,
    SessionTokenSchema,
    SetupSchema,
    SetupStatusSchema,
    SignupSettingsSchema,
    UpdateProfileSchema,
    UserInviteSchema,
    UsersQueryArgsSchema,
    WaitlistDecisionSchema,
    WaitlistEntrySchema,
)
from narrative.identity.models import Member, Team, Workspace
from narrative.identity.schemas import UserView
from narrative.identity.teams import service as teams_service
from narrative.identity.workspaces import service as workspaces_service
from narrative.licensing import service as licensing
from narrative.platform.api import Blueprint
from narrative.platform.caller import USER
from narrative.platform.errors import Forbidden
from narrative.platform.models import utcnow
from narrative.platform.pagination import Page, PageArgs, page_schema, paginate
from narrative.platform.ratelimit import by_ip, rate_limit

blp = Blueprint(
    "assistant_identity",
    __name__,
    description="Organisation assistant: setup, sessions, signup and waitlist, users, organisation and groups",
)

LOGIN_LIMIT = "5/minute"
WAITLIST_MESSAGE = "Thanks! An administrator will review your request; we will email you when it is approved."


def _brief(workspace, role=None):
    if workspace is None:
        return None
    return {
        "id": workspace.id,
        "name": workspace.name,
        "slug": workspace.slug,
        "plan": workspace.plan,
        "role": role,
    }


def _session(user, pair, workspace=None):
    if workspace is None and pair.workspace_id is not None:
        workspace = db.session.get(Workspace, pair.workspace_id)
    return {**dataclasses.asdict(pair), "user": user, "organization": _brief(workspace, pair.role)}


# --- setup and sign-in ----------------------------------------------------------------------------


@blp.route("/auth/setup-status")
@blp.operation("assistant.auth.setup-status")
@require(public=True)
@blp.response(200, SetupStatusSchema)
def setup_status():
    """Whether the installation is set up, which OAuth providers are configured, available locales"""
    return service.setup_status()


@blp.route("/auth/setup", methods=["POST"])
@blp.operation("assistant.auth.setup")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="signup")
@blp.arguments(SetupSchema)
@blp.response(201, AssistantSessionSchema)
def setup(payload):
    """First-time setup (one-shot): the first administrator and organisation; 409 once done"""
    user, workspace, pair = service.run_setup(**payload)
    return _session(user, pair, workspace)


@blp.route("/auth/admin-login", methods=["POST"])
@blp.operation("assistant.auth.admin-login")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="login")
@blp.arguments(AdminLoginSchema)
@blp.response(200, AssistantSessionSchema)
def admin_login(payload):
    """Username/password sign-in for platform administrators (5 per minute per address)"""
    user, pair = service.admin_login(username=payload["username"], password=payload["password"])
    return _session(user, pair)


@blp.route("/auth/signup", methods=["POST"])
@blp.operation("assistant.auth.signup")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="signup")
@blp.arguments(AssistantSignupSchema)
@blp.response(201, AssistantSignupResultSchema)
@blp.alt_response(202, schema=AssistantSignupResultSchema, description="Added to the waitlist")
def signup(payload):
    """Register as the organisation's signup settings allow (open, invite-only or waitlist)"""
    outcome = service.signup(**payload)
    return _signup_result(outcome)


@blp.route("/auth/pending-signup", methods=["POST"])
@blp.operation("assistant.auth.pending-signup")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="signup")
@blp.arguments(PendingSignupSchema)
@blp.response(202, AssistantSignupResultSchema)
def pending_signup(payload):
    """Ask to join an organisation whose signup is a waitlist"""
    return _signup_result(service.join_waitlist(**payload))


def _signup_result(outcome):
    body = {
        "status": outcome.status,
        "user": outcome.user,
        "organization": _brief(outcome.workspace, outcome.member.role),
    }
    if outcome.pair is None:
        return {**body, "message": WAITLIST_MESSAGE}, 202
    return {**body, **dataclasses.asdict(outcome.pair), "message": "Welcome aboard."}, 201


@blp.route("/auth/invite/<token>")
@blp.operation("assistant.auth.invite-resolve")
@require(public=True)
@blp.response(200, AssistantInvitationSchema)
def resolve_invite(token):
    """What an invitation link is for (organisation, role, whether a password is needed)"""
    return workspaces_service.invitation_details(token=token)


@blp.route("/auth/logout", methods=["POST"])
@blp.operation("assistant.auth.logout")
@require()
@blp.response(200, OkSchema)
def logout():
    """End this session: its access and refresh tokens stop working"""
    auth_service.logout(caller=current_caller())
    return {"ok": True, "message": "Logged out."}


@blp.route("/auth/user")
@blp.operation("assistant.auth.user")
@require()
@blp.response(200, CurrentUserSchema)
def current_user_record():
    """The signed-in user, their role and organisation"""
    member = current_member()
    return _current_user_view(current_user(), member)


def _current_user_view(user, member):
    workspace = current_workspace()
    role = member.role if member else None
    return UserView(user, role=role, organization=_brief(workspace, role) if member else None)


@blp.route("/auth/my-permissions")
@blp.operation("assistant.auth.my-permissions")
@require()
@blp.response(200, AssistantPermissionsSchema)
def my_permissions():
    """Your permissions in the organisation, your groups and organisations, beta features, licence"""
    user = current_user()
    member = current_member()
    workspace = current_workspace() if member else None
    workspace_id = workspace.id if workspace else None
    entitlements = licensing.entitlements(workspace_id)
    return {
        "user_id": user.id,
        "organization_id": workspace_id,
        "role": member.role if member else None,
        "is_platform_admin": user.is_platform_admin,
        "permissions": sorted(current_permissions()),
        "groups": service.my_groups(user_id=user.id, workspace_id=workspace_id),
        "organizations": service.my_organisations(user.id),
        "beta_features": list((workspace.settings or {}).get("beta_features") or []) if workspace else [],
        "tier": entitlements["tier"],
        "features": entitlements["features"],
    }


@blp.route("/auth/update-profile", methods=["POST"])
@blp.operation("assistant.auth.update-profile")
@require()
@blp.arguments(UpdateProfileSchema)
@blp.response(200, CurrentUserSchema)
def update_profile(payload):
    """Update your name, avatar (image URL) and language"""
    user = current_user()
    renames = {"name": "name", "avatar": "avatar_url", "language": "locale"}
    profile_service.update_profile(user=user, changes={renames[k]: v for k, v in payload.items()})
    return _current_user_view(user, current_member())


@blp.route("/api/session-token", methods=["POST"])
@blp.operation("assistant.auth.session-token")
@require()
@blp.response(200, SessionTokenSchema)
def session_token():
    """A single-use, 60-second token the sign-in popup hands to the embedded iframe"""
    caller = current_caller()
    if caller.kind != USER:
        # A narrowly scoped key must not turn itself into its owner's full session.
        raise Forbidden("Session tokens are issued to signed-in users, not to API keys.")
    raw, row = service.issue_session_token(user=current_user(), workspace_id=caller.workspace_id)
    return {
        "session_token": raw,
        "expires_in": service.SESSION_TOKEN_SECONDS,
        "expires_at": row.expires_at or utcnow() + timedelta(seconds=service.SESSION_TOKEN_SECONDS),
    }


@blp.route("/auth/organizations/public")
@blp.operation("assistant.auth.organizations-public")
@require(public=True)
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(PublicOrganisationSchema, "page"))
def public_organisations(args):
    """Organisations that chose to be listed (for the embedded chat's picker)"""
    return paginate(service.public_organisations_query(), args, style="page", order_by=(Workspace.name,))


# --- signup settings and the waitlist (admins) ----------------------------------------------------


@blp.route("/auth/admin/signup-settings")
@blp.operation("assistant.auth.signup-settings-get")
@require("members.manage")
@blp.response(200, SignupSettingsSchema)
def get_signup_settings():
    """Who may sign up to this organisation, and how"""
    return service.signup_settings(current_workspace())


@blp.route("/auth/admin/signup-settings", methods=["PUT"])
@blp.operation("assistant.auth.signup-settings-update")
@require("members.manage")
@blp.arguments(SignupSettingsSchema)
@blp.response(200, SignupSettingsSchema)
def update_signup_settings(payload):
    """Enable or disable sign-up, choose open / invite-only / waitlist, the role and email domains"""
    return service.update_signup_settings(workspace=current_workspace(), changes=payload)


@blp.route("/auth/admin/waitlist")
@blp.operation("assistant.auth.waitlist-list")
@require("members.invite")
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(WaitlistEntrySchema, "page"))
def waitlist(args):
    """Pending sign-up requests, oldest first"""
    return paginate(service.waitlist_query(), args, style="page", order_by=(Member.created_at,))


@blp.route("/auth/admin/waitlist/<user_id>/approve", methods=["POST"])
@blp.operation("assistant.auth.waitlist-approve")
@require("members.invite")
@blp.response(200, WaitlistDecisionSchema)
def approve_waitlist_entry(user_id):
    """Let a waiting user in (an activation email goes out when they chose no password)"""
    member = service.approve_waitlist_entry(user_id=user_id, actor=current_user())
    return {"ok": True, "user_id": member.user_id, "status": member.status}


@blp.route("/auth/admin/waitlist/<user_id>/reject", methods=["POST"])
@blp.operation("assistant.auth.waitlist-reject")
@require("members.invite")
@blp.response(200, WaitlistDecisionSchema)
def reject_waitlist_entry(user_id):
    """Turn a sign-up request down"""
    service.reject_waitlist_entry(user_id=user_id)
    return {"ok": True, "user_id": user_id, "status": "rejected"}


# --- users of the organisation ------------------------------------------------------------------


@blp.route("/api/users")
@blp.operation("assistant.users.list")
@require("members.manage")
@blp.arguments(UsersQueryArgsSchema, location="query")
@blp.response(200, page_schema(OrgUserSchema, "page"))
def list_users(args):
    """The organisation's users (filter by search, status, role)"""
    query = service.users_query(
        search=args["search"],
        status=args["status"],
        role=args["role"],
        include_deleted=args["include_deleted"],
    )
    return paginate(query, args, style="page", order_by=service.members_service.member_order())


@blp.route("/api/users", methods=["POST"])
@blp.operation("assistant.users.invite")
@require("members.invite")
@blp.arguments(UserInviteSchema)
@blp.response(201, OrgUserSchema)
def invite_user(payload):
    """Invite someone by email; the invitation link goes out by email"""
    return service.invite_user(workspace=current_workspace(), actor_member=current_member(), **payload)


@blp.route("/api/users/<id>", methods=["PATCH"])
@blp.operation("assistant.users.update")
@require("members.manage")
@blp.arguments(OrgUserUpdateSchema)
@blp.response(200, OrgUserSchema)
def update_user(payload, id):
    """Change a user's role or status (active / deactivated)"""
    member = service.member_for_user(id)
    return service.update_user(actor_member=current_member(), member=member, changes=payload)


@blp.route("/api/users/<id>", methods=["DELETE"])
@blp.operation("assistant.users.delete")
@require("members.manage")
@blp.response(200, OkSchema)
def delete_user(id):
    """Remove a user from the organisation (soft: the membership is deactivated and kept)"""
    member = service.member_for_user(id)
    result = service.deactivate_user(actor_member=current_member(), member=member)
    message = "The invitation was canceled." if result is None else "The user was deactivated."
    return {"ok": True, "message": message}


# --- the organisation and its groups -----------------------------------------------------------


@blp.route("/api/organisation")
@blp.operation("assistant.organisation.get")
@require("workspace.read")
@blp.response(200, OrganisationSchema)
def get_organisation():
    """Your organisation's settings"""
    return service.organisation_view(current_workspace())


@blp.route("/api/organisation", methods=["PATCH"])
@blp.operation("assistant.organisation.update")
@require("workspace.manage")
@blp.arguments(OrganisationUpdateSchema)
@blp.response(200, OrganisationSchema)
def update_organisation(payload):
    """Rename, list publicly, default language, beta features, other settings (merged)"""
    workspace = service.update_organisation(workspace=current_workspace(), changes=payload)
    return service.organisation_view(workspace)


@blp.route("/api/organisation/groups")
@blp.operation("assistant.organisation.groups-list")
@require("teams.read")
@blp.arguments(GroupsQueryArgsSchema, location="query")
@blp.response(200, page_schema(GroupSchema, "page"))
def list_groups(args):
    """The organisation's groups with their members"""
    page = paginate(
        teams_service.teams_query(search=args["search"]), args, style="page", order_by=(Team.name,)
    )
    return Page(service.group_views(page.items), page.meta)


def _group(team):
    return service.group_views([team])[0]


@blp.route("/api/organisation/groups", methods=["POST"])
@blp.operation("assistant.organisation.groups-create")
@require("teams.manage")
@blp.arguments(GroupCreateSchema)
@blp.response(201, GroupSchema)
def create_group(payload):
    """Create a group"""
    team = teams_service.create_team(workspace_id=current_workspace().id, actor=current_user(), **payload)
    return _group(team)


@blp.route("/api/organisation/groups/<id>", methods=["PATCH"])
@blp.operation("assistant.organisation.groups-update")
@require("teams.manage")
@blp.arguments(GroupUpdateSchema)
@blp.response(200, GroupSchema)
def update_group(payload, id):
    """Rename a group or change its description or colour"""
    team = teams_service.update_team(team=teams_service.get_team(id), actor=current_user(), changes=payload)
    return _group(team)


@blp.route("/api/organisation/groups/<id>", methods=["DELETE"])
@blp.operation("assistant.organisation.groups-delete")
@require("teams.manage")
@blp.response(200, OkSchema)
def delete_group(id):
    """Delete a group (its members stay in the organisation)"""
    teams_service.delete_team(team=teams_service.get_team(id), actor=current_user())
    return {"ok": True, "message": "The group was deleted."}


@blp.route("/api/organisation/groups/<id>/members", methods=["POST"])
@blp.operation("assistant.organisation.group-members-add")
@require("teams.manage")
@blp.arguments(GroupMemberAddSchema)
@blp.response(201, GroupSchema)
def add_group_member(payload, id):
    """Add a user of the organisation to a group (role lead or member)"""
    team = teams_service.get_team(id)
    member = service.active_member_for_user(payload["user_id"], field="user_id")
    teams_service.add_member(team=team, member_id=member.id, role=payload["role"], actor=current_user())
    return _group(team)


@blp.route("/api/organisation/groups/<id>/members/<user_id>", methods=["DELETE"])
@blp.operation("assistant.organisation.group-members-remove")
@require("teams.manage")
@blp.response(200, GroupSchema)
def remove_group_member(id, user_id):
    """Take a user out of a group"""
    team = teams_service.get_team(id)
    member = service.active_member_for_user(user_id)
    row = teams_service.find_membership(team=team, member_id=member.id)
    teams_service.remove_member(row=row, actor=current_user())
    return _group(team)
