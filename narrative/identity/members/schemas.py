"""Payload shapes of the members endpoints (/api/v1/members...)."""

import marshmallow as ma

from narrative.extensions import db
from narrative.identity.models import MEMBER_STATUSES
from narrative.identity.schemas import avatar_link
from narrative.platform.pagination import DEFAULT_LIMIT, MAX_LIMIT
from narrative.platform.schemas import Schema
from narrative.platform.storage import StoredFile, signed_download_url
from narrative.platform.tenancy import workspace_scope

AVATAR_LINK_SECONDS = 86400


def member_avatar_url(member):
    """The member's picture in this workspace, else the account's own."""
    if member.avatar_file_id is not None:
        # Stored in the member's workspace, which a public answer (an accepted invitation) lacks.
        with workspace_scope(member.workspace_id):
            stored = db.session.get(StoredFile, member.avatar_file_id)
        if stored is not None:
            return signed_download_url(stored, expires_in=AVATAR_LINK_SECONDS)
    return avatar_link(member.user)


def _display_name(member):
    user = member.user
    return user.name or user.email.split("@")[0]


class WorkspaceMemberSchema(Schema):
    """A member of the workspace with the person's details."""

    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    user_id = ma.fields.UUID()
    email = ma.fields.Function(lambda m: m.user.email)
    name = ma.fields.Function(lambda m: m.user.name)
    full_name = ma.fields.Function(lambda m: m.user.name)
    display_name = ma.fields.Function(_display_name)
    avatar_url = ma.fields.Function(member_avatar_url)
    role = ma.fields.String()
    status = ma.fields.String(metadata={"description": "invited, active or deactivated"})
    is_active = ma.fields.Boolean()
    title = ma.fields.String(allow_none=True)
    invited_by_id = ma.fields.UUID(allow_none=True)
    joined_at = ma.fields.DateTime(allow_none=True)
    removed_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class MemberDetailSchema(WorkspaceMemberSchema):
    """The caller's own member record: profile, onboarding tours and permissions."""

    phone = ma.fields.Function(lambda m: m.user.phone)
    bio = ma.fields.Function(lambda m: m.user.bio)
    locale = ma.fields.Function(lambda m: m.user.locale)
    timezone = ma.fields.Function(lambda m: m.user.timezone)
    tours = ma.fields.Dict()
    onboarding_completed = ma.fields.Function(
        lambda m: bool(m.tours) and all(t.get("completed") or t.get("skipped") for t in m.tours.values())
    )
    permissions = ma.fields.List(ma.fields.String())


class MemberBriefSchema(Schema):
    """Minimal fields for pickers and @mentions (GET /members/all)."""

    id = ma.fields.UUID()
    user_id = ma.fields.UUID()
    email = ma.fields.Function(lambda m: m.user.email)
    full_name = ma.fields.Function(lambda m: m.user.name)
    display_name = ma.fields.Function(_display_name)
    avatar_url = ma.fields.Function(member_avatar_url)
    role = ma.fields.String()


class MemberQueryArgsSchema(Schema):
    """Filters, and either skip/limit (the catalog's) or page/page_size (the core default)."""

    search = ma.fields.String(load_default=None, metadata={"description": "Part of the name, email or title"})
    is_active = ma.fields.Boolean(load_default=None)
    status = ma.fields.String(load_default=None, validate=ma.validate.OneOf(MEMBER_STATUSES))
    role = ma.fields.String(load_default=None)
    include_removed = ma.fields.Boolean(load_default=False)
    skip = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=0))
    limit = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_LIMIT))
    page = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    page_size = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1, max=MAX_LIMIT))


class MemberPageSchema(Schema):
    """A page of members: `total` and `has_more`, plus skip/limit or page/page_size as asked."""

    items = ma.fields.List(ma.fields.Nested(WorkspaceMemberSchema))
    total = ma.fields.Integer()
    has_more = ma.fields.Boolean()
    skip = ma.fields.Integer()
    limit = ma.fields.Integer(metadata={"description": f"Default {DEFAULT_LIMIT}, at most {MAX_LIMIT}"})
    page = ma.fields.Integer()
    page_size = ma.fields.Integer()
    pages = ma.fields.Integer()


class MemberCreateSchema(Schema):
    email = ma.fields.String(required=True)
    role = ma.fields.String(load_default="member")
    title = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class MemberUpdateSchema(Schema):
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    role = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "deactivated")))


class TourUpdateSchema(Schema):
    tour_id = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    completed = ma.fields.Boolean(load_default=True)
    skipped = ma.fields.Boolean(load_default=False)
    step = ma.fields.Integer(load_default=None, allow_none=True)


class TourResetSchema(Schema):
    tour_id = ma.fields.String(load_default=None, allow_none=True)


class ToursSchema(Schema):
    tours = ma.fields.Dict(metadata={"description": "tour id -> {completed, skipped, step, updated_at}"})


class DeletionInfoSchema(Schema):
    member_id = ma.fields.UUID()
    user_id = ma.fields.UUID()
    workspace_count = ma.fields.Integer(metadata={"description": "Workspaces this person belongs to"})
    can_delete_user = ma.fields.Boolean(
        metadata={"description": "Only in this workspace, owning nothing, and not its last owner"}
    )
    only_in_this_workspace = ma.fields.Boolean()
    owned_items_count = ma.fields.Integer()
    must_reassign = ma.fields.Boolean()
    is_last_owner = ma.fields.Boolean()


class OwnedItemSchema(Schema):
    kind = ma.fields.String()
    description = ma.fields.String()
    count = ma.fields.Integer()


class OwnedItemsSchema(Schema):
    member_id = ma.fields.UUID()
    total = ma.fields.Integer()
    items = ma.fields.List(ma.fields.Nested(OwnedItemSchema))


class ReassignSchema(Schema):
    to_member_id = ma.fields.UUID(required=True)
    kinds = ma.fields.List(
        ma.fields.String(), load_default=None, metadata={"description": "Only these kinds (default: all)"}
    )


class ReassignResultSchema(Schema):
    member_id = ma.fields.UUID()
    to_member_id = ma.fields.UUID()
    moved = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
