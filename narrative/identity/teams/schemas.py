"""Payload shapes of the teams endpoints (/api/v1/teams...)."""

import marshmallow as ma

from narrative.identity.members.schemas import member_avatar_url
from narrative.identity.models import TEAM_ROLES
from narrative.platform.pagination import PageArgs
from narrative.platform.schemas import Schema

_COLOR = ma.validate.Length(max=20)


class TeamSchema(Schema):
    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    color = ma.fields.String(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    member_count = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class TeamMemberSchema(Schema):
    """A workspace member in a team; `member_id` is the workspace member's id."""

    member_id = ma.fields.UUID()
    team_id = ma.fields.UUID()
    role = ma.fields.String(metadata={"description": "lead or member"})
    user_id = ma.fields.Function(lambda row: row.member.user_id)
    email = ma.fields.Function(lambda row: row.member.user.email)
    name = ma.fields.Function(lambda row: row.member.user.name)
    avatar_url = ma.fields.Function(lambda row: member_avatar_url(row.member))
    workspace_role = ma.fields.Function(lambda row: row.member.role)
    status = ma.fields.Function(lambda row: row.member.status)
    added_at = ma.fields.DateTime(attribute="created_at")


class TeamDetailSchema(TeamSchema):
    members = ma.fields.List(ma.fields.Nested(TeamMemberSchema))


class TeamQueryArgsSchema(PageArgs):
    search = ma.fields.String(load_default=None, metadata={"description": "Part of the name or description"})


class TeamCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default=None, allow_none=True)
    color = ma.fields.String(load_default=None, allow_none=True, validate=_COLOR)
    lead_member_id = ma.fields.UUID(load_default=None, metadata={"description": "A member to lead the team"})


class TeamUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(allow_none=True)
    color = ma.fields.String(allow_none=True, validate=_COLOR)


class TeamMemberAddSchema(Schema):
    member_id = ma.fields.UUID(required=True)
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(TEAM_ROLES))


class TeamMemberRoleSchema(Schema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(TEAM_ROLES))
