"""Signing in and out, signup, activation, password reset and impersonation: the session rules.

Every family's login, refresh and logout endpoint calls these functions, so the rules (rate limits,
the one 401, session revocation) are the same whichever API a client speaks.
"""

from urllib.parse import urlencode

from flask import current_app, has_request_context, request

from narrative.extensions import db
from narrative.identity import mfa, tokens
from narrative.identity.credential_models import ACTIVATION, IMPERSONATION, PASSWORD_RESET
from narrative.identity.models import (
    MEMBER_ACTIVE,
    MEMBER_INVITED,
    USER_ACTIVE,
    USER_PENDING,
    Member,
    User,
    Workspace,
)
from narrative.identity.passwords import hash_password, needs_rehash, verify_password
from narrative.identity.service import (
    check_password_strength,
    create_account,
    create_workspace,
    find_user_by_email,
    normalise_email,
)
from narrative.platform.caller import USER
from narrative.platform.email import send_email
from narrative.platform.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    ProviderNotConfigured,
    RateLimited,
    Unauthorized,
    ValidationFailed,
)
from narrative.platform.models import utcnow
from narrative.platform.ratelimit import hit
from narrative.platform.redis import get_redis
from narrative.platform.tenancy import all_workspaces

FAILED_LOGINS_LIMIT = "100/hour"
FAILED_LOGINS_SCOPE = "login-failures"
LOCKED_KEY = "identity:login-locked:"
PASSWORD_RESET_SECONDS = 3600
ACTIVATION_SECONDS = 7 * 86400
IMPERSONATION_SECONDS = 300
RESET_ANSWER = "If an account exists for this email, we have sent a link to reset its password."


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "The email or password is incorrect."


class AccountLocked(RateLimited):
    def __init__(self, retry_after_seconds):
        super().__init__(
            "Too many failed sign-in attempts for this account; try again later or reset the password.",
            retry_after_seconds=retry_after_seconds,
        )
        self.code = "too_many_failed_logins"


class AccountNotActive(Forbidden):
    code = "account_inactive"
    message = "This account is not active."


# --- helpers --------------------------------------------------------------------------------------


def _dummy_hash():
    """A real hash to verify against for unknown emails, so both paths take the same time."""
    app = current_app._get_current_object()
    cache = app.extensions.setdefault("narrative_identity_dummy_hash", {})
    fast = bool(app.config.get("PASSWORD_HASH_FAST"))
    if fast not in cache:
        cache[fast] = hash_password("not a real password, only for timing")
    return cache[fast]


def public_url(path, **params):
    """A link for an email: PUBLIC_APP_URL (the frontend) or this server's own address."""
    base = current_app.config.get("PUBLIC_APP_URL")
    if not base:
        base = request.host_url if has_request_context() else "http://localhost:8000/"
    url = base.rstrip("/") + path
    return url + ("?" + urlencode(params) if params else "")


def default_membership(user, preferred_workspace_id=None):
    """The active membership a new session starts in: the preferred one, else the oldest."""
    query = (
        db.select(Member)
        .join(Workspace, Workspace.id == Member.workspace_id)
        .where(Member.user_id == user.id, Member.status == MEMBER_ACTIVE, Workspace.deleted_at.is_(None))
        .order_by(Member.joined_at.is_(None), Member.joined_at, Member.created_at)
    )
    # The user's own memberships across workspaces: a session may start in any of them.
    with all_workspaces():
        members = db.session.scalars(query).all()
    for member in members:
        if preferred_workspace_id is not None and member.workspace_id == preferred_workspace_id:
            return member
    return members[0] if members else None


def start_session(*, user, workspace_id=None, impersonator_id=None):
    """Tokens for a new session in the preferred (or default) workspace."""
    member = default_membership(user, workspace_id)
    return tokens.issue_tokens(
        user=user,
        workspace_id=member.workspace_id if member else None,
        role=member.role if member else None,
        impersonator_id=impersonator_id,
    )


def _resolve_role(user, workspace_id):
    member = default_membership(user, workspace_id)
    return (member.workspace_id, member.role) if member else (None, None)


# --- login, refresh, logout -------------------------------------------------------------------


def _check_not_locked(email):
    ttl = get_redis().ttl(LOCKED_KEY + email)
    if ttl and ttl > 0:
        raise AccountLocked(ttl)


def _record_failure(email):
    decision = hit(FAILED_LOGINS_SCOPE, email, FAILED_LOGINS_LIMIT)
    if not decision.allowed or decision.remaining < 1:
        wait = max(1, decision.reset_seconds)
        get_redis().set(LOCKED_KEY + email, "1", ex=wait)


