"""Core family authentication (/api/v1/auth/*); login and me also serve the studio family."""

import dataclasses

from flask import request

from narrative.extensions import db
from narrative.identity import auth_service, profile_service
from narrative.identity.access import (
    current_caller,
    current_member,
    current_permissions,
    current_user,
    current_workspace,
    require,
    switch_workspace,
)
from narrative.identity.models import Member, User, Workspace
from narrative.identity.schemas import (
    ActivationQueryArgsSchema,
    ActivationSchema,
    AvatarUploadSchema,
    ClerkCheckResultSchema,
    ClerkCheckSchema,
    CompleteActivationSchema,
    EmailSchema,
    LoginSchema,
    MeQueryArgsSchema,
    MeSchema,
    MessageSchema,
    ProfileUpdateSchema,
    RefreshSchema,
    RegisterSchema,
    ResendActivationSchema,
    ResetPasswordSchema,
    SessionSchema,
    SignupResultSchema,
    SignupSchema,
    TokenExchangeSchema,
    TokenSchema,
    UserSchema,
    UserUpdateSchema,
    UserView,
    UserWithMemberSchema,
)
from narrative.identity.service import normalise_email
from narrative.platform.api import Blueprint
from narrative.platform.errors import ValidationFailed
from narrative.platform.ratelimit import by_ip, rate_limit
from narrative.platform.tenancy import all_workspaces

blp = Blueprint(
    "auth", __name__, description="Authentication: sessions, signup, activation, passwords, profiles"
)

LOGIN_LIMIT = "5/minute"


def session_body(user, pair):
    return {**dataclasses.asdict(pair), "user": user}


def brief(workspace, role):
    return {
        "id": workspace.id,
        "name": workspace.name,
        "slug": workspace.slug,
        "plan": workspace.plan,
        "role": role,
    }


def describe_me(user):
    caller = current_caller()
    member = current_member()
    workspace = current_workspace()
    # "My workspaces": the user's own memberships, whichever workspace this request is in.
    with all_workspaces():
        rows = db.session.execute(
            db.select(Workspace, Member.role)
            .join(Member, Member.workspace_id == Workspace.id)
            .where(Member.user_id == user.id, Member.status == "active", Workspace.deleted_at.is_(None))
            .order_by(Workspace.name)
        ).all()
    return UserView(
        user,
        user_id=user.id,
        workspace_id=workspace.id if workspace else None,
        role=member.role if member else None,
        member=member,
        workspace=brief(workspace, member.role) if workspace and member else None,
        workspaces=[brief(ws, role) for ws, role in rows],
        permissions=sorted(current_permissions()),
        impersonated_by=caller.extra.get("impersonator") if caller else None,
    )


@blp.route("/api/v1/auth/login", methods=["POST"])
@blp.operation("core.auth.login", also=["neuromancer.auth.login"])
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="login")
@blp.arguments(LoginSchema)
@blp.response(200, SessionSchema)
def login(payload):
    """Sign in with email and password (5 per minute per address)

    Accounts with MFA answer 403 `mfa_required` with `mfa_token`; send `{mfa_token, mfa_code}` (or
    `email`, `password` and `mfa_code` together) to finish signing in.
    """
    user, pair = auth_service.login(
        email=payload["email"],
        password=payload["password"],
        workspace_id=payload["workspace_id"],
        mfa_token=payload["mfa_token"],
        mfa_code=payload["mfa_code"] or payload["otp"],
    )
    return session_body(user, pair)


@blp.route("/api/v1/auth/refresh", methods=["POST"])
@blp.operation("core.auth.refresh")
@require(public=True)
@blp.arguments(RefreshSchema)
@blp.response(200, TokenSchema)
def refresh(payload):
    """Exchange a refresh token for a new pair (the old one is spent)"""
    return auth_service.refresh(refresh_token=payload["refresh_token"])


@blp.route("/api/v1/auth/logout", methods=["POST"])
@blp.operation("core.auth.logout")
@require()
@blp.response(200, MessageSchema)
def logout():
    """End this session: the access token and the session's refresh tokens stop working"""
    auth_service.logout(caller=current_caller())
    return {"ok": True, "message": "Logged out."}


