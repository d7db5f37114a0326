"""Payload shapes of identity's endpoints. The SDK family's camelCase comes from `data_key`."""

import marshmallow as ma
from flask_smorest.fields import Upload

from narrative.extensions import db
from narrative.platform.schemas import Schema
from narrative.platform.storage import StoredFile, signed_download_url
from narrative.platform.tenancy import all_workspaces

AVATAR_LINK_SECONDS = 86400


def avatar_link(user):
    """A fresh signed link to an uploaded avatar, or the external URL the user gave."""
    if user.avatar_file_id is not None:
        # The account is global: its picture shows in every workspace (and before sign-in),
        # whichever workspace it was uploaded in.
        with all_workspaces():
            stored = db.session.get(StoredFile, user.avatar_file_id)
        if stored is not None:
            return signed_download_url(stored, expires_in=AVATAR_LINK_SECONDS)
    return user.avatar_url


class UserSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    email = ma.fields.Email()
    name = ma.fields.String(allow_none=True)
    status = ma.fields.String(dump_only=True)
    title = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    bio = ma.fields.String(allow_none=True)
    avatar_url = ma.fields.Function(avatar_link, dump_only=True)
    avatar_file_id = ma.fields.UUID(dump_only=True, allow_none=True)
    locale = ma.fields.String(allow_none=True)
    timezone = ma.fields.String(allow_none=True)
    is_platform_admin = ma.fields.Boolean(dump_only=True)
    mfa_enabled = ma.fields.Boolean(dump_only=True)
    email_verified_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    last_login_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)


class MemberSchema(Schema):
    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    user_id = ma.fields.UUID()
    role = ma.fields.String()
    status = ma.fields.String()
    title = ma.fields.String(allow_none=True)
    joined_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class WorkspaceBriefSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()
    plan = ma.fields.String()
    role = ma.fields.String(metadata={"description": "The caller's role in this workspace"})


class UserWithMemberSchema(UserSchema):
    member = ma.fields.Nested(MemberSchema, allow_none=True)


class MeSchema(UserWithMemberSchema):
    """The signed-in user, their membership of the request's workspace and all their workspaces."""

    user_id = ma.fields.UUID()
    workspace_id = ma.fields.UUID(allow_none=True)
    role = ma.fields.String(allow_none=True)
    workspace = ma.fields.Nested(WorkspaceBriefSchema, allow_none=True)
    workspaces = ma.fields.List(ma.fields.Nested(WorkspaceBriefSchema))
    permissions = ma.fields.List(ma.fields.String())
    impersonated_by = ma.fields.String(allow_none=True)


class MeQueryArgsSchema(Schema):
    workspace_id = ma.fields.UUID(load_default=None)


class SecondFactorFields(Schema):
    """Finishing a login for an account with MFA: the challenge from the first answer, and a code."""

    mfa_token = ma.fields.String(
        load_default=None, metadata={"description": "The challenge from a 403 mfa_required answer"}
    )
    mfa_code = ma.fields.String(
        load_default=None, metadata={"description": "Authenticator code or backup code"}
    )

    @ma.validates_schema
    def _credentials_or_challenge(self, data, **kwargs):
        if data.get("mfa_token"):
            return
        missing = {name: ["Missing data for required field."] for name in ("email", "password")}
        missing = {name: message for name, message in missing.items() if not data.get(name)}
        if missing:
            raise ma.ValidationError(missing)


class LoginSchema(SecondFactorFields):
    email = ma.fields.String(load_default=None)
    password = ma.fields.String(load_default=None, load_only=True)
    otp = ma.fields.String(load_default=None, metadata={"description": "Same as mfa_code"})
    workspace_id = ma.fields.UUID(
        load_default=None, metadata={"description": "Start the session in this workspace"}
    )


class TokenSchema(Schema):
    access_token = ma.fields.String()
    refresh_token = ma.fields.String()
    token_type = ma.fields.String()
    expires_in = ma.fields.Integer(metadata={"description": "Seconds until the access token expires"})
    user_id = ma.fields.UUID()
    workspace_id = ma.fields.UUID(allow_none=True)
    role = ma.fields.String(allow_none=True)


