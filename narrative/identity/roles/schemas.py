"""Payload shapes of the permissions endpoints."""

import marshmallow as ma

from narrative.platform.schemas import Schema


class PermissionSchema(Schema):
    name = ma.fields.String(metadata={"description": "`<module>.<action>`, e.g. teams.read"})
    resource = ma.fields.String(metadata={"description": "The module the permission belongs to"})
    action = ma.fields.String()
    description = ma.fields.String()


class PermissionQueryArgsSchema(Schema):
    resource = ma.fields.String(metadata={"description": "Only this module's permissions (e.g. members)"})


class PermissionListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(PermissionSchema))
    total = ma.fields.Integer()


class PermissionGroupSchema(Schema):
    resource = ma.fields.String()
    permissions = ma.fields.List(ma.fields.Nested(PermissionSchema))


class PermissionGroupsSchema(Schema):
    groups = ma.fields.List(ma.fields.Nested(PermissionGroupSchema))


class PermissionCheckSchema(Schema):
    permission = ma.fields.String()
    allowed = ma.fields.Boolean()
    has_permission = ma.fields.Boolean(metadata={"description": "Same as allowed"})
    role = ma.fields.String(allow_none=True)


class MyPermissionsSchema(Schema):
    role = ma.fields.String()
    workspace_id = ma.fields.UUID()
    permissions = ma.fields.List(ma.fields.String())


class RoleSchema(Schema):
    role = ma.fields.String(
        metadata={"description": "The role's key (owner, admin, member, viewer, or custom)"}
    )
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    is_system = ma.fields.Boolean()
    is_default = ma.fields.Boolean(metadata={"description": "The role has the catalog's default grants"})
    editable = ma.fields.Boolean(metadata={"description": "False for the owner role"})
    permissions = ma.fields.List(ma.fields.String())


class RolePermissionsMapSchema(Schema):
    roles = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Each role's key mapped to its permission names"},
    )


class RolePermissionsUpdateSchema(Schema):
    permissions = ma.fields.List(
        ma.fields.String(),
        required=True,
        metadata={"description": "The complete new grant list (replaces the current one)"},
    )


class RolePermissionSetSchema(Schema):
    permission = ma.fields.String(required=True)
    granted = ma.fields.Boolean(
        load_default=True, metadata={"description": "true grants the permission, false withdraws it"}
    )


class SeedResultSchema(Schema):
    created = ma.fields.List(ma.fields.String(), metadata={"description": "System roles given a row"})
    updated = ma.fields.List(
        ma.fields.String(), metadata={"description": "System role rows brought up to date"}
    )
    roles = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
