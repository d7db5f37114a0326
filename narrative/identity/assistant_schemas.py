"""Payload shapes of the organisation assistant's auth, users and organisation endpoints."""

import marshmallow as ma

from narrative.identity.assistant_service import SIGNUP_MODES, SIGNUP_ROLES
from narrative.identity.models import TEAM_ROLES
from narrative.identity.schemas import SessionSchema, UserSchema, avatar_link
from narrative.platform.pagination import PageArgs
from narrative.platform.schemas import Schema


def _first_present(data, target, aliases):
    """Copy the first alias present onto `target` (clients spell some fields several ways)."""
    if isinstance(data, dict) and target not in data:
        for alias in aliases:
            if alias in data:
                return {**{k: v for k, v in data.items() if k != alias}, target: data[alias]}
    return data


class OrganisationSummarySchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()
    plan = ma.fields.String()


class OrganisationBriefSchema(OrganisationSummarySchema):
    role = ma.fields.String(metadata={"description": "The caller's role there (when signed in)"})


# --- setup and login -----------------------------------------------------------------------------


class SignupSettingsSchema(Schema):
    enabled = ma.fields.Boolean(
        metadata={"description": "Whether anyone may sign up (invitations always work)"}
    )
    mode = ma.fields.String(
        validate=ma.validate.OneOf(SIGNUP_MODES),
        metadata={
            "description": "open: join at once; invite_only: invitation needed; waitlist: admins approve"
        },
    )
    default_role = ma.fields.String(validate=ma.validate.OneOf(SIGNUP_ROLES))
    allowed_email_domains = ma.fields.List(
        ma.fields.String(), metadata={"description": "Only these email domains may sign up (empty: any)"}
    )


class SetupStatusSchema(Schema):
    bootstrapped = ma.fields.Boolean(metadata={"description": "An administrator exists: setup is done"})
    setup_required = ma.fields.Boolean()
    completed_at = ma.fields.String(allow_none=True)
    oauth_providers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Boolean(),
        metadata={"description": "Provider -> configured"},
    )
    locales = ma.fields.List(ma.fields.String())
    organization = ma.fields.Nested(OrganisationSummarySchema, allow_none=True)
    signup = ma.fields.Nested(SignupSettingsSchema, allow_none=True)


class SetupSchema(Schema):
    email = ma.fields.String(
        required=True, metadata={"description": "The administrator's email (or username)"}
    )
    password = ma.fields.String(required=True, load_only=True)
    name = ma.fields.String(load_default=None)
    organization_name = ma.fields.String(load_default=None)

    @ma.pre_load
    def accept_aliases(self, data, **kwargs):
        data = _first_present(data, "email", ("username",))
        return _first_present(data, "organization_name", ("organisation_name", "org_name", "organization"))


class AssistantSessionSchema(SessionSchema):
    organization = ma.fields.Nested(OrganisationBriefSchema, allow_none=True)


class AdminLoginSchema(Schema):
    username = ma.fields.String(required=True, metadata={"description": "The administrator's email"})
    password = ma.fields.String(required=True, load_only=True)

    @ma.pre_load
    def accept_email(self, data, **kwargs):
        return _first_present(data, "username", ("email",))


# --- signup and the waitlist --------------------------------------------------------------------


class _OrganisationChoice(Schema):
    organization = ma.fields.String(
        load_default=None,
        metadata={"description": "Organisation id or slug (default: the installation's organisation)"},
    )

    @ma.pre_load
    def accept_aliases(self, data, **kwargs):
        return _first_present(data, "organization", ("organization_id", "organisation", "organisation_id"))


class AssistantSignupSchema(_OrganisationChoice):
    email = ma.fields.String(load_default=None)
    password = ma.fields.String(load_default=None, load_only=True)
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    invite_token = ma.fields.String(
        load_default=None, metadata={"description": "An invitation token: accepted whatever the signup mode"}
    )

    @ma.pre_load
    def accept_token_alias(self, data, **kwargs):
        return _first_present(super().accept_aliases(data), "invite_token", ("token", "invitation_token"))

    @ma.validates_schema
    def email_unless_invited(self, data, **kwargs):
        if not data.get("invite_token") and not data.get("email"):
            raise ma.ValidationError("Enter your email address.", field_name="email")


class PendingSignupSchema(_OrganisationChoice):
    email = ma.fields.String(required=True)
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))
    password = ma.fields.String(
        load_default=None,
        load_only=True,
        metadata={"description": "Optional: without one, approval emails an activation link"},
    )


class AssistantSignupResultSchema(Schema):
    status = ma.fields.String(metadata={"description": "active (signed in) or pending (on the waitlist)"})
    message = ma.fields.String()
    user = ma.fields.Nested(UserSchema)
    organization = ma.fields.Nested(OrganisationBriefSchema)
    access_token = ma.fields.String(allow_none=True)
    refresh_token = ma.fields.String(allow_none=True)
    token_type = ma.fields.String(allow_none=True)
    expires_in = ma.fields.Integer(allow_none=True)


class AssistantInvitationSchema(Schema):
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String()
    organization = ma.fields.Nested(OrganisationSummarySchema, attribute="workspace")
    invited_by = ma.fields.String(allow_none=True)
    expires_at = ma.fields.DateTime()
    needs_password = ma.fields.Boolean(metadata={"description": "The account has no password yet"})
    user_exists = ma.fields.Boolean()


