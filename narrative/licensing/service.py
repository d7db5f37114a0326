"""Licence tiers (Community, Pro, Enterprise), signed licence keys, and the gates other domains use.

Every organisation (workspace) runs on Community until an admin applies a licence key: a JWT
signed by the vendor with Ed25519 (`alg: EdDSA`) or RSA (`alg: RS256`), verified against
`LICENSE_PUBLIC_KEY` (the algorithm follows from the key's type, never from the token). Claims:

    {"aud": "<LICENSE_AUDIENCE>", "exp": ..., "iat": ..., "jti": "lic_123", "tier": "pro",
     "sub": "Acme Ltd",                      # the licensee, shown in the status
     "features": ["extra_feature"],          # optional, beyond the tier's table
     "limits": {"users": 250},               # optional overrides of the tier's limits
     "workspace_id": "<uuid>"}               # optional: the key works for this organisation only

`iss` is checked when `LICENSE_ISSUER` is set. A licence number (`jti`) is in force in one
organisation at a time. An expired licence stops counting at its `exp`: the tier falls back to
Community without anyone reverting it.

Other domains gate their endpoints with the decorators (below `require(...)`)::

    @require("automations.write")
    @require_tier("pro")                 # 403 license_required, naming the tier
    def create_automation(...): ...

and read `current_tier(workspace_id)`, `has_feature(workspace_id, "automations")`,
`check_limit(workspace_id=, limit="users", current=n)` in services.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path

import jwt
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import current_app

from narrative.extensions import db
from narrative.licensing.models import REPLACED, REVERTED, REVOKED, License
from narrative.platform.caller import current_caller
from narrative.platform.errors import ApiError, Conflict, Forbidden, ProviderNotConfigured
from narrative.platform.models import utcnow
from narrative.platform.tenancy import all_workspaces, current_workspace_id, workspace_scope

COMMUNITY = "community"
PRO = "pro"
ENTERPRISE = "enterprise"
TIER_ORDER = (COMMUNITY, PRO, ENTERPRISE)
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True)
class Tier:
    key: str
    name: str
    features: tuple[str, ...]
    # None means unlimited.
    limits: dict = field(default_factory=dict)


_COMMUNITY_FEATURES = ("chat", "agents", "knowledge_bases", "integrations", "api_keys", "marketplace")
_PRO_FEATURES = (
    *_COMMUNITY_FEATURES,
    "automations",
    "webpages",
    "skills",
    "meeting_notes",
    "ticket_assistant",
)
_ENTERPRISE_FEATURES = (*_PRO_FEATURES, "audit", "compliance", "sso")

TIERS = {
    COMMUNITY: Tier(
        COMMUNITY,
        "Community",
        _COMMUNITY_FEATURES,
        {"users": 25, "agents": 5, "knowledge_bases": 3, "storage_mb": 1024},
    ),
    PRO: Tier(
        PRO,
        "Pro",
        _PRO_FEATURES,
        {"users": 250, "agents": 100, "knowledge_bases": 100, "storage_mb": 102400},
    ),
    ENTERPRISE: Tier(
        ENTERPRISE,
        "Enterprise",
        _ENTERPRISE_FEATURES,
        {"users": None, "agents": None, "knowledge_bases": None, "storage_mb": None},
    ),
}


class InvalidLicense(ApiError):
    status = 422
    code = "invalid_license"

    def __init__(self, message, *, reason):
        super().__init__(
            message,
            details=[{"field": "license_key", "message": message}],
            extra={"reason": reason},
        )


class LicenseRequired(Forbidden):
    code = "license_required"

    def __init__(self, *, required_tier, tier, feature=None):
        what = f"the '{feature}' feature" if feature else "this"
        super().__init__(
            f"{TIERS[required_tier].name} licence required: {what} needs the {TIERS[required_tier].name} "
            f"tier or above (this organisation runs on {TIERS[tier].name}).",
            extra={"required_tier": required_tier, "tier": tier, **({"feature": feature} if feature else {})},
        )


class LicenseLimitReached(Forbidden):
    code = "license_limit_reached"


# --- the public key ----------------------------------------------------------------------------


def _configured_key_text():
    value = (current_app.config.get("LICENSE_PUBLIC_KEY") or "").strip()
    if not value:
        raise ProviderNotConfigured(
            "Licence keys cannot be verified: set LICENSE_PUBLIC_KEY to the vendor's Ed25519 or RSA "
            "public key (PEM text or a file path)."
        )
    if "-----BEGIN" not in value:
        path = Path(value)
        if path.is_file():
            return path.read_text()
    # Environment variables often carry a PEM's newlines as "\n".
    return value.replace("\\n", "\n")


def verification_key():
    """(public key, JWT algorithm) from the settings; 503 when unset or not an Ed25519/RSA key."""
    text = _configured_key_text()
    try:
        key = load_pem_public_key(text.encode())
    except ValueError:
        raise ProviderNotConfigured(
            "LICENSE_PUBLIC_KEY is not a PEM public key; set it to the vendor's Ed25519 or RSA public key."
        ) from None
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key, "EdDSA"
    if isinstance(key, rsa.RSAPublicKey):
        return key, "RS256"
    raise ProviderNotConfigured("LICENSE_PUBLIC_KEY must be an Ed25519 or RSA public key.")


# --- verifying a key ---------------------------------------------------------------------------

_REASONS = (
    (jwt.ExpiredSignatureError, "expired", "This licence key has expired."),
    (jwt.ImmatureSignatureError, "not_yet_valid", "This licence key is not valid yet."),
    (jwt.InvalidAudienceError, "audience", "This licence key was issued for another product."),
    (jwt.InvalidIssuerError, "issuer", "This licence key was not issued by the expected vendor."),
    (jwt.MissingRequiredClaimError, "malformed", "This licence key lacks a required claim."),
    (jwt.InvalidSignatureError, "signature", "The licence key's signature is not valid."),
    (jwt.InvalidAlgorithmError, "signature", "The licence key is not signed with the vendor's key type."),
)


def verify_license_key(token, *, workspace_id=None):
    """The verified claims of a licence key; 422 invalid_license (with a `reason`) otherwise."""
    key, algorithm = verification_key()
    token = (token or "").strip()
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=current_app.config.get("LICENSE_AUDIENCE") or "narrative-assistant",
            issuer=current_app.config.get("LICENSE_ISSUER") or None,
            leeway=CLOCK_SKEW_SECONDS,
            options={"require": ["exp", "aud", "tier"]},
        )
    except jwt.PyJWTError as error:
        for kind, reason, message in _REASONS:
            if isinstance(error, kind):
                raise InvalidLicense(message, reason=reason) from None
        raise InvalidLicense("This is not a licence key (a signed JWT).", reason="malformed") from None
    return _checked_claims(claims, workspace_id)


def _checked_claims(claims, workspace_id):
    tier = str(claims.get("tier", "")).lower()
    if tier not in TIERS:
        raise InvalidLicense(f"Unknown licence tier {claims.get('tier')!r}.", reason="tier")
    bound_to = claims.get("workspace_id")
    if bound_to is not None and workspace_id is not None and str(bound_to) != str(workspace_id):
        raise InvalidLicense("This licence key was issued for another organisation.", reason="workspace")
    features = claims.get("features") or []
    limits = claims.get("limits") or {}
    if not isinstance(features, list) or not isinstance(limits, dict):
        raise InvalidLicense("The licence key's features or limits are malformed.", reason="malformed")
    return {**claims, "tier": tier, "features": [str(f) for f in features], "limits": limits}


def _timestamp(value):
    return datetime.fromtimestamp(int(value), UTC) if value is not None else None


# --- applying and reverting --------------------------------------------------------------------


def active_license(workspace_id):
    """The licence in force for the workspace (applied, not retired, not expired), or None."""
    if workspace_id is None:
        return None
    # The workspace named, which callers (a request, a platform admin's view) pass explicitly.
    with workspace_scope(workspace_id):
        return db.session.scalar(
            sa.select(License)
            .where(License.revoked_at.is_(None), License.expires_at > utcnow())
            .order_by(License.created_at.desc())
            .limit(1)
        )


def _retire(rows, reason):
    now = utcnow()
    for row in rows:
        row.revoked_at = now
        row.revoked_reason = reason


def _unretired():
    """The current workspace's licences not retired yet."""
    return db.session.scalars(sa.select(License).where(License.revoked_at.is_(None))).all()


