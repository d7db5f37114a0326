"""Payload shapes of module settings and workspace health."""

import marshmallow as ma

from narrative.platform.schemas import Schema


class ModuleSettingSchema(Schema):
    id = ma.fields.UUID(allow_none=True, metadata={"description": "Null while the module has its defaults"})
    module = ma.fields.String()
    name = ma.fields.String()
    description = ma.fields.String(allow_none=True)
    enabled = ma.fields.Boolean()
    settings = ma.fields.Dict(keys=ma.fields.String())
    is_default = ma.fields.Boolean(metadata={"description": "Never configured: the module's defaults"})
    created_at = ma.fields.DateTime(allow_none=True)
    updated_at = ma.fields.DateTime(allow_none=True)


class ModuleSettingListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ModuleSettingSchema))
    total = ma.fields.Integer()


class ModuleSettingCreateSchema(Schema):
    module = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=60))
    enabled = ma.fields.Boolean(load_default=None)
    settings = ma.fields.Dict(keys=ma.fields.String(), load_default=None)


class ModuleSettingUpdateSchema(Schema):
    enabled = ma.fields.Boolean(load_default=None)
    settings = ma.fields.Dict(
        keys=ma.fields.String(),
        load_default=None,
        metadata={"description": "Merged key by key; a key set to null returns to its default"},
    )


class PendingMigrationSchema(Schema):
    area = ma.fields.String(metadata={"description": "system_roles or module_settings"})
    item = ma.fields.String()
    problem = ma.fields.String()


class WorkspaceFeaturesSchema(Schema):
    members = ma.fields.Integer()
    pending_invitations = ma.fields.Integer()
    api_keys = ma.fields.Integer(metadata={"description": "Active, unrevoked API keys"})
    modules_enabled = ma.fields.List(ma.fields.String())
    email_delivery = ma.fields.String(metadata={"description": "smtp, or outbox when no SMTP server is set"})
    file_storage = ma.fields.String()


class WorkspaceHealthSchema(Schema):
    brand = ma.fields.Boolean(metadata={"description": "A brand profile exists"})
    migration_required = ma.fields.Boolean()
    personal_onboarding_complete = ma.fields.Boolean()
    company_onboarding_complete = ma.fields.Boolean()
    pending_migrations = ma.fields.List(ma.fields.Nested(PendingMigrationSchema))
    migration_job_id = ma.fields.String(allow_none=True, metadata={"description": "A migration in progress"})
    features = ma.fields.Nested(WorkspaceFeaturesSchema)


class MigrationStartedSchema(Schema):
    job_id = ma.fields.String()
    stream_url = ma.fields.String()
    status = ma.fields.String()


class MigrationEventSchema(Schema):
    """One `data:` frame of the migration stream."""

    status = ma.fields.String(metadata={"description": "QUEUED, RUNNING, COMPLETED, FAILED or CANCELED"})
    progress = ma.fields.Integer()
    current_step = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    error_message = ma.fields.String(allow_none=True)
    result = ma.fields.Raw(allow_none=True)