class SessionSchema(TokenSchema):
    user = ma.fields.Nested(UserSchema)


class SignupSchema(Schema):
    email = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)
    company_name = ma.fields.String(required=True)
    name = ma.fields.String(load_default=None)
    payment_method_id = ma.fields.String(load_default=None)


class SignupResultSchema(SessionSchema):
    workspace = ma.fields.Nested(WorkspaceBriefSchema)
    checkout_url = ma.fields.String(allow_none=True)


class RegisterSchema(Schema):
    email = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)
    name = ma.fields.String(load_default=None)


class RefreshSchema(Schema):
    refresh_token = ma.fields.String(required=True)


class MessageSchema(Schema):
    ok = ma.fields.Boolean()
    message = ma.fields.String()


class EmailSchema(Schema):
    email = ma.fields.String(required=True)


class ResetPasswordSchema(Schema):
    token = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)


class ActivationQueryArgsSchema(Schema):
    token = ma.fields.String(required=True)
    workspace_id = ma.fields.String(required=True)


class ActivationSchema(Schema):
    user = ma.fields.Nested(UserSchema)
    workspace = ma.fields.Nested(WorkspaceBriefSchema)


class CompleteActivationSchema(ResetPasswordSchema):
    pass


class ResendActivationSchema(Schema):
    user_id = ma.fields.UUID(load_default=None)
    email = ma.fields.String(load_default=None)


class TokenExchangeSchema(Schema):
    token = ma.fields.String(required=True)


class ClerkCheckSchema(Schema):
    email = ma.fields.String(load_default=None)
    clerk_id = ma.fields.String(load_default=None)


class ClerkCheckResultSchema(Schema):
    exists = ma.fields.Boolean()
    access_token = ma.fields.String(allow_none=True)
    refresh_token = ma.fields.String(allow_none=True)
    token_type = ma.fields.String(allow_none=True)
    expires_in = ma.fields.Integer(allow_none=True)
    user = ma.fields.Nested(UserSchema, allow_none=True)


class ProfileUpdateSchema(Schema):
    """Profile fields; a password change needs `current_password` and ends every session."""

    name = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    email = ma.fields.String()
    title = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=200))
    phone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=50))
    bio = ma.fields.String(allow_none=True)
    avatar_url = ma.fields.URL(allow_none=True, validate=ma.validate.Length(max=1000))
    locale = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=20))
    timezone = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=64))
    current_password = ma.fields.String(load_only=True)
    new_password = ma.fields.String(load_only=True)


class UserUpdateSchema(ProfileUpdateSchema):
    role = ma.fields.String()


class AvatarUploadSchema(Schema):
    file = Upload(required=True)


# --- narrative-sdk (camelCase on the wire) ---------------------------------------------------


class SdkLoginSchema(SecondFactorFields):
    email = ma.fields.String(load_default=None)
    password = ma.fields.String(load_default=None, load_only=True)
    mfa_token = ma.fields.String(load_default=None, data_key="mfaToken")
    mfa_code = ma.fields.String(load_default=None, data_key="mfaCode")


class SdkTokenSchema(Schema):
    access_token = ma.fields.String(data_key="accessToken")
    refresh_token = ma.fields.String(data_key="refreshToken")
    token_type = ma.fields.String(data_key="tokenType")
    expires_in = ma.fields.Integer(data_key="expiresIn")
    user_id = ma.fields.UUID(data_key="userId")
    workspace_id = ma.fields.UUID(data_key="tenantId", allow_none=True)


class SdkRefreshSchema(Schema):
    refresh_token = ma.fields.String(required=True, data_key="refreshToken")


class SdkOkSchema(Schema):
    ok = ma.fields.Boolean()


class SdkMeSchema(Schema):
    user_id = ma.fields.UUID(data_key="userId")
    workspace_id = ma.fields.UUID(data_key="tenantId", allow_none=True)
    email = ma.fields.String()
    name = ma.fields.String(allow_none=True)
    role = ma.fields.String(allow_none=True)


class UserView:
    """A user plus extra attributes for a response schema (me, user with member)."""

    def __init__(self, user, **extra):
        self._user = user
        self.__dict__.update(extra)

    def __getattr__(self, name):
        return getattr(self._user, name)
