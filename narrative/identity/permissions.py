"""The permission catalog: every permission of every module, and what each system role gets.

A permission is `<module>.<action>` (`members.invite`, `crm.write`). Domains add theirs at import
time, next to their routes::

    register_permissions("crm", {
        "crm.read": "View contacts and companies",
        "crm.write": "Create and edit contacts and companies",
        "crm.delete": "Delete contacts and companies",
    })

Default grants of the system roles:

- owner: every permission, always (its grants cannot be edited);
- admin: every permission except the owner-only ones (`OWNER_ONLY`, or `owner_only=` on register);
- member: actions in `MEMBER_ACTIONS` (read, write, create, use, ...) unless `member=` names them;
- viewer: `.read` permissions unless `viewer=` names them.

A workspace overrides a role's grants with a `Role` row whose `permissions` is a list; `None` (or
no row) means the defaults, so "reset to defaults" is setting it to None. Custom roles are rows
with `is_system = False` and their own list.
"""

from narrative.extensions import db

OWNER = "owner"
ADMIN = "admin"
MEMBER = "member"
VIEWER = "viewer"
SYSTEM_ROLES = (OWNER, ADMIN, MEMBER, VIEWER)
SYSTEM_ROLE_NAMES = {OWNER: "Owner", ADMIN: "Admin", MEMBER: "Member", VIEWER: "Viewer"}
SYSTEM_ROLE_DESCRIPTIONS = {
    OWNER: "Full control of the workspace, including billing ownership and deletion.",
    ADMIN: "Manages members, roles, modules and settings.",
    MEMBER: "Reads and writes the workspace's content.",
    VIEWER: "Reads the workspace's content.",
}

MEMBER_ACTIONS = frozenset({"read", "write", "create", "update", "use", "comment", "run", "chat", "upload"})
VIEWER_ACTIONS = frozenset({"read"})

_catalog: dict[str, dict[str, str]] = {}
_member_grants: set[str] = set()
_viewer_grants: set[str] = set()
_owner_only: set[str] = set()


def register_permissions(module, permissions, *, member=None, viewer=None, owner_only=()):
    """Add a module's permissions ({name: description}) to the catalog (idempotent).

    `member` / `viewer`: the names those roles get by default (default: by action, see above).
    `owner_only`: names that even admins lack by default.
    """
    for name in permissions:
        if not name.startswith(module + "."):
            raise ValueError(f"permission {name!r} must start with {module + '.'!r}")
    _catalog.setdefault(module, {}).update(permissions)
    names = set(permissions)
    _member_grants.update(names & set(member) if member is not None else _by_action(names, MEMBER_ACTIONS))
    _viewer_grants.update(names & set(viewer) if viewer is not None else _by_action(names, VIEWER_ACTIONS))
    _owner_only.update(owner_only)


def _by_action(names, actions):
    return {name for name in names if name.rsplit(".", 1)[1] in actions}


def catalog():
    """{module: {permission: description}}, modules and permissions sorted."""
    return {module: dict(sorted(perms.items())) for module, perms in sorted(_catalog.items())}


def all_permissions():
    return frozenset(name for perms in _catalog.values() for name in perms)


def is_known(permission):
    module = permission.split(".", 1)[0]
    return permission in _catalog.get(module, {})


def module_of(permission):
    return permission.split(".", 1)[0]


def default_permissions(role):
    """The catalog defaults of a system role (empty for an unknown or custom role)."""
    everything = all_permissions()
    if role == OWNER:
        return everything
    if role == ADMIN:
        return everything - _owner_only
    if role == MEMBER:
        return frozenset(_member_grants)
    if role == VIEWER:
        return frozenset(_viewer_grants)
    return frozenset()


def role_permissions(*, workspace_id, role):
    """What `role` may do in the workspace: its override row, else the defaults."""
    if role == OWNER:
        return all_permissions()
    from narrative.identity.models import Role

    row = None
    if workspace_id is not None:
        row = db.session.scalar(db.select(Role).filter_by(workspace_id=workspace_id, key=role))
    if row is not None and row.permissions is not None:
        return frozenset(row.permissions) & all_permissions()
    return default_permissions(role)


def role_has(*, workspace_id, role, permission):
    return permission in role_permissions(workspace_id=workspace_id, role=role)


def scope_allows(scopes, permission):
    """An API key's scopes allow `permission`: "*", the permission itself, or "<module>.*"."""
    scopes = set(scopes or ())
    return "*" in scopes or permission in scopes or f"{module_of(permission)}.*" in scopes


# The platform's own modules; domains register theirs in their packages.
register_permissions(
    "workspace",
    {
        "workspace.read": "View the workspace's settings",
        "workspace.manage": "Edit the workspace's name and settings",
        "workspace.delete": "Delete the workspace",
    },
    member=["workspace.read"],
    viewer=["workspace.read"],
    owner_only=["workspace.delete"],
)
register_permissions(
    "members",
    {
        "members.read": "View the workspace's members",
        "members.invite": "Invite people to the workspace",
        "members.manage": "Change members' roles, deactivate and remove members",
    },
)
register_permissions(
    "teams",
    {"teams.read": "View teams", "teams.manage": "Create, edit and delete teams and their members"},
)
register_permissions(
    "roles",
    {"roles.read": "View roles and their permissions", "roles.manage": "Edit roles' permissions"},
    member=["roles.read"],
    viewer=["roles.read"],
)
register_permissions(
    "api_keys",
    {
        "api_keys.read": "View the workspace's API keys",
        "api_keys.manage": "Create, rotate and revoke API keys",
    },
    member=[],
    viewer=[],
)
register_permissions(
    "modules",
    {"modules.read": "View which modules are enabled", "modules.manage": "Enable and configure modules"},
)
register_permissions(
    "billing",
    {
        "billing.read": "View the plan, invoices and usage",
        "billing.manage": "Change the plan and payment methods",
        "billing.owner": "Transfer billing ownership and cancel the subscription",
    },
    member=[],
    viewer=[],
    owner_only=["billing.owner"],
)
register_permissions(
    "users",
    {"users.read": "View other users' profiles", "users.manage": "Edit other users' profiles and avatars"},
    member=["users.read"],
    viewer=["users.read"],
)
register_permissions(
    "impersonation",
    {"impersonation.use": "Sign in as another member of the workspace"},
    member=[],
    viewer=[],
    owner_only=["impersonation.use"],
)