def authenticate(*, email, password):
    """The user for these credentials; one 401 whether the email is unknown or the password wrong."""
    try:
        email = normalise_email(email)
    except ValidationFailed:
        raise InvalidCredentials() from None
    _check_not_locked(email)
    user = find_user_by_email(email)
    valid = verify_password(user.password_hash if user else _dummy_hash(), password or "")
    if user is None or not valid:
        _record_failure(email)
        raise InvalidCredentials()
    if user.status != USER_ACTIVE:
        raise AccountNotActive(
            "This account has not been activated yet; use the link in the invitation email."
            if user.status == USER_PENDING
            else None
        )
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def login(*, email=None, password=None, workspace_id=None, mfa_token=None, mfa_code=None):
    """Check the credentials (and the second factor when the account has MFA) and start a session.

    Every family's login comes here, so no family skips the second factor. Returns (user, TokenPair).
    """
    if mfa_token:
        user, workspace_id = mfa.complete_challenge(token=mfa_token, code=mfa_code, workspace_id=workspace_id)
    else:
        user = authenticate(email=email, password=password)
        mfa.require_second_factor(user=user, code=mfa_code, workspace_id=workspace_id)
    user.last_login_at = utcnow()
    pair = start_session(user=user, workspace_id=workspace_id)
    return user, pair


def refresh(*, refresh_token):
    """Rotate a refresh token (reuse of a spent one ends the session)."""
    if not refresh_token:
        raise tokens.InvalidToken("A refresh token is required.")
    return tokens.rotate_refresh_token(refresh_token=refresh_token, resolve_role=_resolve_role)


def logout(*, caller):
    """End the caller's session: its access token now, and every refresh token of the session."""
    if caller is None or caller.kind != USER:
        raise BadRequest("Only a user session can be logged out; API keys are revoked instead.")
    tokens.revoke_access_token(jti=caller.credential_id, expires_at=caller.extra.get("expires_at"))
    session_id = caller.extra.get("session_id")
    if session_id:
        tokens.revoke_family(family_id=session_id)


# --- signup and registration ------------------------------------------------------------------


def signup(*, email, password, company_name, name=None, payment_method_id=None):
    """A user, the workspace they own (named after the company) and a first session.

    Returns (user, workspace, TokenPair, checkout_url). With no payment provider configured the
    workspace starts on the free plan and checkout_url is None.
    """
    del payment_method_id  # used once a payment provider is configured (billing)
    if not (company_name or "").strip():
        raise ValidationFailed(details=[{"field": "company_name", "message": "Enter the company name."}])
    user = create_account(email=email, password=password, name=name)
    workspace = create_workspace(name=company_name.strip(), owner=user)
    user.last_login_at = utcnow()
    pair = tokens.issue_tokens(user=user, workspace_id=workspace.id, role="owner")
    return user, workspace, pair, None


def register(*, email, password, name=None):
    """Legacy registration: an active user with no workspace (signup is the full flow)."""
    return create_account(email=email, password=password, name=name)


# --- activation (invited users set their password) -------------------------------------------


def send_activation_email(*, user, workspace, invited_by=None):
    """Email an activation link for `workspace`; older activation links of the user stop working."""
    tokens.expire_one_time_tokens(purpose=ACTIVATION, user_id=user.id)
    _, raw = tokens.create_one_time_token(
        purpose=ACTIVATION,
        expires_in=ACTIVATION_SECONDS,
        user_id=user.id,
        workspace_id=workspace.id,
        created_by_id=invited_by.id if invited_by is not None else None,
    )
    link = public_url("/activate", token=raw, workspace_id=str(workspace.id))
    inviter = (invited_by.name or invited_by.email) if invited_by is not None else "Your team"
    send_email(
        to=user.email,
        subject=f"Activate your account for {workspace.name}",
        text=(
            f"{inviter} invited you to {workspace.name} on Narrative.\n\n"
            f"Choose your password to activate your account:\n{link}\n\n"
            "The link works once and expires in 7 days."
        ),
        workspace_id=workspace.id,
        kind="activation",
    )
    return raw


def validate_activation(*, token, workspace_id):
    """(user, workspace) for a valid activation link; 400 invalid_token otherwise."""
    row = tokens.peek_one_time_token(purpose=ACTIVATION, raw=token)
    if str(row.workspace_id) != str(workspace_id):
        raise tokens.InvalidOneTimeToken()
    return db.session.get(User, row.user_id), db.session.get(Workspace, row.workspace_id)