def apply_license(*, workspace_id, license_key, applied_by=None):
    """Verify a licence key and put it in force for the workspace (the previous one is replaced)."""
    claims = verify_license_key(license_key, workspace_id=workspace_id)
    digest = hashlib.sha256(license_key.strip().encode()).hexdigest()
    license_id = str(claims.get("jti") or digest)
    # A licence number is in force in one organisation at a time: look in every other one.
    with all_workspaces():
        in_use_elsewhere = db.session.scalar(
            sa.select(License.id).where(
                License.license_id == license_id,
                License.workspace_id != workspace_id,
                License.revoked_at.is_(None),
                License.expires_at > utcnow(),
            )
        )
    if in_use_elsewhere is not None:
        raise Conflict("This licence key is already in use by another organisation.")
    _retire(_unretired(), REPLACED)
    row = License(
        workspace_id=workspace_id,
        license_id=license_id,
        tier=claims["tier"],
        licensee=str(claims["sub"])[:300] if claims.get("sub") else None,
        features=claims["features"],
        limits=claims["limits"],
        issued_at=_timestamp(claims.get("iat")),
        expires_at=_timestamp(claims["exp"]),
        token_sha256=digest,
        applied_by_id=applied_by.id if applied_by is not None else None,
    )
    db.session.add(row)
    db.session.flush()
    return row


