"""Payload shapes of the studio family's own auth endpoints (status, Supabase, passwords, MFA)."""

import marshmallow as ma

from narrative.identity.schemas import SessionSchema
from narrative.platform.schemas import Schema


class AuthStatusSchema(Schema):
    auth_enabled = ma.fields.Boolean(
        metadata={"description": "Always true: every route outside the public allow-list needs a token"}
    )
    providers = ma.fields.List(
        ma.fields.String(), metadata={"description": "Sign-in methods available: password, supabase"}
    )
    mfa_available = ma.fields.Boolean()


class SupabaseConfigSchema(Schema):
    configured = ma.fields.Boolean(metadata={"description": "Whether the URL and anon key are set"})
    url = ma.fields.String(allow_none=True, metadata={"description": "The Supabase project URL"})
    anon_key = ma.fields.String(allow_none=True, metadata={"description": "The project's public anon key"})
    exchange_enabled = ma.fields.Boolean(
        metadata={"description": "Whether this server can verify Supabase tokens (JWT secret set)"}
    )


class SupabaseExchangeSchema(Schema):
    access_token = ma.fields.String(
        load_default=None, metadata={"description": "The Supabase session's access token"}
    )
    token = ma.fields.String(load_default=None, metadata={"description": "Same as access_token"})
    workspace_id = ma.fields.UUID(load_default=None, metadata={"description": "Start the session here"})
    mfa_code = ma.fields.String(
        load_default=None, metadata={"description": "Authenticator or backup code, for accounts with MFA"}
    )


class ChangePasswordSchema(Schema):
    current_password = ma.fields.String(required=True, load_only=True)
    new_password = ma.fields.String(required=True, load_only=True)


class PasswordChangedSchema(SessionSchema):
    """A fresh session for this device: every other session (and this one's old tokens) ended."""

    ok = ma.fields.Boolean()
    message = ma.fields.String()


class MfaStatusSchema(Schema):
    enabled = ma.fields.Boolean()
    mfa_enabled = ma.fields.Boolean(metadata={"description": "Same as enabled"})
    enrollment_pending = ma.fields.Boolean(
        metadata={"description": "A secret was issued by /mfa/enroll but not confirmed yet"}
    )
    enabled_at = ma.fields.DateTime(allow_none=True)
    backup_codes_remaining = ma.fields.Integer()
    methods = ma.fields.List(ma.fields.String())


class MfaEnrollmentSchema(Schema):
    secret = ma.fields.String(metadata={"description": "Base32 TOTP secret (for manual entry)"})
    otpauth_uri = ma.fields.String(metadata={"description": "otpauth:// URI to show as a QR code"})
    issuer = ma.fields.String()
    digits = ma.fields.Integer()
    period = ma.fields.Integer(metadata={"description": "Seconds per code"})
    algorithm = ma.fields.String()
    backup_codes = ma.fields.List(
        ma.fields.String(), metadata={"description": "Ten single-use codes, shown only now"}
    )


class MfaCodeSchema(Schema):
    code = ma.fields.String(
        required=True, metadata={"description": "The current 6-digit code (disable also takes a backup code)"}
    )


class MfaDisabledSchema(SessionSchema):
    ok = ma.fields.Boolean()
    message = ma.fields.String()
    enabled = ma.fields.Boolean()


class PreviewQueryArgsSchema(Schema):
    file_id = ma.fields.UUID(required=True)
    exp = ma.fields.Integer(required=True, metadata={"description": "Expiry (Unix seconds) of the link"})
    sig = ma.fields.String(required=True, metadata={"description": "The link's signature"})
