"""SaltEdge Account Information API v6 over HTTP: customers, connect sessions, connections, accounts,
transactions, and the signature check of SaltEdge's callbacks.

Settings (app config, else the environment):

- ``SALTEDGE_APP_ID``, ``SALTEDGE_SECRET``: the API keys, sent as the ``App-id`` and ``Secret``
  headers of every request. Without them the endpoints that need SaltEdge answer 503
  ``provider_not_configured``.
- ``SALTEDGE_BASE_URL``: default ``https://www.saltedge.com/api/v6``.
- ``SALTEDGE_PUBLIC_KEY``: SaltEdge's callback-signing public key (PEM text, or
  ``SALTEDGE_PUBLIC_KEY_FILE`` a path to it). Callbacks are refused while it is unset.
- ``SALTEDGE_CALLBACK_URL``: the callback URL as registered in SaltEdge's dashboard (the signed
  string starts with it); default: ``PUBLIC_APP_URL`` (or the request's host) plus the path.
- ``SALTEDGE_RETURN_URL``: where SaltEdge Connect sends the user back (``attempt.return_to``).

Wire format (v6): request bodies are ``{"data": {...}}``; answers are ``{"data": ..., "meta":
{"next_id": ..., "next_page": ...}}`` for lists, which continue with ``from_id=<next_id>`` until
``next_id`` is null; errors are ``{"error": {"class": ..., "message": ...}}``.

Callbacks carry a ``Signature`` header: base64 of an RSA PKCS#1 v1.5 SHA-256 signature, made with
SaltEdge's private key, over ``"<callback_url>|<raw request body>"``.
"""

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import current_app

from narrative.platform.errors import ApiError, ProviderNotConfigured

DEFAULT_BASE_URL = "https://www.saltedge.com/api/v6"
REQUIRED_SETTINGS = ("SALTEDGE_APP_ID", "SALTEDGE_SECRET")
# What we ask the customer to consent to, and fetch.
CONSENT_SCOPES = ["accounts", "transactions"]
MAX_PAGES = 1000  # a runaway next_id loop stops here


class SaltEdgeError(ApiError):
    """SaltEdge answered with an error, or not at all: a 502 naming what it said."""

    status = 502
    code = "provider_error"


def setting(name, default=None):
    """A SaltEdge setting from the app's config (config.py reads the environment)."""
    return current_app.config.get(name) or default


def is_configured():
    return all(setting(name) for name in REQUIRED_SETTINGS)


def require_configured():
    missing = [name for name in REQUIRED_SETTINGS if not setting(name)]
    if missing:
        raise ProviderNotConfigured(
            "SaltEdge is not configured: set "
            + " and ".join(missing)
            + " (and SALTEDGE_PUBLIC_KEY for callbacks).",
            extra={"provider": "saltedge", "settings": list(missing)},
        )


def public_key_pem():
    pem = setting("SALTEDGE_PUBLIC_KEY")
    path = setting("SALTEDGE_PUBLIC_KEY_FILE")
    if not pem and path:
        with open(path) as handle:
            pem = handle.read()
    return pem.replace("\\n", "\n") if pem else None


def verify_signature(*, signature, urls, body, pem):
    """Whether `signature` (the header, base64) signs "url|body" for one of the candidate `urls`."""
    if not signature or not pem:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError):
        return False
    body = body if isinstance(body, bytes) else body.encode()
    for url in dict.fromkeys(u for u in urls if u):
        try:
            key.verify(raw, url.encode() + b"|" + body, padding.PKCS1v15(), hashes.SHA256())
            return True
        except InvalidSignature:
            continue
    return False