class WaitlistEntrySchema(Schema):
    user_id = ma.fields.UUID()
    email = ma.fields.String(attribute="user.email")
    name = ma.fields.String(attribute="user.name", allow_none=True)
    role = ma.fields.String(metadata={"description": "The role they get when approved"})
    has_password = ma.fields.Function(lambda m: m.user.password_hash is not None)
    requested_at = ma.fields.DateTime(attribute="created_at")


class WaitlistDecisionSchema(Schema):
    ok = ma.fields.Boolean()
    user_id = ma.fields.UUID()
    status = ma.fields.String(metadata={"description": "active, invited (activation email sent) or rejected"})


# --- the current user -----------------------------------------------------------------------------


class CurrentUserSchema(UserSchema):
    role = ma.fields.String(allow_none=True)
    organization = ma.fields.Nested(OrganisationBriefSchema, allow_none=True)
    language = ma.fields.Function(lambda user: user.locale, allow_none=True)


class GroupBriefSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    role = ma.fields.String(metadata={"description": "lead or member"})


class AssistantPermissionsSchema(Schema):
    user_id = ma.fields.UUID()
    organization_id = ma.fields.UUID(allow_none=True)
    role = ma.fields.String(allow_none=True)
    is_platform_admin = ma.fields.Boolean()
    permissions = ma.fields.List(ma.fields.String())
    groups = ma.fields.List(ma.fields.Nested(GroupBriefSchema))
    organizations = ma.fields.List(ma.fields.Nested(OrganisationBriefSchema))
    beta_features = ma.fields.List(ma.fields.String())
    tier = ma.fields.String()
    features = ma.fields.List(ma.fields.String(), metadata={"description": "Features of the licence tier"})


class UpdateProfileSchema(Schema):
    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    avatar = ma.fields.URL(allow_none=True, validate=ma.validate.Length(max=1000))
    language = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))


class SessionTokenSchema(Schema):
    session_token = ma.fields.String(metadata={"description": "Single use; hand it to the iframe at once"})
    expires_in = ma.fields.Integer()
    expires_at = ma.fields.DateTime()


class OkSchema(Schema):
    ok = ma.fields.Boolean()
    message = ma.fields.String()


# --- users ----------------------------------------------------------------------------------------


class OrgUserSchema(Schema):
    """A user of the organisation: the account and its membership."""

    id = ma.fields.UUID(attribute="user_id", metadata={"description": "The user's id"})
    member_id = ma.fields.UUID(attribute="id")
    email = ma.fields.String(attribute="user.email")
    name = ma.fields.String(attribute="user.name", allow_none=True)
    avatar_url = ma.fields.Function(lambda m: avatar_link(m.user), allow_none=True)
    language = ma.fields.String(attribute="user.locale", allow_none=True)
    role = ma.fields.String()
    status = ma.fields.String(metadata={"description": "invited, active or deactivated"})
    account_status = ma.fields.String(attribute="user.status")
    title = ma.fields.String(allow_none=True)
    joined_at = ma.fields.DateTime(allow_none=True)
    removed_at = ma.fields.DateTime(allow_none=True)
    last_login_at = ma.fields.DateTime(attribute="user.last_login_at", allow_none=True)
    created_at = ma.fields.DateTime()


class UsersQueryArgsSchema(PageArgs):
    search = ma.fields.String(load_default=None, metadata={"description": "Part of a name or email"})
    status = ma.fields.String(
        load_default=None, validate=ma.validate.OneOf(("invited", "active", "deactivated", "waitlisted"))
    )
    role = ma.fields.String(load_default=None)
    include_deleted = ma.fields.Boolean(load_default=False)


class UserInviteSchema(Schema):
    email = ma.fields.String(required=True)
    role = ma.fields.String(load_default="member")
    name = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class OrgUserUpdateSchema(Schema):
    role = ma.fields.String()
    status = ma.fields.String(validate=ma.validate.OneOf(("active", "deactivated")))
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))


# --- the organisation and its groups -----------------------------------------------------------


class OrganisationSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()
    plan = ma.fields.String()
    tier = ma.fields.String(metadata={"description": "Licence tier: community, pro or enterprise"})
    is_public = ma.fields.Boolean(metadata={"description": "Listed among the public organisations"})
    default_language = ma.fields.String(allow_none=True)
    beta_features = ma.fields.List(ma.fields.String())
    settings = ma.fields.Dict()
    member_count = ma.fields.Integer()
    logo_file_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class OrganisationUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    is_public = ma.fields.Boolean()
    default_language = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))
    beta_features = ma.fields.List(ma.fields.String(validate=ma.validate.Length(max=80)))
    settings = ma.fields.Dict(
        keys=ma.fields.String(), metadata={"description": "Merged into the settings; null removes a key"}
    )


class PublicOrganisationSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()
    logo_file_id = ma.fields.UUID(allow_none=True)


class GroupMemberSchema(Schema):
    user_id = ma.fields.UUID()
    member_id = ma.fields.UUID()
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String(metadata={"description": "lead or member"})


class GroupSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    color = ma.fields.String(allow_none=True)
    member_count = ma.fields.Integer()
    members = ma.fields.List(ma.fields.Nested(GroupMemberSchema))
    created_at = ma.fields.DateTime()


class GroupsQueryArgsSchema(PageArgs):
    search = ma.fields.String(load_default=None)


class GroupCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default=None, allow_none=True)
    color = ma.fields.String(load_default=None, allow_none=True, validate=ma.validate.Length(max=20))


class GroupUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(allow_none=True)
    color = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))


class GroupMemberAddSchema(Schema):
    user_id = ma.fields.UUID(required=True)
    role = ma.fields.String(load_default="member", validate=ma.validate.OneOf(TEAM_ROLES))
