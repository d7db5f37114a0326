"""Members of the request's workspace (/api/v1/members...): list, profile, tours, offboarding."""

from narrative.identity.access import current_member, current_permissions, require
from narrative.identity.members import ownership, service
from narrative.identity.members.schemas import (
    DeletionInfoSchema,
    MemberBriefSchema,
    MemberCreateSchema,
    MemberDetailSchema,
    MemberPageSchema,
    MemberQueryArgsSchema,
    MemberUpdateSchema,
    OwnedItemsSchema,
    ReassignResultSchema,
    ReassignSchema,
    TourResetSchema,
    ToursSchema,
    TourUpdateSchema,
    WorkspaceMemberSchema,
)
from narrative.identity.schemas import AvatarUploadSchema
from narrative.platform.api import Blueprint
from narrative.platform.pagination import paginate

blp = Blueprint("members", __name__, description="Members of the workspace: profiles, tours, offboarding")


def _me_view(member):
    member.permissions = sorted(current_permissions())
    return member


@blp.route("/api/v1/members")
@blp.operation("core.members.list")
@require("members.read")
@blp.arguments(MemberQueryArgsSchema, location="query")
@blp.response(200, MemberPageSchema)
def list_members(args):
    """List the workspace's members (search by name or email; skip/limit or page/page_size)"""
    query = service.members_query(
        search=args["search"],
        status=args["status"],
        is_active=args["is_active"],
        role=args["role"],
        include_removed=args["include_removed"],
    )
    paged_by_skip = (
        args["page"] is None
        and args["page_size"] is None
        and (args["skip"] is not None or args["limit"] is not None)
    )
    if paged_by_skip:
        return paginate(query, args, style="skip", order_by=service.member_order())
    return paginate(query, args, style="page", order_by=service.member_order())


@blp.route("/api/v1/members/all")
@blp.operation("core.members.list-all")
@require("members.read")
@blp.response(200, MemberBriefSchema(many=True))
def list_all_members():
    """Every active member with minimal fields, unpaginated (pickers, @mentions, assignment)"""
    return service.active_directory()


@blp.route("/api/v1/members", methods=["POST"])
@blp.operation("core.members.create")
@require("members.invite")
@blp.arguments(MemberCreateSchema)
@blp.response(201, WorkspaceMemberSchema)
def create_member(payload):
    """Add someone to the workspace: an existing account joins at once, a new one is emailed an activation link"""
    member = service.add_directly(actor_member=current_member(), **payload)
    return member


@blp.route("/api/v1/members/me")
@blp.operation("core.members.me")
@require()
@blp.response(200, MemberDetailSchema)
def get_me():
    """Your member record in this workspace: role, profile, onboarding tours and permissions"""
    return _me_view(service.caller_member())


@blp.route("/api/v1/members/me/tours")
@blp.operation("core.members.get-tours")
@require()
@blp.response(200, ToursSchema)
def get_tours():
    """Your onboarding tours: tour id -> completion status"""
    return {"tours": service.caller_member().tours or {}}


@blp.route("/api/v1/members/me/tours", methods=["POST"])
@blp.operation("core.members.update-tour")
@require()
@blp.arguments(TourUpdateSchema)
@blp.response(200, ToursSchema)
def update_tour(payload):
    """Record that you completed (or skipped) a tour"""
    tours = service.set_tour(member=service.caller_member(), **payload)
    return {"tours": tours}


@blp.route("/api/v1/members/me/tours", methods=["DELETE"])
@blp.operation("core.members.reset-tours")
@require()
@blp.arguments(TourResetSchema, location="json", required=False)
@blp.response(200, ToursSchema)
def reset_tours(payload):
    """Reset one tour (tour_id) or, without tour_id, all of them"""
    tours = service.reset_tours(member=service.caller_member(), tour_id=(payload or {}).get("tour_id"))
    return {"tours": tours}


@blp.route("/api/v1/members/<member_id>")
@blp.operation("core.members.get")
@require("members.read")
@blp.response(200, WorkspaceMemberSchema)
def get_member(member_id):
    """A member of the workspace"""
    return service.get_member(member_id)


@blp.route("/api/v1/members/<member_id>", methods=["PATCH"])
@blp.operation("core.members.update")
@require()
@blp.arguments(MemberUpdateSchema)
@blp.response(200, WorkspaceMemberSchema)
def update_member(payload, member_id):
    """Update a member: your own title and name, or (members.manage) anyone's role and status"""
    actor = service.caller_member()
    member = service.update_member(actor_member=actor, member=service.get_member(member_id), changes=payload)
    return member


@blp.route("/api/v1/members/<member_id>/avatar", methods=["POST"])
@blp.operation("core.members.upload-avatar")
@require()
@blp.arguments(AvatarUploadSchema, location="files")
@blp.response(200, WorkspaceMemberSchema)
def upload_avatar(files, member_id):
    """Upload a member's picture (yours, or anyone's with members.manage): PNG, JPEG, GIF or WebP, 5 MB"""
    actor = service.caller_member()
    member = service.get_member(member_id)
    service.set_avatar(actor_member=actor, member=member, upload=files["file"])
    return member


@blp.route("/api/v1/members/<member_id>/deletion-info")
@blp.operation("core.members.deletion-info")
@require("members.manage")
@blp.response(200, DeletionInfoSchema)
def deletion_info(member_id):
    """Whether the member's account can be deleted for good, and what blocks it"""
    return service.deletion_info(service.get_member(member_id))


@blp.route("/api/v1/members/<member_id>/owned-items")
@blp.operation("core.members.owned-items")
@require("members.manage")
@blp.response(200, OwnedItemsSchema)
def owned_items(member_id):
    """What the member owns and must be reassigned before they are deleted"""
    member = service.get_member(member_id)
    items = ownership.owned_items(workspace_id=member.workspace_id, member=member)
    return {"member_id": member.id, "total": sum(i["count"] for i in items), "items": items}


@blp.route("/api/v1/members/<member_id>/reassign", methods=["POST"])
@blp.operation("core.members.reassign")
@require("members.manage")
@blp.arguments(ReassignSchema)
@blp.response(200, ReassignResultSchema)
def reassign(payload, member_id):
    """Hand everything the member owns to another active member"""
    member = service.get_member(member_id)
    target, moved = service.reassign(
        actor_member=current_member(),
        member=member,
        to_member_id=payload["to_member_id"],
        kinds=payload["kinds"],
    )
    return {"member_id": member.id, "to_member_id": target.id, "moved": moved}


@blp.route("/api/v1/members/<member_id>", methods=["DELETE"])
@blp.operation("core.members.remove")
@require("members.manage")
@blp.response(204)
def remove_member(member_id):
    """Remove a member (kept as a removed record; a pending invitation is deleted)"""
    service.remove_member(actor_member=current_member(), member=service.get_member(member_id))


@blp.route("/api/v1/members/<member_id>/permanent", methods=["DELETE"])
@blp.operation("core.members.delete-permanently")
@require("members.manage")
@blp.response(204)
def delete_permanently(member_id):
    """Delete a member and their account for good (only in this workspace, after reassignment)"""
    service.delete_permanently(actor_member=current_member(), member=service.get_member(member_id))