def revert_license():
    """Back to Community: the current workspace's licence in force (if any) is retired. Returns how
    many were retired."""
    rows = _unretired()
    _retire(rows, REVERTED)
    db.session.flush()
    return len(rows)


def revoke_license(*, license_id):
    """The vendor revoked a licence number: it stops counting in every organisation that applied it."""
    # The vendor's revocation concerns every organisation that applied the licence number.
    with all_workspaces():
        rows = db.session.scalars(
            sa.select(License).where(License.license_id == str(license_id), License.revoked_at.is_(None))
        ).all()
        _retire(rows, REVOKED)
        db.session.flush()
    return len(rows)


# --- what a workspace may do -------------------------------------------------------------------


def current_tier(workspace_id=None):
    """The workspace's tier key ("community", "pro" or "enterprise")."""
    row = active_license(workspace_id)
    return row.tier if row is not None else COMMUNITY


def installation_tier():
    """For requests without an organisation (health): the highest tier in force on this installation."""
    # The installation's tier spans every organisation (an anonymous health check has none).
    with all_workspaces():
        tiers = set(
            db.session.scalars(
                sa.select(License.tier)
                .where(License.revoked_at.is_(None), License.expires_at > utcnow())
                .distinct()
            )
        )
    return max(tiers, key=TIER_ORDER.index, default=COMMUNITY) if tiers else COMMUNITY


def tier_at_least(tier, required):
    return TIER_ORDER.index(tier) >= TIER_ORDER.index(required)


def entitlements(workspace_id):
    """Tier, features and limits in force: the tier's table plus what the licence key adds."""
    row = active_license(workspace_id)
    tier = TIERS[row.tier if row is not None else COMMUNITY]
    features = list(tier.features)
    limits = dict(tier.limits)
    if row is not None:
        features += [f for f in row.features if f not in features]
        limits.update(row.limits)
    return {
        "tier": tier.key,
        "tier_name": tier.name,
        "features": features,
        "limits": limits,
        "license": row,
    }


def has_feature(workspace_id, feature):
    return feature in entitlements(workspace_id)["features"]


def minimum_tier_for(feature):
    """The lowest tier whose table includes the feature (None when no tier has it)."""
    return next((key for key in TIER_ORDER if feature in TIERS[key].features), None)


def check_limit(*, workspace_id, limit, current, adding=1):
    """403 license_limit_reached when `current + adding` would exceed the tier's `limit`."""
    allowed = entitlements(workspace_id)["limits"].get(limit)
    if allowed is not None and current + adding > int(allowed):
        tier = current_tier(workspace_id)
        raise LicenseLimitReached(
            f"The {TIERS[tier].name} licence allows {allowed} {limit.replace('_', ' ')}; "
            "apply a licence with a higher limit.",
            extra={"limit": limit, "allowed": allowed, "current": current, "tier": tier},
        )


def _request_workspace_id():
    return current_workspace_id()


def require_tier(tier):
    """View decorator: the request's organisation needs `tier` or above (403 license_required)."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; one of {', '.join(TIER_ORDER)}")

    def decorator(view):
        @wraps(view)
        def gated(*args, **kwargs):
            actual = current_tier(_request_workspace_id())
            if not tier_at_least(actual, tier):
                raise LicenseRequired(required_tier=tier, tier=actual)
            return view(*args, **kwargs)

        _document(gated, view, tier)
        return gated

    return decorator


def require_feature(feature):
    """View decorator: the request's organisation's licence must include `feature`."""
    required = minimum_tier_for(feature)

    def decorator(view):
        @wraps(view)
        def gated(*args, **kwargs):
            workspace_id = _request_workspace_id()
            if not has_feature(workspace_id, feature):
                raise LicenseRequired(
                    required_tier=required or ENTERPRISE, tier=current_tier(workspace_id), feature=feature
                )
            return view(*args, **kwargs)

        _document(gated, view, required)
        return gated

    return decorator


def _document(gated, view, tier):
    """Say in the OpenAPI operation which tier it needs (`x-required-tier`) and that it can 403."""
    from copy import deepcopy

    apidoc = deepcopy(getattr(view, "_apidoc", {}))
    if tier:
        apidoc.setdefault("manual_doc", {})["x-required-tier"] = tier
    forbidden = apidoc.setdefault("response", {}).setdefault("responses", {}).setdefault(403, [])
    if "FORBIDDEN" not in forbidden:
        forbidden.append("FORBIDDEN")
    gated._apidoc = apidoc
    gated._required_tier = tier


def tier_for_request():
    """The tier of the request's organisation, or the installation's when there is none (health)."""
    caller = current_caller()
    if caller is not None and caller.workspace_id is not None:
        return current_tier(caller.workspace_id)
    return installation_tier()
