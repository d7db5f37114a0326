"""The studio family's own auth endpoints: status, Supabase sign-in, password change, TOTP (MFA),
and the public screenshot/asset previews of its allow-list.

Its login and me are the core endpoints (`routes/auth.py`), which list the studio ids.
"""

import time

from flask import Response, request
from werkzeug.wsgi import wrap_file

from narrative.identity import auth_service, mfa, public_previews, supabase, tokens
from narrative.identity.access import current_caller, current_user, require
from narrative.identity.routes.auth import LOGIN_LIMIT, session_body
from narrative.identity.schemas import SessionSchema
from narrative.identity.studio_schemas import (
    AuthStatusSchema,
    ChangePasswordSchema,
    MfaCodeSchema,
    MfaDisabledSchema,
    MfaEnrollmentSchema,
    MfaStatusSchema,
    PasswordChangedSchema,
    PreviewQueryArgsSchema,
    SupabaseConfigSchema,
    SupabaseExchangeSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.caller import USER
from narrative.platform.errors import Forbidden
from narrative.platform.ratelimit import by_ip, rate_limit

blp = Blueprint("studio_auth", __name__, description="Content studio: auth status, Supabase sign-in, MFA")

# Guessing a current password or an MFA code must stay slow even for a signed-in attacker.
SENSITIVE_LIMIT = "5/minute;20/hour"


def _user_session():
    """These endpoints change how a person signs in: a user session only, never an API key."""
    caller = current_caller()
    if caller.kind != USER:
        raise Forbidden("Sign in as the user to do this; API keys cannot.", code="user_session_required")
    return caller, current_user()


def _new_session_for(caller, user):
    """After every session of the user was ended: tokens for this device, in the same workspace."""
    return auth_service.start_session(user=user, workspace_id=caller.workspace_id)


@blp.route("/api/v1/auth/status")
@blp.operation("neuromancer.auth.status")
@require(public=True)
@blp.response(200, AuthStatusSchema)
def auth_status():
    """Whether auth is enabled on this deployment (it always is), and the sign-in methods"""
    providers = ["password"]
    if supabase.public_config()["exchange_enabled"]:
        providers.append("supabase")
    return {"auth_enabled": True, "providers": providers, "mfa_available": True}


@blp.route("/api/v1/auth/supabase-config")
@blp.operation("neuromancer.auth.supabase-config")
@require(public=True)
@blp.response(200, SupabaseConfigSchema)
def supabase_config():
    """Public Supabase config (project URL and anon key); `configured: false` when unset"""
    return supabase.public_config()


@blp.route("/api/v1/auth/supabase-exchange", methods=["POST"])
@blp.operation(
    "neuromancer.auth.supabase-exchange",
    description=(
        "Send the Supabase session's `access_token`; the account with its email address is signed "
        "in (accounts are not created here). Accounts with MFA answer 403 `mfa_required` with an "
        "`mfa_token`: send the code with it to POST /api/v1/auth/login, or repeat this call with "
        "`mfa_code`. 503 `provider_not_configured` when SUPABASE_JWT_SECRET is not set."
    ),
)
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="supabase-exchange")
@blp.arguments(SupabaseExchangeSchema)
@blp.response(200, SessionSchema)
def supabase_exchange(payload):
    """Exchange a Supabase access token for a Narrative session"""
    user, pair = supabase.exchange(
        access_token=payload["access_token"] or payload["token"],
        workspace_id=payload["workspace_id"],
        mfa_code=payload["mfa_code"],
    )
    return session_body(user, pair)


@blp.route("/api/v1/auth/change-password", methods=["PUT"])
@blp.operation(
    "neuromancer.auth.change-password",
    description=(
        "Needs the current password. Every session of the account ends (other devices sign in "
        "again); the answer carries new tokens for this device."
    ),
)
@require()
@rate_limit(SENSITIVE_LIMIT, scope="change-password")
@blp.arguments(ChangePasswordSchema)
@blp.response(200, PasswordChangedSchema)
def change_password(payload):
    """Change the signed-in user's password"""
    caller, user = _user_session()
    auth_service.change_password(
        user=user, current_password=payload["current_password"], new_password=payload["new_password"]
    )
    pair = _new_session_for(caller, user)
    return {**session_body(user, pair), "ok": True, "message": "Your password has been changed."}


