"""Webhook secrets and Standard Webhooks signatures.

Secrets look like `whsec_<base64 of 32 random bytes>`; the signing key is the decoded base64 part,
exactly as the Standard Webhooks specification (and its reference verifiers) read it. Each request
carries:

    webhook-id: msg_...                    (the same on every retry of one message)
    webhook-timestamp: 1718000000          (seconds since the epoch, when this attempt was signed)
    webhook-signature: v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")> [v1,<...> ...]

During a rotation's grace period the header holds one signature per live secret, separated by
spaces, so receivers still holding the old secret keep verifying. The signature itself is computed
by the `standardwebhooks` library (the specification's reference implementation), so ours cannot
drift from what receivers verify; we only check the secret's format first, more strictly than it
does (strict base64, a sensible key length), so a bad secret is refused when it is set.

At rest a secret is encrypted with Fernet (AES-128-CBC + HMAC) under a key derived from SECRET_KEY
with HKDF, so a database dump alone does not reveal it. We must keep the secret itself (not a hash)
because signing needs it.
"""

import base64
import binascii
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from narrative.platform.crypto import CannotDecrypt, decrypt_text, encrypt_text

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
_ENCRYPTED_PREFIX = "fernet:"


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key_bytes(secret):
    """The HMAC key of a `whsec_` secret; ValueError when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"must start with {SECRET_PREFIX}")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {SECRET_PREFIX} followed by base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"the key must be {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes once decoded")
    return key


def sign(secret, *, message_id, timestamp, body):
    """One `v1,<signature>` for `body` (str, signed as its UTF-8 bytes) under `secret`."""
    # The library is handed the key we validated, not the string it would decode more leniently.
    webhook = Webhook(secret_key_bytes(secret))
    return webhook.sign(message_id, datetime.fromtimestamp(int(timestamp), tz=UTC), body)


def signature_header(secrets_in_use, *, message_id, timestamp, body):
    return " ".join(sign(s, message_id=message_id, timestamp=timestamp, body=body) for s in secrets_in_use)


_PURPOSE = "narrative.webhooks.secret"


def encrypt_secret(secret):
    return _ENCRYPTED_PREFIX + encrypt_text(_PURPOSE, secret)


def decrypt_secret(stored):
    """The plain secret; a RuntimeError when SECRET_KEY changed since it was encrypted."""
    if not stored.startswith(_ENCRYPTED_PREFIX):
        raise RuntimeError("unknown webhook secret format")
    try:
        return decrypt_text(_PURPOSE, stored[len(_ENCRYPTED_PREFIX) :])
    except CannotDecrypt:
        raise RuntimeError("the webhook secret cannot be decrypted (was SECRET_KEY changed?)") from None


def masked(last4):
    return f"{SECRET_PREFIX}{'*' * 8}{last4}"
