"""/api/v1/permissions: the permission catalog, the caller's permissions, and each role's grants.

The catalog lists are complete rather than paged: they are the code's permission registry (a few
dozen entries), not workspace data that grows.
"""

from narrative.identity import permissions
from narrative.identity.access import current_member, current_permissions, has_permission, require
from narrative.identity.roles import service
from narrative.identity.roles.schemas import (
    MyPermissionsSchema,
    PermissionCheckSchema,
    PermissionGroupsSchema,
    PermissionListSchema,
    PermissionQueryArgsSchema,
    RolePermissionSetSchema,
    RolePermissionsMapSchema,
    RolePermissionsUpdateSchema,
    RoleSchema,
    SeedResultSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("permissions", __name__, description="Roles and permissions")


def _entries(module, names):
    return [
        {"name": name, "resource": module, "action": name.split(".", 1)[1], "description": text}
        for name, text in names.items()
    ]


def _grantable():
    """What the caller may hand out: everything for an owner, else what they hold."""
    member = current_member()
    if member is not None and member.role == permissions.OWNER:
        return None
    return current_permissions()


@blp.route("/api/v1/permissions")
@blp.operation("core.permissions.list")
@require()
@blp.arguments(PermissionQueryArgsSchema, location="query")
@blp.response(200, PermissionListSchema)
def list_permissions(args):
    """List all available permissions"""
    resource = args.get("resource")
    items = [
        entry
        for module, names in permissions.catalog().items()
        if resource is None or module == resource
        for entry in _entries(module, names)
    ]
    return {"items": items, "total": len(items)}


@blp.route("/api/v1/permissions/grouped")
@blp.operation("core.permissions.grouped")
@require()
@blp.response(200, PermissionGroupsSchema)
def grouped_permissions():
    """List all permissions grouped by resource"""
    return {
        "groups": [
            {"resource": module, "permissions": _entries(module, names)}
            for module, names in permissions.catalog().items()
        ]
    }


@blp.route("/api/v1/permissions/check/<string:permission>")
@blp.operation("core.permissions.check")
@require()
@blp.response(200, PermissionCheckSchema)
def check_permission(permission):
    """Check whether the caller has a permission in the workspace"""
    current_workspace_id()
    member = current_member()
    allowed = has_permission(permission)
    return {
        "permission": permission,
        "allowed": allowed,
        "has_permission": allowed,
        "role": member.role if member else None,
    }


@blp.route("/api/v1/permissions/me")
@blp.operation("core.permissions.me")
@require()
@blp.response(200, MyPermissionsSchema)
def my_permissions():
    """The caller's permissions in the workspace (an API key's are limited to its scopes)"""
    workspace_id = current_workspace_id()
    member = current_member()
    return {
        "role": member.role if member else None,
        "workspace_id": workspace_id,
        "permissions": sorted(current_permissions()),
    }


@blp.route("/api/v1/permissions/roles")
@blp.operation("core.permissions.list-roles")
@require("roles.manage")
@blp.response(200, RolePermissionsMapSchema)
def list_role_permissions():
    """Every role's permissions (admins and owners)"""
    return {"roles": service.permissions_by_role(workspace_id=current_workspace_id())}


@blp.route("/api/v1/permissions/roles/<string:role>")
@blp.operation("core.permissions.get-role")
@require("roles.read")
@blp.response(200, RoleSchema)
def get_role(role):
    """One role's permissions"""
    return service.describe_role(workspace_id=current_workspace_id(), role=role)


@blp.route("/api/v1/permissions/roles/<string:role>", methods=["PUT"])
@blp.operation("core.permissions.update-role")
@require("roles.manage")
@blp.arguments(RolePermissionsUpdateSchema)
@blp.response(200, RoleSchema)
def replace_role_permissions(payload, role):
    """Replace a role's permissions with the given list (the owner role cannot be edited)"""
    result = service.replace_role_permissions(
        workspace_id=current_workspace_id(), role=role, names=payload["permissions"], grantable=_grantable()
    )
    return result


@blp.route("/api/v1/permissions/roles/<string:role>", methods=["PATCH"])
@blp.operation("core.permissions.set-role-permission")
@require("roles.manage")
@blp.arguments(RolePermissionSetSchema)
@blp.response(200, RoleSchema)
def set_role_permission(payload, role):
    """Grant (granted: true) or withdraw (granted: false) one permission of a role"""
    result = service.set_role_permission(
        workspace_id=current_workspace_id(),
        role=role,
        permission=payload["permission"],
        granted=payload["granted"],
        grantable=_grantable(),
    )
    return result


@blp.route("/api/v1/permissions/roles/<string:role>/reset", methods=["POST"])
@blp.operation("core.permissions.reset-role")
@require("roles.manage")
@blp.response(200, RoleSchema)
def reset_role(role):
    """Reset a system role's permissions to the defaults"""
    result = service.reset_role(workspace_id=current_workspace_id(), role=role)
    return result


@blp.route("/api/v1/permissions/seed", methods=["POST"])
@blp.operation("core.permissions.seed")
@require("roles.manage")
@blp.response(201, SeedResultSchema)
def seed_permissions():
    """Create the workspace's system roles that do not exist yet (idempotent)"""
    workspace_id = current_workspace_id()
    outcome = service.ensure_system_roles(workspace_id=workspace_id)
    return {**outcome, "roles": service.permissions_by_role(workspace_id=workspace_id)}
