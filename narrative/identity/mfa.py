"""Two-step sign-in: TOTP codes (RFC 6238) from an authenticator app, and one-time backup codes.

The algorithm is the standard one every authenticator app speaks: HMAC-SHA1 over the number of
30-second steps since the Unix epoch, dynamically truncated to 6 digits (RFC 4226). The codes,
their check and the otpauth:// URI come from pyotp rather than our own HMAC code. A code is
accepted for its own step and one step either side (clocks of phones drift), and never twice: the
last step a user spent is remembered in Redis (`identity:mfa:last-step:<user>`), and any code of
that step or an earlier one is refused. The memory only has to outlive the acceptance window (a
step older than "now - 1" is refused anyway), so the key expires after a few steps.

Life cycle on the `User` row:

- enroll: `mfa_secret` holds a new secret and `mfa_backup_code_hashes` ten argon2 hashes; MFA is
  not on yet (`mfa_enabled_at` is None) — a second enroll replaces both;
- verify-enrollment: the first code proves the app holds the secret; `mfa_enabled_at` is set;
- sign-in: once enabled, a correct password is not enough. `require_second_factor` either accepts
  the code sent with the password or answers 403 `mfa_required` with a 5-minute single-use
  challenge token; `complete_challenge` turns that token plus a code (or a backup code) into the
  signed-in user. Every family's login calls `auth_service.login`, so the rule holds everywhere;
- disable: needs a current code (or a backup code); the secret and backup codes are erased.

Attempts are limited per user (`MFA_ATTEMPTS_LIMIT`), so a 6-digit code cannot be guessed by
trying: with three codes valid at a time, ten tries per ten minutes gives about one chance in
nine million per day.
"""

import secrets
import time
import uuid

import pyotp
from flask import current_app

from narrative.extensions import db
from narrative.identity import tokens
from narrative.identity.credential_models import MFA_CHALLENGE
from narrative.identity.models import User
from narrative.identity.passwords import hash_password, verify_password
from narrative.platform import unit_of_work
from narrative.platform.errors import ApiError, Conflict, Forbidden, ValidationFailed
from narrative.platform.models import utcnow
from narrative.platform.ratelimit import check
from narrative.platform.redis import get_redis

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
# 32 base32 characters = 160 bits, the size RFC 4226 recommends for HMAC-SHA1.
SECRET_LENGTH = 32
BACKUP_CODE_COUNT = 10
# Lowercase letters and digits without look-alikes (0/o, 1/l/i): easy to read off a printout.
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
BACKUP_CODE_LENGTH = 10  # about 49 bits each, written as xxxxx-xxxxx
CHALLENGE_SECONDS = 300
MFA_ATTEMPTS_LIMIT = "10/10 minutes"
MFA_ATTEMPTS_SCOPE = "mfa-attempts"
LAST_STEP_KEY = "identity:mfa:last-step:"
# Long enough that a remembered step has left the acceptance window before it is forgotten.
LAST_STEP_TTL_SECONDS = (2 * DRIFT_STEPS + 3) * STEP_SECONDS
ISSUER_NAME = "Narrative"

TOTP = "totp"
BACKUP_CODE = "backup_code"

