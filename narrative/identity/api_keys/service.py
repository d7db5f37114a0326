"""The life of an API key: create (raw key shown once), update, toggle, revoke, rotate, delete.

Scopes are validated against the permission catalog: `*`, a permission name, or `<module>.*`.
A key created by another key may not carry scopes beyond its maker's, so a key never mints a
more powerful one. Whatever the scopes say, a key is always limited by its owner's role.
"""

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity import permissions
from narrative.identity.models import ApiKey, User
from narrative.identity.service import create_api_key
from narrative.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed
from narrative.platform.models import utcnow
from narrative.platform.tenancy import get_or_404, tenant_select

WILDCARD = "*"


class KeyRevoked(Conflict):
    code = "api_key_revoked"
    message = "This API key is revoked; revoked keys cannot be changed or re-enabled."


def _scope_problem(scope):
    if scope == WILDCARD:
        return None
    if scope.endswith(".*"):
        module = scope[:-2]
        return None if module in permissions.catalog() else f"'{scope}': no module named '{module}'."
    return None if permissions.is_known(scope) else f"'{scope}' is not a permission."


def validate_scopes(scopes, *, maker_scopes=None):
    """Checked, de-duplicated scopes; `maker_scopes` are the creating key's (None for a person)."""
    scopes = sorted({str(scope).strip() for scope in scopes})
    if not scopes:
        raise ValidationFailed(details=[{"field": "scopes", "message": "Give at least one scope."}])
    problems = [problem for scope in scopes if (problem := _scope_problem(scope))]
    if problems:
        raise ValidationFailed(details=[{"field": "scopes", "message": " ".join(problems)}])
    if maker_scopes is not None:
        beyond = [scope for scope in scopes if not _covered(scope, maker_scopes)]
        if beyond:
            raise Forbidden(
                "An API key cannot create a key with scopes beyond its own: " + ", ".join(beyond) + ".",
                extra={"scopes": beyond},
            )
    return scopes


def _covered(scope, maker_scopes):
    maker = set(maker_scopes)
    if WILDCARD in maker:
        return True
    if scope == WILDCARD:
        return False
    if scope.endswith(".*"):
        return scope in maker
    return permissions.scope_allows(maker, scope)


def _status_filters(is_active=None, is_revoked=None):
    criteria = []
    if is_active is not None:
        criteria.append(ApiKey.is_active.is_(is_active))
    if is_revoked is True:
        criteria.append(ApiKey.revoked_at.is_not(None))
    elif is_revoked is False:
        criteria.append(ApiKey.revoked_at.is_(None))
    return criteria


def keys_select(*, is_active=None, is_revoked=None, user_id=None):
    """The workspace's keys (optionally one person's), filtered by status."""
    criteria = _status_filters(is_active, is_revoked)
    if user_id is not None:
        criteria.append(ApiKey.user_id == user_id)
    return tenant_select(ApiKey, *criteria)


def count_keys(*, is_active=None, is_revoked=None):
    stmt = keys_select(is_active=is_active, is_revoked=is_revoked)
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))


def get_key(key_id, *, user_id=None):
    """The workspace's key (and, with `user_id`, that person's), else 404."""
    key = get_or_404(ApiKey, key_id, message="API key not found.")
    if user_id is not None and key.user_id != user_id:
        raise NotFound("API key not found.")
    return key


def create_key(*, user, workspace, name, description=None, scopes=None, expires_at=None, maker_scopes=None):
    """Returns (key, raw key); the raw key exists only in this response."""
    scopes = validate_scopes(scopes if scopes is not None else [WILDCARD], maker_scopes=maker_scopes)
    if expires_at is not None and expires_at <= utcnow():
        raise ValidationFailed(details=[{"field": "expires_at", "message": "Must be in the future."}])
    return create_api_key(
        user=user,
        workspace=workspace,
        name=name,
        description=description,
        scopes=scopes,
        expires_at=expires_at,
    )


def _refuse_if_revoked(key):
    if key.revoked_at is not None:
        raise KeyRevoked()


def update_key(key, *, changes, maker_scopes=None):
    """Name, description, scopes and active status; the secret itself never changes (rotate)."""
    if "scopes" in changes:
        changes = {**changes, "scopes": validate_scopes(changes["scopes"], maker_scopes=maker_scopes)}
    if changes.get("is_active") is True:
        _refuse_if_revoked(key)
    for field in ("name", "description", "scopes", "is_active"):
        if field in changes:
            setattr(key, field, changes[field])
    db.session.flush()
    return key


def toggle_key(key):
    _refuse_if_revoked(key)
    key.is_active = not key.is_active
    db.session.flush()
    return key


def revoke_key(key):
    """Revoked for good (kept for audit); revoking twice changes nothing."""
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.is_active = False
        db.session.flush()
    return key


def rotate_key(key, *, workspace):
    """A new key with the same settings; the old one stops working at once. Returns (new, raw)."""
    _refuse_if_revoked(key)
    owner = db.session.get(User, key.user_id)
    new_key, raw = create_api_key(
        user=owner,
        workspace=workspace,
        name=key.name,
        description=key.description,
        scopes=list(key.scopes or [WILDCARD]),
        expires_at=key.expires_at,
        rotated_from=key,
    )
    new_key.is_active = key.is_active
    revoke_key(key)
    return new_key, raw


def delete_key(key):
    db.session.delete(key)
    db.session.flush()