class SaltEdgeClient:
    """One SaltEdge application's API; every call goes through the platform's outbound client."""

    def __init__(self, *, app_id, secret, base_url=DEFAULT_BASE_URL, http=None):
        self.app_id = app_id
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self._http = http

    @classmethod
    def from_settings(cls):
        require_configured()
        return cls(
            app_id=setting("SALTEDGE_APP_ID"),
            secret=setting("SALTEDGE_SECRET"),
            base_url=setting("SALTEDGE_BASE_URL", DEFAULT_BASE_URL),
        )

    @property
    def http(self):
        if self._http is None:
            from narrative.platform.outbound import safe_client

            self._http = safe_client()
        return self._http

    def close(self):
        if self._http is not None:
            self._http.close()

    # ---- plumbing -----------------------------------------------------------------------------

    def _headers(self):
        return {
            "Accept": "application/json",
            "Content-type": "application/json",
            "App-id": self.app_id,
            "Secret": self.secret,
        }

    def request(self, method, path, *, params=None, data=None):
        """One call; returns the decoded JSON answer or raises SaltEdgeError."""
        body = {"data": data} if data is not None else None
        response = self.http.fetch(
            method, self.base_url + path, params=params, json=body, headers=self._headers()
        )
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if response.status_code >= 400:
            raise self._error(response.status_code, payload)
        return payload

    @staticmethod
    def _error(status, payload):
        error = payload.get("error") if isinstance(payload, dict) else None
        error = error if isinstance(error, dict) else {}
        what = error.get("class") or "Error"
        said = error.get("message") or "no details"
        if status in (401, 403):
            text = f"SaltEdge rejected the credentials ({status} {what}: {said}); check SALTEDGE_APP_ID and SALTEDGE_SECRET."
        else:
            text = f"SaltEdge answered {status} {what}: {said}"
        return SaltEdgeError(
            text, extra={"provider": "saltedge", "provider_status": status, "provider_error": what}
        )

    def pages(self, path, params):
        """Each page's `data` list of a paginated list, following meta.next_id with from_id."""
        params = dict(params)
        for _ in range(MAX_PAGES):
            payload = self.request("GET", path, params=params)
            yield payload.get("data") or []
            next_id = (payload.get("meta") or {}).get("next_id")
            if not next_id:
                return
            params["from_id"] = next_id

    # ---- resources ----------------------------------------------------------------------------

    def create_customer(self, identifier):
        """The customer id for `identifier`, creating the customer (or finding it, when it exists)."""
        try:
            payload = self.request("POST", "/customers", data={"identifier": identifier})
        except SaltEdgeError as error:
            if error.extra.get("provider_error") != "DuplicatedCustomer":
                raise
            return self.find_customer(identifier)
        data = payload.get("data") or {}
        return str(data.get("customer_id") or data.get("id"))

    def find_customer(self, identifier):
        for page in self.pages("/customers", {}):
            for customer in page:
                if customer.get("identifier") == identifier:
                    return str(customer.get("customer_id") or customer.get("id"))
        raise SaltEdgeError(f"SaltEdge says customer {identifier!r} exists but does not list it.")

    def create_connect_session(self, *, customer_id, return_to=None, from_date=None):
        """A SaltEdge Connect session for the customer: {"connect_url", "expires_at", ...}."""
        consent = {"scopes": CONSENT_SCOPES}
        if from_date is not None:
            consent["from_date"] = from_date.isoformat()
        data = {"customer_id": customer_id, "consent": consent}
        attempt = {"fetch_scopes": CONSENT_SCOPES}
        if return_to:
            attempt["return_to"] = return_to
        data["attempt"] = attempt
        payload = self.request("POST", "/connections/connect", data=data)
        session = payload.get("data") or {}
        if not session.get("connect_url"):
            raise SaltEdgeError("SaltEdge created no connect_url.")
        return session

    def connections(self, customer_id):
        for page in self.pages("/connections", {"customer_id": customer_id}):
            yield from page

    def connection(self, connection_id):
        return self.request("GET", f"/connections/{connection_id}").get("data") or {}

    def accounts(self, connection_id):
        for page in self.pages("/accounts", {"connection_id": connection_id}):
            yield from page

    def transaction_pages(self, connection_id, account_id):
        yield from self.pages("/transactions", {"connection_id": connection_id, "account_id": account_id})