# Remember `step` as spent unless it (or a later step) already is: atomic across web nodes.
_SPEND_STEP = """
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class InvalidMfaCode(ApiError):
    status = 400
    code = "invalid_mfa_code"
    message = "The code is not valid (or has already been used); enter the current code from your app."


class MfaRequired(Forbidden):
    """A correct password for an account with MFA: the answer carries the challenge token."""

    code = "mfa_required"
    message = "Enter the code from your authenticator app (or a backup code) to finish signing in."

    def __init__(self, challenge_token):
        super().__init__(
            extra={
                "mfa_required": True,
                "mfa_token": challenge_token,
                "mfa_expires_in": CHALLENGE_SECONDS,
                "mfa_methods": [TOTP, BACKUP_CODE],
            }
        )


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"
    message = "Two-step sign-in is not switched on for this account."


# --- TOTP (RFC 6238), computed by pyotp -----------------------------------------------------------


def new_secret():
    """A random base32 secret, without padding (what authenticator apps expect)."""
    return pyotp.random_base32(length=SECRET_LENGTH)


def _totp(secret):
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS, issuer=ISSUER_NAME)


def clock():
    """Now, in Unix seconds (one place to read the time, so tests can move it)."""
    return time.time()


def time_step(at=None):
    return int((clock() if at is None else at) // STEP_SECONDS)


def code_for_step(secret, step):
    """The code of one time step: HOTP (RFC 4226) with the step as the counter."""
    return _totp(secret).generate_otp(step)


def _normalise_code(code):
    """The code as six ASCII digits, or None. ASCII only: pyotp would also match full-width digits."""
    code = str(code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    return code


def matching_step(secret, code, *, at=None):
    """The time step within the drift window whose code is `code`, or None."""
    code = _normalise_code(code)
    if code is None:
        return None
    totp = _totp(secret)
    now = clock() if at is None else at
    if not totp.verify(code, for_time=now, valid_window=DRIFT_STEPS):
        return None
    # verify() says whether, not which: the replay memory needs the step. The latest matching
    # step wins, so a code that also happens to match an earlier step cannot be spent twice.
    current = time_step(now)
    for step in range(current + DRIFT_STEPS, current - DRIFT_STEPS - 1, -1):
        if totp.verify(code, for_time=step * STEP_SECONDS):
            return step
    return None


def provisioning_uri(secret, *, account):
    """The otpauth:// URI authenticator apps read from a QR code (Key Uri Format)."""
    return _totp(secret).provisioning_uri(name=account, issuer_name=ISSUER_NAME)


def _spend_step(user_id, step):
    """True when `step` had not been used by this user (and now is)."""
    spent = get_redis().eval(_SPEND_STEP, 1, LAST_STEP_KEY + str(user_id), step, LAST_STEP_TTL_SECONDS)
    return bool(int(spent))


# --- backup codes -------------------------------------------------------------------------------


def _new_backup_code():
    raw = "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
    half = BACKUP_CODE_LENGTH // 2
    return f"{raw[:half]}-{raw[half:]}"


def _normalise_backup_code(code):
    return "".join(ch for ch in str(code or "").lower() if ch.isalnum())


def _spend_backup_code(user, code):
    """Remove the matching hash from the user's list; False when no unused code matches."""
    normalised = _normalise_backup_code(code)
    if len(normalised) != BACKUP_CODE_LENGTH:
        return False
    _lock(user)
    hashes = list(user.mfa_backup_code_hashes or [])
    for stored in hashes:
        if verify_password(stored, normalised):
            hashes.remove(stored)
            user.mfa_backup_code_hashes = hashes  # a new list, so the JSON column is written
            return True
    return False


