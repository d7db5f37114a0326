"""Payload shapes of the workspaces endpoints (/api/v1/workspaces...)."""

import marshmallow as ma

from narrative.identity.members.schemas import WorkspaceMemberSchema
from narrative.identity.schemas import TokenSchema, UserSchema, WorkspaceBriefSchema
from narrative.platform.pagination import PageArgs
from narrative.platform.schemas import Schema


class WorkspaceSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()
    plan = ma.fields.String()
    settings = ma.fields.Dict()
    logo_file_id = ma.fields.UUID(allow_none=True)
    role = ma.fields.String(allow_none=True, metadata={"description": "Your role in this workspace"})
    member_count = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class WorkspaceCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    settings = ma.fields.Dict(load_default=None)


class WorkspaceCreateArgsSchema(Schema):
    skip_seed = ma.fields.Boolean(
        load_default=True,
        metadata={"description": "Accepted for compatibility: new workspaces never get sample data"},
    )


class WorkspaceUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    settings = ma.fields.Dict(metadata={"description": "Keys to set; a null value removes a key"})


class WorkspaceMemberQueryArgsSchema(PageArgs):
    search = ma.fields.String(load_default=None)
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("invited", "active", "deactivated"))
    )


class SwitchSchema(Schema):
    workspace_id = ma.fields.UUID(required=True)


class SwitchResultSchema(TokenSchema):
    workspace = ma.fields.Nested(WorkspaceBriefSchema)


class InviteSchema(Schema):
    email = ma.fields.String(required=True)
    role = ma.fields.String(load_default="member")
    title = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class InvitationSchema(Schema):
    """A pending invitation: the member record and, for the link variant, the URL."""

    member = ma.fields.Nested(WorkspaceMemberSchema)
    email = ma.fields.String()
    role = ma.fields.String()
    status = ma.fields.String()
    invite_url = ma.fields.String(
        allow_none=True, metadata={"description": "Only for the invite-link variant"}
    )
    email_sent = ma.fields.Boolean()


class InvitationTargetSchema(Schema):
    member_id = ma.fields.UUID(load_default=None)
    user_id = ma.fields.UUID(load_default=None)
    email = ma.fields.String(load_default=None)


class InvitationTokenArgsSchema(Schema):
    token = ma.fields.String(required=True)


class InvitationDetailsSchema(Schema):
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String()
    workspace = ma.fields.Nested(WorkspaceBriefSchema)
    invited_by = ma.fields.String(allow_none=True)
    expires_at = ma.fields.DateTime()
    needs_password = ma.fields.Boolean(metadata={"description": "True when the account has no password yet"})
    user_exists = ma.fields.Boolean(metadata={"description": "True when the person already has an account"})


class AcceptInvitationSchema(Schema):
    token = ma.fields.String(required=True)
    password = ma.fields.String(
        load_default=None,
        load_only=True,
        metadata={"description": "Required: a new password for a new account, the current one otherwise"},
    )
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class AcceptResultSchema(TokenSchema):
    user = ma.fields.Nested(UserSchema)
    member = ma.fields.Nested(WorkspaceMemberSchema)
    workspace = ma.fields.Nested(WorkspaceBriefSchema)


class ProvisionSchema(Schema):
    email = ma.fields.String(required=True)
    workspace_name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class ProvisionResultSchema(Schema):
    workspace = ma.fields.Nested(WorkspaceSchema)
    owner = ma.fields.Nested(UserSchema)
    user_created = ma.fields.Boolean()
    activation_email_sent = ma.fields.Boolean()


class ResetLinkSchema(Schema):
    ok = ma.fields.Boolean()
    message = ma.fields.String()
    reset_url = ma.fields.String(allow_none=True)
    expires_in = ma.fields.Integer()