@blp.route("/api/v1/mfa/status")
@blp.operation("neuromancer.auth.mfa-status")
@require()
@blp.response(200, MfaStatusSchema)
def mfa_status():
    """Whether the user has TOTP enabled, and how many backup codes are left"""
    _, user = _user_session()
    return mfa.describe(user)


@blp.route("/api/v1/mfa/enroll", methods=["POST"])
@blp.operation(
    "neuromancer.auth.mfa-enroll",
    description=(
        "Returns the secret, an otpauth:// URI for a QR code and ten single-use backup codes "
        "(shown only now). MFA is on once /mfa/verify-enrollment confirms a first code."
    ),
)
@require()
@blp.response(200, MfaEnrollmentSchema)
def mfa_enroll():
    """Generate a TOTP secret and backup codes"""
    _, user = _user_session()
    enrollment = mfa.start_enrollment(user=user)
    return enrollment


@blp.route("/api/v1/mfa/verify-enrollment", methods=["POST"])
@blp.operation("neuromancer.auth.mfa-verify-enrollment")
@require()
@rate_limit(SENSITIVE_LIMIT, scope="mfa-verify-enrollment")
@blp.arguments(MfaCodeSchema)
@blp.response(200, MfaStatusSchema)
def mfa_verify_enrollment(payload):
    """Confirm the first TOTP code: two-step sign-in is on from now"""
    _, user = _user_session()
    mfa.confirm_enrollment(user=user, code=payload["code"])
    return mfa.describe(user)


@blp.route("/api/v1/mfa/disable", methods=["POST"])
@blp.operation(
    "neuromancer.auth.mfa-disable",
    description=(
        "Needs a current code (or a backup code); 5 per minute. Every session of the account "
        "ends; the answer carries new tokens for this device."
    ),
)
@require()
@rate_limit(SENSITIVE_LIMIT, scope="mfa-disable")
@blp.arguments(MfaCodeSchema)
@blp.response(200, MfaDisabledSchema)
def mfa_disable(payload):
    """Remove TOTP (rate-limited)"""
    caller, user = _user_session()
    mfa.disable(user=user, code=payload["code"])
    # Losing a factor is a security change: sessions opened under the old rules end.
    tokens.revoke_all_sessions(user=user)
    pair = _new_session_for(caller, user)
    return {**session_body(user, pair), "ok": True, "enabled": False, "message": "Two-step sign-in is off."}


def _preview_response(purpose, args):
    stored, stream = public_previews.open_preview(purpose=purpose, **args)
    response = Response(
        wrap_file(request.environ, stream), mimetype=stored.content_type, direct_passthrough=True
    )
    response.content_length = stored.size
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Browsers may keep a preview until its link expires, not longer.
    response.headers["Cache-Control"] = f"private, max-age={max(0, args['exp'] - int(time.time()))}"
    response.headers["ETag"] = f'"{stored.sha256}"'
    return response


@blp.route("/api/v1/screenshots")
@blp.operation(
    "neuromancer.public.screenshots",
    description="Serves one screenshot inline to whoever holds its signed link (file_id, exp, sig).",
)
@require(public=True)
@blp.arguments(PreviewQueryArgsSchema, location="query")
@blp.response(200, description="The image")
def screenshot(args):
    """Static previews for shared resources"""
    return _preview_response(public_previews.SCREENSHOT, args)


@blp.route("/api/v1/assets")
@blp.operation(
    "neuromancer.public.assets",
    description="Serves one generated asset inline to whoever holds its signed link (file_id, exp, sig).",
)
@require(public=True)
@blp.arguments(PreviewQueryArgsSchema, location="query")
@blp.response(200, description="The asset")
def asset(args):
    """Generated assets served to external reviewers"""
    return _preview_response(public_previews.ASSET, args)
