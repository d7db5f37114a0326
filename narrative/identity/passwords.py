"""Password hashing with argon2id (RFC 9106 second recommendation: 19 MiB, t=2, p=1)."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

_production = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# The test profile only: the same algorithm with tiny cost, so the suite stays fast.
_fast = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def _hasher():
    return _fast if current_app.config.get("PASSWORD_HASH_FAST") else _production


def hash_password(password):
    return _hasher().hash(password)


def verify_password(password_hash, password):
    if not password_hash:
        return False
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash):
    return _hasher().check_needs_rehash(password_hash)
