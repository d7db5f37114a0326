"""A workspace's role grants: read them, replace them, set one, reset to defaults, seed system roles.

A system role without a `Role` row (or with `permissions = None`) has the catalog defaults; the
first edit writes the full list on a row, and a reset sets it back to None. The owner role always
holds every permission and cannot be edited. Nobody can grant a permission they do not hold
themselves, so an admin cannot give their own role owner-only powers.
"""

from narrative.extensions import db
from narrative.identity import permissions
from narrative.identity.models import Role
from narrative.platform.errors import Conflict, Forbidden, NotFound, ValidationFailed


class OwnerRoleLocked(Forbidden):
    code = "owner_role_locked"
    message = "The owner role always has every permission; its permissions cannot be changed."


class CannotGrantUnheld(Forbidden):
    code = "cannot_grant_unheld_permission"


def _role_row(*, workspace_id, role):
    return db.session.scalar(db.select(Role).filter_by(workspace_id=workspace_id, key=role))


def _custom_rows(workspace_id):
    return db.session.scalars(
        db.select(Role)
        .where(Role.workspace_id == workspace_id, Role.key.not_in(permissions.SYSTEM_ROLES))
        .order_by(Role.key)
    ).all()


def role_keys(*, workspace_id):
    """The system roles in rank order, then the workspace's custom roles by key."""
    return [*permissions.SYSTEM_ROLES, *(row.key for row in _custom_rows(workspace_id))]


def describe_role(*, workspace_id, role):
    """A role as the API shows it; 404 for a role the workspace does not have."""
    row = _role_row(workspace_id=workspace_id, role=role)
    is_system = role in permissions.SYSTEM_ROLES
    if row is None and not is_system:
        raise NotFound(f"The role '{role}' does not exist in this workspace.")
    return {
        "role": role,
        "name": (row.name if row is not None else None) or permissions.SYSTEM_ROLE_NAMES.get(role, role),
        "description": (row.description if row is not None else None)
        or permissions.SYSTEM_ROLE_DESCRIPTIONS.get(role),
        "is_system": is_system,
        "is_default": is_system and (row is None or row.permissions is None),
        "editable": role != permissions.OWNER,
        "permissions": sorted(permissions.role_permissions(workspace_id=workspace_id, role=role)),
    }


def permissions_by_role(*, workspace_id):
    """{role: [permission, ...]} for every role of the workspace."""
    return {
        key: sorted(permissions.role_permissions(workspace_id=workspace_id, role=key))
        for key in role_keys(workspace_id=workspace_id)
    }


def check_known_permissions(names, *, field="permissions"):
    unknown = sorted({name for name in names if not permissions.is_known(name)})
    if unknown:
        raise ValidationFailed(
            details=[{"field": field, "message": f"Unknown permission(s): {', '.join(unknown)}."}]
        )


def _editable_row(*, workspace_id, role):
    """The role's row, created for a system role on its first edit; 404 for an unknown role."""
    if role == permissions.OWNER:
        raise OwnerRoleLocked()
    row = _role_row(workspace_id=workspace_id, role=role)
    if row is not None:
        return row
    if role not in permissions.SYSTEM_ROLES:
        raise NotFound(f"The role '{role}' does not exist in this workspace.")
    row = Role(
        workspace_id=workspace_id,
        key=role,
        name=permissions.SYSTEM_ROLE_NAMES[role],
        description=permissions.SYSTEM_ROLE_DESCRIPTIONS[role],
        is_system=True,
        permissions=None,
    )
    db.session.add(row)
    return row


def _check_grantable(added, grantable):
    """`grantable` is what the editor holds; None means everything (the owner, a platform job)."""
    if grantable is None:
        return
    beyond = sorted(set(added) - set(grantable))
    if beyond:
        raise CannotGrantUnheld(
            f"You cannot grant permissions you do not hold yourself: {', '.join(beyond)}.",
            extra={"permissions": beyond},
        )


