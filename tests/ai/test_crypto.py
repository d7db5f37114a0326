"""narrative.platform.crypto: purpose-bound encryption at rest under SECRET_KEY (AI keys, webhooks, proxy)."""

import pytest

from narrative.platform import crypto


def test_round_trip_is_bound_to_purpose_derivation_and_secret_key(app):
    token = crypto.encrypt_text("narrative.ai.provider-key", "sk-secret-value")
    assert "sk-secret-value" not in token
    assert crypto.decrypt_text("narrative.ai.provider-key", token) == "sk-secret-value"
    with pytest.raises(crypto.CannotDecrypt):
        crypto.decrypt_text("narrative.webhooks.secret", token)
    with pytest.raises(crypto.CannotDecrypt):
        crypto.decrypt_text("narrative.ai.provider-key", token, kdf="hmac")
    original = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = original + "-rotated"
    try:
        with pytest.raises(crypto.CannotDecrypt):
            crypto.decrypt_text("narrative.ai.provider-key", token)
    finally:
        app.config["SECRET_KEY"] = original


def test_existing_webhook_and_proxy_ciphertexts_stay_readable(app):
    """The derivations the webhook and proxy code used before the move, recomputed independently."""
    import base64
    import hashlib
    import hmac

    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    secret = app.config["SECRET_KEY"].encode()
    hkdf_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"narrative.webhooks.secret"
    ).derive(secret)
    old_webhook = Fernet(base64.urlsafe_b64encode(hkdf_key)).encrypt(b"whsec_x").decode()
    assert crypto.decrypt_text("narrative.webhooks.secret", old_webhook) == "whsec_x"
    hmac_key = hmac.new(secret, b"narrative.proxy.upstream-headers", hashlib.sha256).digest()
    old_proxy = Fernet(base64.urlsafe_b64encode(hmac_key)).encrypt(b"{}").decode()
    assert crypto.decrypt_text("narrative.proxy.upstream-headers", old_proxy, kdf="hmac") == "{}"


def test_mask_secret_shows_only_the_last_four_of_long_values():
    assert crypto.mask_secret("sk-abcdefghijkl1234") == "****1234"
    assert crypto.mask_secret("short") == "****"
