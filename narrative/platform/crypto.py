"""Encryption at rest of secrets we must be able to read back (webhook secrets, proxy headers,
AI provider keys): Fernet (AES-128-CBC + HMAC-SHA256) under keys derived from SECRET_KEY.

Each use names its own purpose label, so one leaked derived key opens only that purpose's data.
Two derivations exist because data encrypted before this module existed must stay readable:
"hkdf" (HKDF-SHA256 with the label as info; the default) and "hmac" (HMAC-SHA256 of the label).

    token = encrypt_text("narrative.ai.provider-key", "sk-...")
    decrypt_text("narrative.ai.provider-key", token)      # CannotDecrypt when SECRET_KEY changed
"""

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_FERNETS = {}


class CannotDecrypt(RuntimeError):
    """The ciphertext was made under another SECRET_KEY (or is not ours)."""


def hash_secret(raw):
    """The stored form of a random token or key (sessions, API keys, execution tokens).

    They carry at least 128 random bits, so a fast hash is right: there is nothing to brute-force.
    """
    return hashlib.sha256(raw.encode()).hexdigest()


def _derive(secret, purpose, kdf):
    if kdf == "hkdf":
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(
            secret.encode()
        )
    if kdf == "hmac":
        return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).digest()
    raise ValueError(f"unknown key derivation {kdf!r}")


def fernet_for(purpose, *, kdf="hkdf"):
    """The Fernet of `purpose` under the app's SECRET_KEY (cached per key, purpose and derivation)."""
    secret = current_app.config["SECRET_KEY"]
    cache_key = (secret, purpose, kdf)
    cached = _FERNETS.get(cache_key)
    if cached is None:
        cached = _FERNETS[cache_key] = Fernet(base64.urlsafe_b64encode(_derive(secret, purpose, kdf)))
    return cached


def encrypt_text(purpose, text, *, kdf="hkdf"):
    return fernet_for(purpose, kdf=kdf).encrypt(text.encode()).decode()


def decrypt_text(purpose, token, *, kdf="hkdf"):
    try:
        return fernet_for(purpose, kdf=kdf).decrypt(token.encode()).decode()
    except InvalidToken:
        raise CannotDecrypt(f"cannot decrypt a {purpose} value (was SECRET_KEY changed?)") from None


def mask_secret(value):
    """Enough to recognise a value (its last 4 characters, for long ones), never enough to use it."""
    value = str(value)
    if len(value) >= 12:
        return "****" + value[-4:]
    return "****"