def replace_role_permissions(*, workspace_id, role, names, grantable=None):
    """Replace the role's whole grant list (PUT semantics)."""
    names = set(names)
    check_known_permissions(names)
    row = _editable_row(workspace_id=workspace_id, role=role)
    current = permissions.role_permissions(workspace_id=workspace_id, role=role)
    _check_grantable(names - current, grantable)
    row.permissions = sorted(names)
    db.session.flush()
    return describe_role(workspace_id=workspace_id, role=role)


def set_role_permission(*, workspace_id, role, permission, granted=True, grantable=None):
    """Grant or withdraw one permission, keeping the rest of the role's list."""
    check_known_permissions([permission], field="permission")
    row = _editable_row(workspace_id=workspace_id, role=role)
    current = set(permissions.role_permissions(workspace_id=workspace_id, role=role))
    if granted:
        _check_grantable({permission} - current, grantable)
        current.add(permission)
    else:
        current.discard(permission)
    row.permissions = sorted(current)
    db.session.flush()
    return describe_role(workspace_id=workspace_id, role=role)


def reset_role(*, workspace_id, role):
    """Back to the catalog defaults (system roles only: a custom role has no defaults)."""
    if role == permissions.OWNER:
        raise OwnerRoleLocked()
    if role not in permissions.SYSTEM_ROLES:
        describe_role(workspace_id=workspace_id, role=role)  # 404 when it does not exist
        raise Conflict("A custom role has no defaults to reset to; edit its permissions instead.")
    row = _role_row(workspace_id=workspace_id, role=role)
    if row is not None:
        row.permissions = None
        db.session.flush()
    return describe_role(workspace_id=workspace_id, role=role)


# --- system role rows: seeding and upkeep -----------------------------------------------------


def _system_row_problems(row):
    """What is out of date on a system role's row (empty when nothing is)."""
    problems = []
    if not row.is_system:
        problems.append("not marked as a system role")
    if row.permissions is not None:
        unknown = sorted(name for name in row.permissions if not permissions.is_known(name))
        if unknown:
            problems.append("grants permissions that no longer exist: " + ", ".join(unknown))
        if row.key == permissions.OWNER:
            problems.append("the owner role carries an edited grant list")
    return problems


def stale_system_roles(*, workspace_id):
    """{role: [problem, ...]} for the system role rows that need `ensure_system_roles`."""
    rows = db.session.scalars(
        db.select(Role).where(Role.workspace_id == workspace_id, Role.key.in_(permissions.SYSTEM_ROLES))
    ).all()
    return {row.key: problems for row in rows if (problems := _system_row_problems(row))}


def ensure_system_roles(*, workspace_id):
    """Give the workspace a row for every system role and bring existing rows up to date.

    Idempotent. Edited grant lists are kept, minus permissions the catalog no longer has.
    Returns {"created": [keys], "updated": [keys]}.
    """
    created, updated = [], []
    for key in permissions.SYSTEM_ROLES:
        row = _role_row(workspace_id=workspace_id, role=key)
        if row is None:
            db.session.add(
                Role(
                    workspace_id=workspace_id,
                    key=key,
                    name=permissions.SYSTEM_ROLE_NAMES[key],
                    description=permissions.SYSTEM_ROLE_DESCRIPTIONS[key],
                    is_system=True,
                    permissions=None,
                )
            )
            created.append(key)
            continue
        if not _system_row_problems(row) and row.name and row.description:
            continue
        row.is_system = True
        row.name = row.name or permissions.SYSTEM_ROLE_NAMES[key]
        row.description = row.description or permissions.SYSTEM_ROLE_DESCRIPTIONS[key]
        if key == permissions.OWNER:
            row.permissions = None
        elif row.permissions is not None:
            row.permissions = sorted(name for name in row.permissions if permissions.is_known(name))
        updated.append(key)
    db.session.flush()
    return {"created": created, "updated": updated}