def complete_activation(*, token, password):
    """Set the password, activate the account and its invited membership, start a session."""
    check_password_strength(password)
    row = tokens.consume_one_time_token(purpose=ACTIVATION, raw=token)
    user = db.session.get(User, row.user_id)
    if user is None or user.status == "disabled":
        raise tokens.InvalidOneTimeToken()
    now = utcnow()
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.status = USER_ACTIVE
    user.email_verified_at = user.email_verified_at or now
    # Nobody is signed in yet: the link names the workspace whose membership it activates.
    with all_workspaces():
        member = db.session.scalar(
            db.select(Member).filter_by(workspace_id=row.workspace_id, user_id=user.id)
        )
    if member is not None and member.status == MEMBER_INVITED:
        member.status = MEMBER_ACTIVE
        member.joined_at = now
    user.last_login_at = now
    pair = start_session(user=user, workspace_id=row.workspace_id)
    return user, pair


def resend_activation(*, actor, workspace, target=None):
    """Send the activation email again, to `target` (a member of the workspace) or the actor themself."""
    target = target or actor
    if target.status == USER_ACTIVE and target.password_hash:
        raise Conflict("This account is already active.")
    send_activation_email(
        user=target, workspace=workspace, invited_by=actor if actor.id != target.id else None
    )
    return target


# --- passwords --------------------------------------------------------------------------------


def request_password_reset(*, email):
    """Email a reset link when the account exists; the caller answers the same either way."""
    email = normalise_email(email)
    user = find_user_by_email(email)
    if user is None or user.status == "disabled":
        return None
    tokens.expire_one_time_tokens(purpose=PASSWORD_RESET, user_id=user.id)
    _, raw = tokens.create_one_time_token(
        purpose=PASSWORD_RESET, expires_in=PASSWORD_RESET_SECONDS, user_id=user.id
    )
    link = public_url("/reset-password", token=raw)
    send_email(
        to=user.email,
        subject="Reset your Narrative password",
        text=(
            "Someone asked to reset the password of your Narrative account.\n\n"
            f"Choose a new password here (the link works once and expires in 1 hour):\n{link}\n\n"
            "If it was not you, ignore this email: your password stays as it is."
        ),
        kind="password_reset",
    )
    return raw


def set_password(*, user, password):
    """Set a new password and end every session of the user."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    tokens.revoke_all_sessions(user=user)


def reset_password(*, token, password):
    """Spend a reset token, set the password, end every session; the link proved the email."""
    check_password_strength(password)
    row = tokens.consume_one_time_token(purpose=PASSWORD_RESET, raw=token)
    user = db.session.get(User, row.user_id)
    if user is None or user.status == "disabled":
        raise tokens.InvalidOneTimeToken()
    set_password(user=user, password=password)
    user.email_verified_at = user.email_verified_at or utcnow()
    if user.status == USER_PENDING:
        user.status = USER_ACTIVE
    return user


def change_password(*, user, current_password, new_password):
    """The signed-in user's own change: proves the current password, ends every session."""
    if not verify_password(user.password_hash, current_password or ""):
        raise ApiError(
            "The current password is incorrect.",
            status=400,
            code="invalid_password",
            details=[{"field": "current_password", "message": "Incorrect password."}],
        )
    set_password(user=user, password=new_password)


# --- impersonation and external providers -----------------------------------------------------


def create_impersonation_token(*, target, workspace, created_by):
    """A 5-minute single-use token to open a session as `target` (support access)."""
    _, raw = tokens.create_one_time_token(
        purpose=IMPERSONATION,
        expires_in=IMPERSONATION_SECONDS,
        user_id=target.id,
        workspace_id=workspace.id if workspace is not None else None,
        created_by_id=created_by.id,
    )
    return raw


def exchange_impersonation_token(*, token):
    row = tokens.consume_one_time_token(purpose=IMPERSONATION, raw=token)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active:
        raise tokens.InvalidOneTimeToken()
    pair = start_session(user=user, workspace_id=row.workspace_id, impersonator_id=row.created_by_id)
    return user, pair


def clerk_check(*, presented_secret, email=None, clerk_id=None):
    """Clerk's frontend asks whether its signed-in user has an account here.

    Returns (exists, user, TokenPair or None). Never creates users.
    """
    import hmac

    secret = current_app.config.get("CLERK_SECRET_KEY")
    if not secret:
        raise ProviderNotConfigured("Clerk sign-in is not configured; set CLERK_SECRET_KEY.")
    if not presented_secret or not hmac.compare_digest(str(presented_secret), str(secret)):
        raise Unauthorized("The X-Clerk-Secret header is missing or wrong.", code="invalid_signature")
    user = None
    if clerk_id:
        user = db.session.scalar(db.select(User).filter_by(clerk_id=clerk_id))
    if user is None and email:
        user = find_user_by_email(email)
    if user is None or not user.is_active:
        return False, None, None
    if clerk_id and user.clerk_id is None:
        user.clerk_id = clerk_id
    user.last_login_at = utcnow()
    pair = start_session(user=user)
    return True, user, pair