def _lock(user):
    """Re-read the user row under a row lock (PostgreSQL), so a backup code is spent only once."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(
            db.select(User)
            .where(User.id == user.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )


# --- checking a second factor -------------------------------------------------------------------


def _limit_attempts(user):
    check(MFA_ATTEMPTS_SCOPE, str(user.id), MFA_ATTEMPTS_LIMIT)


def _accept_code(user, code, *, secret=None):
    """Which kind of code `code` was (TOTP or backup code), or None when it is not accepted."""
    secret = secret or user.mfa_secret
    if not secret:
        return None
    step = matching_step(secret, code)
    if step is not None:
        return TOTP if _spend_step(user.id, step) else None
    if user.mfa_enabled and _spend_backup_code(user, code):
        return BACKUP_CODE
    return None


def verify_code(*, user, code, status=400):
    """Check a TOTP or backup code of a user with MFA on; raises `InvalidMfaCode` (with `status`)."""
    if not user.mfa_enabled:
        raise MfaNotEnabled()
    if not str(code or "").strip():
        raise ValidationFailed(details=[{"field": "code", "message": "Enter the code from your app."}])
    _limit_attempts(user)
    method = _accept_code(user, code)
    if method is None:
        raise InvalidMfaCode(status=status)
    return method


# --- the sign-in hook -----------------------------------------------------------------------------


def require_second_factor(*, user, code=None, workspace_id=None):
    """Call after the password checked out. Returns at once when the user has no MFA or `code`
    is valid; otherwise raises 403 `mfa_required` with a challenge token (kept), or 401
    `invalid_mfa_code` when a code was sent and is wrong.
    """
    if not user.mfa_enabled:
        return None
    if code:
        return verify_code(user=user, code=code, status=401)
    # The challenge is handed out with a 403, which rolls the request back: it is kept apart.
    with unit_of_work.independent_transaction() as session:
        _, raw = tokens.create_one_time_token(
            purpose=MFA_CHALLENGE,
            expires_in=CHALLENGE_SECONDS,
            user_id=user.id,
            # In `data`, not the workspace column: an id sent by the client need not exist.
            data={"workspace_id": str(workspace_id)} if workspace_id else None,
            session=session,
        )
    raise MfaRequired(raw)


def complete_challenge(*, token, code, workspace_id=None):
    """Spend a challenge token with a valid code; returns (user, workspace_id for the session).

    A wrong code keeps the token usable until it expires (the attempts limit still applies), so
    a typo does not send the user back to the password form.
    """
    row = tokens.peek_one_time_token(purpose=MFA_CHALLENGE, raw=token)
    user = db.session.get(User, row.user_id)
    if user is None or not user.is_active or not user.mfa_enabled:
        raise tokens.InvalidOneTimeToken()
    if not str(code or "").strip():
        raise ValidationFailed(
            details=[{"field": "mfa_code", "message": "Enter the code from your authenticator app."}]
        )
    verify_code(user=user, code=code, status=401)
    tokens.consume_one_time_token(purpose=MFA_CHALLENGE, raw=token)
    requested = (row.data or {}).get("workspace_id")
    return user, workspace_id or (uuid.UUID(requested) if requested else None)


# --- enrollment and removal -----------------------------------------------------------------------


def describe(user):
    """What the MFA status endpoint shows."""
    return {
        "enabled": user.mfa_enabled,
        "mfa_enabled": user.mfa_enabled,
        "enrollment_pending": bool(user.mfa_secret) and not user.mfa_enabled,
        "enabled_at": user.mfa_enabled_at,
        "backup_codes_remaining": len(user.mfa_backup_code_hashes or []) if user.mfa_enabled else 0,
        "methods": [TOTP, BACKUP_CODE] if user.mfa_enabled else [],
    }


def start_enrollment(*, user):
    """A new secret and backup codes (shown once); MFA switches on after `confirm_enrollment`."""
    if user.mfa_enabled:
        raise Conflict(
            "Two-step sign-in is already on; disable it first to enroll a new device.",
            code="mfa_already_enabled",
        )
    secret = new_secret()
    codes = [_new_backup_code() for _ in range(BACKUP_CODE_COUNT)]
    user.mfa_secret = secret
    user.mfa_backup_code_hashes = [hash_password(_normalise_backup_code(code)) for code in codes]
    return {
        "secret": secret,
        "otpauth_uri": provisioning_uri(secret, account=user.email),
        "issuer": ISSUER_NAME,
        "digits": DIGITS,
        "period": STEP_SECONDS,
        "algorithm": "SHA1",
        "backup_codes": codes,
    }


def confirm_enrollment(*, user, code):
    """The first code from the app proves it holds the secret: MFA is on from now."""
    if user.mfa_enabled:
        raise Conflict("Two-step sign-in is already on.", code="mfa_already_enabled")
    if not user.mfa_secret:
        raise Conflict("Start with /mfa/enroll to get a secret for your app.", code="mfa_not_enrolled")
    if not str(code or "").strip():
        raise ValidationFailed(details=[{"field": "code", "message": "Enter the code from your app."}])
    _limit_attempts(user)
    step = matching_step(user.mfa_secret, code)
    if step is None or not _spend_step(user.id, step):
        raise InvalidMfaCode()
    user.mfa_enabled_at = utcnow()
    return user


def disable(*, user, code):
    """Switch MFA off after a current code (or a backup code); the caller ends other sessions."""
    verify_code(user=user, code=code)
    user.mfa_secret = None
    user.mfa_enabled_at = None
    user.mfa_backup_code_hashes = []
    current_app.logger.info("mfa disabled", extra={"fields": {"user_id": str(user.id)}})
    return user
