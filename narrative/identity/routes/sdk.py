"""The SDK family's authentication (/api/auth/*): the same sessions, camelCase on the wire."""

from narrative.identity import auth_service
from narrative.identity.access import current_caller, current_user, require
from narrative.identity.routes.auth import LOGIN_LIMIT
from narrative.identity.schemas import (
    SdkLoginSchema,
    SdkMeSchema,
    SdkOkSchema,
    SdkRefreshSchema,
    SdkTokenSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.ratelimit import by_ip, rate_limit

blp = Blueprint("sdk_auth", __name__, description="Narrative SDK authentication")


@blp.route("/api/auth/login", methods=["POST"])
@blp.operation("narrative-sdk.auth.login")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="login")
@blp.arguments(SdkLoginSchema)
@blp.response(200, SdkTokenSchema)
def login(payload):
    """Authenticate user and issue tokens"""
    _, pair = auth_service.login(
        email=payload["email"],
        password=payload["password"],
        mfa_token=payload["mfa_token"],
        mfa_code=payload["mfa_code"],
    )
    return pair


@blp.route("/api/auth/refresh", methods=["POST"])
@blp.operation("narrative-sdk.auth.refresh")
@require(public=True)
@blp.arguments(SdkRefreshSchema)
@blp.response(200, SdkTokenSchema)
def refresh(payload):
    """Rotate access and refresh tokens"""
    return auth_service.refresh(refresh_token=payload["refresh_token"])


@blp.route("/api/auth/logout", methods=["POST"])
@blp.operation("narrative-sdk.auth.logout")
@require()
@blp.response(200, SdkOkSchema)
def logout():
    """Invalidate current user session"""
    auth_service.logout(caller=current_caller())
    return {"ok": True}


@blp.route("/api/auth/me")
@blp.operation("narrative-sdk.auth.me")
@require()
@blp.response(200, SdkMeSchema)
def me():
    """Return authenticated user scope"""
    caller = current_caller()
    user = current_user()
    return {
        "user_id": user.id,
        "workspace_id": caller.workspace_id,
        "email": user.email,
        "name": user.name,
        "role": caller.role,
    }
