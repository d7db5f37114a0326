"""Workspaces (/api/v1/workspaces...): yours, switching, settings, invitations, admin password help.

Routes with `{workspace_id}` in the path act in that workspace: `in_path_workspace(permission)`
checks the caller's membership there (403 `not_a_member` otherwise, as for the x-workspace-id
header) and the permission in that workspace, before any work.
"""

import dataclasses
from copy import deepcopy
from functools import wraps

from narrative.extensions import db
from narrative.identity.access import (
    check_permission,
    current_member,
    current_user,
    require,
    switch_workspace,
)
from narrative.identity.members import service as members_service
from narrative.identity.members.schemas import WorkspaceMemberSchema
from narrative.identity.models import Member
from narrative.identity.schemas import MessageSchema
from narrative.identity.workspaces import service
from narrative.identity.workspaces.schemas import (
    AcceptInvitationSchema,
    AcceptResultSchema,
    InvitationDetailsSchema,
    InvitationSchema,
    InvitationTargetSchema,
    InvitationTokenArgsSchema,
    InviteSchema,
    ProvisionResultSchema,
    ProvisionSchema,
    ResetLinkSchema,
    SwitchResultSchema,
    SwitchSchema,
    WorkspaceCreateArgsSchema,
    WorkspaceCreateSchema,
    WorkspaceMemberQueryArgsSchema,
    WorkspaceSchema,
    WorkspaceUpdateSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.pagination import PageArgs, page_schema, paginate
from narrative.platform.ratelimit import by_ip, rate_limit
from narrative.platform.tenancy import all_workspaces, workspace_scope

# Accepting may check an existing account's password, so it is limited like a login.
ACCEPT_LIMIT = "10/minute"

blp = Blueprint("workspaces", __name__, description="Workspaces, switching between them, invitations")


def in_path_workspace(permission):
    """Make the path's `workspace_id` the request's workspace, then require `permission` there.

    Goes right below `@require()` (which documents the credential); this adds `x-permission`.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            switch_workspace(kwargs["workspace_id"])
            check_permission(permission)
            return view(*args, **kwargs)

        wrapped._apidoc = deepcopy(getattr(view, "_apidoc", {}))
        wrapped._apidoc.setdefault("manual_doc", {})["x-permission"] = permission
        responses = wrapped._apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(403, []).append("FORBIDDEN")
        wrapped._required_permission = permission
        return wrapped

    return decorator


def _workspace_view(workspace, role):
    workspace.role = role
    # Also for other workspaces than the request's: the list, a new or a provisioned one.
    with workspace_scope(workspace.id):
        workspace.member_count = db.session.scalar(
            db.select(db.func.count(Member.id)).where(Member.status == "active")
        )
    return workspace


def _brief(workspace, role):
    return {
        "id": workspace.id,
        "name": workspace.name,
        "slug": workspace.slug,
        "plan": workspace.plan,
        "role": role,
    }


@blp.route("/api/v1/workspaces")
@blp.operation("core.workspaces.list")
@require()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_schema(WorkspaceSchema, "page"))
def list_workspaces(args):
    """The workspaces you are an active member of, with your role in each"""
    # "My workspaces": the caller's memberships in every workspace, not only the request's.
    with all_workspaces():
        page = paginate(
            service.memberships_query(current_user()),
            args,
            style="page",
            order_by=(db.func.lower(service.Workspace.name),),
        )
    page.items = [_workspace_view(workspace, role) for workspace, role in page.items]
    return page


@blp.route("/api/v1/workspaces", methods=["POST"])
@blp.operation("core.workspaces.create")
@require()
@blp.arguments(WorkspaceCreateArgsSchema, location="query")
@blp.arguments(WorkspaceCreateSchema)
@blp.response(201, WorkspaceSchema)
def create_workspace(_args, payload):
    """Create a workspace you own (empty: no sample data); switch to it for tokens there"""
    workspace = service.new_workspace(user=current_user(), **payload)
    return _workspace_view(workspace, "owner")


@blp.route("/api/v1/workspaces/switch", methods=["POST"])
@blp.operation("core.workspaces.switch")
@require()
@blp.arguments(SwitchSchema)
@blp.response(200, SwitchResultSchema)
def switch(payload):
    """New tokens for another workspace you are a member of"""
    member, pair = service.switch(user=current_user(), workspace_id=payload["workspace_id"])
    return {**dataclasses.asdict(pair), "workspace": _brief(member.workspace, member.role)}


@blp.route("/api/v1/workspaces/provision", methods=["POST"])
@blp.operation("core.workspaces.provision")
@require(platform_admin=True)
@blp.arguments(ProvisionSchema)
@blp.response(200, ProvisionResultSchema)
def provision(payload):
    """Set up a workspace for someone, who becomes its owner (platform administrators)"""
    workspace, owner, created = service.provision(actor=current_user(), **payload)
    return {
        "workspace": _workspace_view(workspace, "owner"),
        "owner": owner,
        "user_created": created,
        "activation_email_sent": created,
    }


@blp.route("/api/v1/workspaces/invitations/details")
@blp.operation("core.workspaces.get-invitation")
@require(public=True)
@blp.arguments(InvitationTokenArgsSchema, location="query")
@blp.response(200, InvitationDetailsSchema)
def invitation_details(args):
    """What an invitation is for, and whether a password must be chosen (does not accept it)"""
    return service.invitation_details(token=args["token"])


@blp.route("/api/v1/workspaces/invitations/accept", methods=["POST"])
@blp.operation("core.workspaces.accept-invitation")
@require(public=True)
@rate_limit(ACCEPT_LIMIT, key=by_ip, scope="invitation-accept")
@blp.arguments(AcceptInvitationSchema)
@blp.response(200, AcceptResultSchema)
def accept_invitation(payload):
    """Accept an invitation with the emailed token; a new account chooses its password"""
    user, member, workspace, pair = service.accept(**payload)
    return {
        **dataclasses.asdict(pair),
        "user": user,
        "member": member,
        "workspace": _brief(workspace, member.role),
    }


@blp.route("/api/v1/workspaces/invitations/cancel", methods=["POST"])
@blp.operation("core.workspaces.cancel-invitation")
@require("members.invite")
@blp.arguments(InvitationTargetSchema)
@blp.response(200, MessageSchema)
def cancel_invitation(payload):
    """Cancel a pending invitation of this workspace (by member_id, user_id or email)"""
    actor = current_member()
    member = service.find_invited_member(**payload)
    service.cancel(actor_member=actor, member=member)
    return {"ok": True, "message": "The invitation has been canceled."}


@blp.route("/api/v1/workspaces/<workspace_id>")
@blp.operation("core.workspaces.get")
@require()
@in_path_workspace("workspace.read")
@blp.response(200, WorkspaceSchema)
def get_workspace(workspace_id):
    """A workspace you belong to"""
    member = current_member()
    return _workspace_view(member.workspace, member.role)


@blp.route("/api/v1/workspaces/<workspace_id>", methods=["PATCH"])
@blp.operation("core.workspaces.update")
@require()
@in_path_workspace("workspace.manage")
@blp.arguments(WorkspaceUpdateSchema)
@blp.response(200, WorkspaceSchema)
def update_workspace(payload, workspace_id):
    """Rename a workspace or change its settings (owners and admins)"""
    member = current_member()
    workspace = service.update_workspace(workspace=member.workspace, actor=current_user(), changes=payload)
    return _workspace_view(workspace, member.role)


@blp.route("/api/v1/workspaces/<workspace_id>/members")
@blp.operation("core.workspaces.list-members")
@require()
@in_path_workspace("members.read")
@blp.arguments(WorkspaceMemberQueryArgsSchema, location="query")
@blp.response(200, page_schema(WorkspaceMemberSchema, "page"))
def list_workspace_members(args, workspace_id):
    """Active members and pending invitations, with each one's status"""
    query = members_service.members_query(search=args["search"], status=args["status"])
    return paginate(query, args, style="page", order_by=members_service.member_order())


@blp.route("/api/v1/workspaces/<workspace_id>/members/<member_id>", methods=["DELETE"])
@blp.operation("core.workspaces.remove-member")
@require()
@in_path_workspace("members.manage")
@blp.response(200, MessageSchema)
def remove_workspace_member(workspace_id, member_id):
    """Remove someone: a pending invitation is deleted, a member is kept as a removed record"""
    removed = service.remove_from_workspace(actor_member=current_member(), member_id=member_id)
    text = "The member has been removed." if removed is not None else "The invitation has been deleted."
    return {"ok": True, "message": text}


def _invite(workspace_id, payload, *, send):
    actor = current_member()
    member, url = service.invite(workspace=actor.workspace, actor_member=actor, send=send, **payload)
    return {
        "member": member,
        "email": member.user.email,
        "role": member.role,
        "status": member.status,
        "invite_url": None if send else url,
        "email_sent": send,
    }


@blp.route("/api/v1/workspaces/<workspace_id>/invitations", methods=["POST"])
@blp.operation("core.workspaces.invite")
@require()
@in_path_workspace("members.invite")
@blp.arguments(InviteSchema)
@blp.response(201, InvitationSchema)
def invite(payload, workspace_id):
    """Invite someone by email: they get a single-use link to join (7 days)"""
    return _invite(workspace_id, payload, send=True)


@blp.route("/api/v1/workspaces/<workspace_id>/invitations/link", methods=["POST"])
@blp.operation("core.workspaces.invite-link")
@require()
@in_path_workspace("members.invite")
@blp.arguments(InviteSchema)
@blp.response(200, InvitationSchema)
def invite_link(payload, workspace_id):
    """Make an invitation link to share yourself (no email); older links for that person stop working"""
    return _invite(workspace_id, payload, send=False)


@blp.route("/api/v1/workspaces/<workspace_id>/invitations/resend", methods=["POST"])
@blp.operation("core.workspaces.resend-invitation")
@require()
@in_path_workspace("members.invite")
@blp.arguments(InvitationTargetSchema)
@blp.response(200, MessageSchema)
def resend_invitation(payload, workspace_id):
    """Send a pending invitation again with a new link (member_id, user_id or email)"""
    actor = current_member()
    member = service.find_invited_member(**payload)
    service.resend(workspace=actor.workspace, actor_member=actor, member=member)
    return {"ok": True, "message": f"A new invitation has been sent to {member.user.email}."}


@blp.route("/api/v1/workspaces/<workspace_id>/users/<user_id>/password-reset", methods=["POST"])
@blp.operation("core.workspaces.send-password-reset")
@require()
@in_path_workspace("members.manage")
@blp.response(200, ResetLinkSchema)
def send_password_reset(workspace_id, user_id):
    """Email a member a link to choose a new password (1 hour)"""
    actor = current_member()
    member = service.member_by_user(user_id=user_id, actor_member=actor)
    service.email_password_reset(workspace=actor.workspace, member=member, actor=actor.user)
    return {
        "ok": True,
        "message": f"A password reset link has been sent to {member.user.email}.",
        "expires_in": service.EMAILED_RESET_SECONDS,
    }


@blp.route("/api/v1/workspaces/<workspace_id>/users/<user_id>/password-reset-link", methods=["POST"])
@blp.operation("core.workspaces.password-reset-link")
@require()
@in_path_workspace("members.manage")
@blp.response(200, ResetLinkSchema)
def password_reset_link(workspace_id, user_id):
    """A password reset link to pass on yourself (24 hours; no email is sent)"""
    actor = current_member()
    member = service.member_by_user(user_id=user_id, actor_member=actor)
    url = service.password_reset_link(member=member, actor=actor.user)
    return {
        "ok": True,
        "message": "Share this link with the member; it works once.",
        "reset_url": url,
        "expires_in": service.COPIED_RESET_SECONDS,
    }