@blp.route("/api/v1/auth/signup", methods=["POST"])
@blp.operation("core.auth.signup")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="signup")
@blp.arguments(SignupSchema)
@blp.response(201, SignupResultSchema)
def signup(payload):
    """Create an account, its workspace (named after the company) and a first session"""
    user, workspace, pair, checkout_url = auth_service.signup(**payload)
    return {**session_body(user, pair), "workspace": brief(workspace, "owner"), "checkout_url": checkout_url}


@blp.route("/api/v1/auth/register", methods=["POST"])
@blp.operation("core.auth.register")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="signup")
@blp.arguments(RegisterSchema)
@blp.response(201, UserSchema)
def register(payload):
    """Register a user without a workspace (legacy; signup is the full flow)"""
    return auth_service.register(**payload)


@blp.route("/api/v1/auth/request-password-reset", methods=["POST"])
@blp.operation("core.auth.request-password-reset")
@require(public=True)
@rate_limit(LOGIN_LIMIT, key=by_ip, scope="password-reset")
@blp.arguments(EmailSchema)
@blp.response(200, MessageSchema)
def request_password_reset(payload):
    """Email a password reset link (the answer is the same whether or not the account exists)"""
    auth_service.request_password_reset(email=payload["email"])
    return {"ok": True, "message": auth_service.RESET_ANSWER}


@blp.route("/api/v1/auth/reset-password", methods=["POST"])
@blp.operation("core.auth.reset-password")
@require(public=True)
@blp.arguments(ResetPasswordSchema)
@blp.response(200, MessageSchema)
def reset_password(payload):
    """Set a new password with the emailed token; every session of the account ends"""
    auth_service.reset_password(token=payload["token"], password=payload["password"])
    return {"ok": True, "message": "Your password has been reset; sign in with the new one."}


@blp.route("/api/v1/auth/activation/validate")
@blp.operation("core.auth.validate-activation")
@require(public=True)
@blp.arguments(ActivationQueryArgsSchema, location="query")
@blp.response(200, ActivationSchema)
def validate_activation(args):
    """Check an activation link before showing the set-password form"""
    user, workspace = auth_service.validate_activation(token=args["token"], workspace_id=args["workspace_id"])
    return {"user": user, "workspace": brief(workspace, None)}


@blp.route("/api/v1/auth/activation/complete", methods=["POST"])
@blp.operation("core.auth.complete-activation")
@require(public=True)
@blp.arguments(CompleteActivationSchema)
@blp.response(200, SessionSchema)
def complete_activation(payload):
    """Set the password of an invited account and sign in"""
    user, pair = auth_service.complete_activation(token=payload["token"], password=payload["password"])
    return session_body(user, pair)


def _member_user(condition, *, field):
    """The user matching `condition` who is a member of this workspace, else 422 naming `field`."""
    user = db.session.scalar(db.select(User).join(Member, Member.user_id == User.id).where(condition))
    if user is None:
        raise ValidationFailed(details=[{"field": field, "message": "No member of this workspace matches."}])
    return user


@blp.route("/api/v1/auth/activation/resend", methods=["POST"])
@blp.operation("core.auth.resend-activation")
@require("members.invite")
@blp.arguments(ResendActivationSchema)
@blp.response(200, MessageSchema)
def resend_activation(payload):
    """Send a pending member's activation email again"""
    target = None
    if payload["user_id"] is not None:
        target = _member_user(User.id == payload["user_id"], field="user_id")
    elif payload["email"]:
        target = _member_user(User.email == normalise_email(payload["email"]), field="email")
    auth_service.resend_activation(actor=current_user(), workspace=current_workspace(), target=target)
    return {"ok": True, "message": "The activation email has been sent again."}


@blp.route("/api/v1/auth/impersonation/exchange", methods=["POST"])
@blp.operation("core.auth.impersonation-exchange")
@require(public=True)
@blp.arguments(TokenExchangeSchema)
@blp.response(200, SessionSchema)
def impersonation_exchange(payload):
    """Turn a single-use impersonation token into a session as that user"""
    user, pair = auth_service.exchange_impersonation_token(token=payload["token"])
    return session_body(user, pair)


