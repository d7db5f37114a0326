"""Sign-in through Supabase Auth: a Supabase session becomes a Narrative session.

The frontend signs the user in with Supabase (OAuth or magic link) using the public project URL
and anon key from `public_config()`, then posts the Supabase access token to the exchange
endpoint. The token is a JWT signed with the project's JWT secret (HS256, audience
"authenticated", issuer `<SUPABASE_URL>/auth/v1`); once verified, its email names the Narrative
account to sign in. Supabase proves the person controls the address, but it does not invite them
to a workspace: accounts are not created here (signup and invitations do that), and an account
with two-step sign-in still asks for its code.
"""

import jwt as pyjwt
from flask import current_app

from narrative.identity import mfa
from narrative.identity.auth_service import AccountNotActive, start_session
from narrative.identity.service import find_user_by_email, normalise_email
from narrative.platform.errors import Forbidden, ProviderNotConfigured, Unauthorized, ValidationFailed
from narrative.platform.models import utcnow

AUDIENCE = "authenticated"
# Clock difference tolerated between Supabase and this server when checking exp/iat.
LEEWAY_SECONDS = 30


class InvalidSupabaseToken(Unauthorized):
    code = "invalid_token"
    message = "The Supabase access token is not valid."


class NoAccountForEmail(Forbidden):
    code = "account_not_found"
    message = "No Narrative account uses this email address; ask a workspace admin for an invitation."


def public_config():
    """What a browser needs to start a Supabase sign-in (both values are public by design)."""
    url = current_app.config.get("SUPABASE_URL")
    anon_key = current_app.config.get("SUPABASE_ANON_KEY")
    return {
        "configured": bool(url and anon_key),
        "url": url,
        "anon_key": anon_key,
        "exchange_enabled": bool(current_app.config.get("SUPABASE_JWT_SECRET")),
    }


def _jwt_secret():
    secret = current_app.config.get("SUPABASE_JWT_SECRET")
    if not secret:
        raise ProviderNotConfigured(
            "Supabase sign-in is not configured; set SUPABASE_JWT_SECRET (and SUPABASE_URL and "
            "SUPABASE_ANON_KEY for the frontend)."
        )
    return secret


def _expected_issuer():
    url = current_app.config.get("SUPABASE_URL")
    return url.rstrip("/") + "/auth/v1" if url else None


def verify_access_token(token):
    """The claims of a genuine, unexpired Supabase access token; 401 otherwise."""
    secret = _jwt_secret()
    if not token or not isinstance(token, str):
        raise ValidationFailed(
            details=[{"field": "access_token", "message": "Send the Supabase access token."}]
        )
    issuer = _expected_issuer()
    try:
        claims = pyjwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "sub", "aud"] + (["iss"] if issuer else [])},
        )
    except pyjwt.ExpiredSignatureError:
        raise InvalidSupabaseToken("The Supabase access token has expired.", code="token_expired") from None
    except pyjwt.InvalidTokenError:
        raise InvalidSupabaseToken() from None
    return claims


def exchange(*, access_token, workspace_id=None, mfa_code=None):
    """Verify the Supabase token and start a session for its account; returns (user, TokenPair).

    Raises 403 `mfa_required` (with a challenge token) for accounts with two-step sign-in when no
    code is sent, like the password login.
    """
    claims = verify_access_token(access_token)
    email = claims.get("email")
    if not email:
        raise InvalidSupabaseToken("The Supabase token carries no email address.")
    try:
        user = find_user_by_email(normalise_email(email))
    except ValidationFailed:
        raise InvalidSupabaseToken("The Supabase token carries no valid email address.") from None
    if user is None:
        raise NoAccountForEmail()
    if not user.is_active:
        raise AccountNotActive()
    mfa.require_second_factor(user=user, code=mfa_code, workspace_id=workspace_id)
    user.last_login_at = utcnow()
    # Supabase proved control of the address.
    user.email_verified_at = user.email_verified_at or utcnow()
    return user, start_session(user=user, workspace_id=workspace_id)