@blp.route("/api/v1/auth/clerk/check", methods=["POST"])
@blp.operation("core.auth.clerk-check")
@require(public=True)
@blp.arguments(ClerkCheckSchema)
@blp.response(200, ClerkCheckResultSchema)
def clerk_check(payload):
    """Whether a Clerk-authenticated user has an account here; a session when they do"""
    exists, user, pair = auth_service.clerk_check(
        presented_secret=request.headers.get("X-Clerk-Secret"),
        email=payload["email"],
        clerk_id=payload["clerk_id"],
    )
    if not exists:
        return {"exists": False}
    return {"exists": True, **session_body(user, pair)}


@blp.route("/api/v1/auth/me")
@blp.operation("core.auth.me", also=["neuromancer.auth.me"])
@require()
@blp.arguments(MeQueryArgsSchema, location="query")
@blp.response(200, MeSchema)
def me(args):
    """The signed-in user, their role and member record in the workspace, and their workspaces"""
    if args["workspace_id"] is not None:
        switch_workspace(args["workspace_id"])
    return describe_me(current_user())


@blp.route("/api/v1/auth/me", methods=["PATCH"])
@blp.operation("core.auth.update-me")
@require()
@blp.arguments(ProfileUpdateSchema)
@blp.response(200, MeSchema)
def update_me(payload):
    """Update your profile; a new password needs the current one and ends every session"""
    user = current_user()
    profile_service.update_profile(user=user, changes=payload)
    if "new_password" in payload:
        auth_service.change_password(
            user=user, current_password=payload.get("current_password"), new_password=payload["new_password"]
        )
    return describe_me(user)


@blp.route("/api/v1/auth/me/avatar", methods=["POST"])
@blp.operation("core.auth.upload-my-avatar")
@require()
@blp.arguments(AvatarUploadSchema, location="files")
@blp.response(200, UserSchema)
def upload_my_avatar(files):
    """Upload your profile picture (PNG, JPEG, GIF or WebP, up to 5 MB)"""
    user = current_user()
    profile_service.set_avatar(user=user, upload=files["file"], workspace_id=current_caller().workspace_id)
    return user


def _user_in_workspace(user_id):
    actor = current_user()
    actor_member = current_member()
    user, member = profile_service.find_user_in_workspace(
        user_id=user_id, actor=actor, workspace_id=actor_member.workspace_id if actor_member else None
    )
    return actor, actor_member, user, member


@blp.route("/api/v1/auth/<user_id>")
@blp.operation("core.auth.get-user")
@require()
@blp.response(200, UserWithMemberSchema)
def get_user(user_id):
    """A user of your workspace, with their member record"""
    actor, actor_member, user, member = _user_in_workspace(user_id)
    profile_service.check_can_view(actor=actor, actor_member=actor_member, target=user)
    return UserView(user, member=member)


@blp.route("/api/v1/auth/<user_id>", methods=["PATCH"])
@blp.operation("core.auth.update-user")
@require()
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserWithMemberSchema)
def update_user(payload, user_id):
    """Update a user of your workspace (your role must not be below theirs)"""
    actor, actor_member, user, member = _user_in_workspace(user_id)
    profile_service.check_can_edit(actor=actor, actor_member=actor_member, target=user, target_member=member)
    role = payload.pop("role", None)
    if user.id != actor.id:
        payload.pop("new_password", None)
        payload.pop("current_password", None)
    profile_service.update_profile(user=user, changes=payload)
    if role is not None:
        profile_service.change_role(actor_member=actor_member, target_member=member, role=role)
    if "new_password" in payload:
        auth_service.change_password(
            user=user, current_password=payload.get("current_password"), new_password=payload["new_password"]
        )
    return UserView(user, member=member)


@blp.route("/api/v1/auth/<user_id>/avatar", methods=["POST"])
@blp.operation("core.auth.upload-user-avatar")
@require()
@blp.arguments(AvatarUploadSchema, location="files")
@blp.response(200, UserSchema)
def upload_user_avatar(files, user_id):
    """Upload a profile picture for a user of your workspace"""
    actor, actor_member, user, member = _user_in_workspace(user_id)
    profile_service.check_can_edit(actor=actor, actor_member=actor_member, target=user, target_member=member)
    profile_service.set_avatar(user=user, upload=files["file"], workspace_id=current_caller().workspace_id)
    return user
