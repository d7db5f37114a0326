"""/api/v1/modules (module settings) and /api/v1/workspace-health (health, defaults migration).

The module list is complete rather than paged: it is the code's module registry, a handful of
entries, not workspace data that grows.
"""

from flask import url_for

from narrative.identity.access import current_member, current_user, current_workspace, require
from narrative.modules import health, service
from narrative.modules.schemas import (
    MigrationEventSchema,
    MigrationStartedSchema,
    ModuleSettingCreateSchema,
    ModuleSettingListSchema,
    ModuleSettingSchema,
    ModuleSettingUpdateSchema,
    WorkspaceHealthSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.errors import NotFound, ServiceUnavailable
from narrative.platform.jobs import get_job
from narrative.platform.sse import job_frame, job_stream_response
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("modules", __name__, description="Module settings and workspace health")


@blp.route("/api/v1/modules")
@blp.operation("core.modules.list")
@require("modules.read")
@blp.response(200, ModuleSettingListSchema)
def list_modules():
    """List every module with the workspace's settings for it"""
    items = service.list_modules()
    return {"items": items, "total": len(items)}


@blp.route("/api/v1/modules", methods=["POST"])
@blp.operation("core.modules.create")
@require("modules.manage")
@blp.arguments(ModuleSettingCreateSchema)
@blp.response(201, ModuleSettingSchema)
def create_module_settings(payload):
    """Store settings for a module (409 when it already has some)"""
    result = service.create_module_settings(workspace_id=current_workspace_id(), **payload)
    return result


@blp.route("/api/v1/modules/<string:module>")
@blp.operation("core.modules.get")
@require("modules.read")
@blp.response(200, ModuleSettingSchema)
def get_module(module):
    """One module's settings"""
    return service.get_module_settings(module=module)


@blp.route("/api/v1/modules/<string:module>", methods=["PATCH"])
@blp.operation("core.modules.update")
@require("modules.manage")
@blp.arguments(ModuleSettingUpdateSchema)
@blp.response(200, ModuleSettingSchema)
def update_module(payload, module):
    """Enable or disable a module and change its settings"""
    result = service.update_module(workspace_id=current_workspace_id(), module=module, **payload)
    return result


@blp.route("/api/v1/modules/<string:module>/toggle", methods=["POST"])
@blp.operation("core.modules.toggle")
@require("modules.manage")
@blp.response(200, ModuleSettingSchema)
def toggle_module(module):
    """Switch a module on or off"""
    result = service.toggle_module(workspace_id=current_workspace_id(), module=module)
    return result


@blp.route("/api/v1/workspace-health")
@blp.operation(
    "core.workspace-health.check",
    description="Answers 503 (`migration_required`, with the same fields) while the workspace's "
    "defaults need the migration, 200 when everything is up to date.",
)
@require("workspace.read")
@blp.response(200, WorkspaceHealthSchema)
@blp.alt_response(503, schema=WorkspaceHealthSchema, description="A migration is required")
def workspace_health():
    """What the workspace has configured, and whether it needs a migration"""
    report = health.health_report(workspace=current_workspace(), member=current_member())
    if report["migration_required"]:
        raise ServiceUnavailable(
            "This workspace needs a migration: start it with POST /api/v1/workspace-health/migrate.",
            code="migration_required",
            extra=WorkspaceHealthSchema().dump(report),
        )
    return report


@blp.route("/api/v1/workspace-health/migrate", methods=["POST"])
@blp.operation(
    "core.workspace-health.migrate",
    description="Any member may start it (the maintenance banner offers it to whoever sees it): it "
    "only applies the system's own defaults and is idempotent. One migration per workspace runs at "
    "a time; a second request while one runs is a 409 `migration_running` naming its job_id.",
)
@require("workspace.read")
@blp.response(200, MigrationStartedSchema)
def start_migration():
    """Start bringing the workspace's defaults up to date; follow stream_url"""
    job = health.start_migration(workspace_id=current_workspace_id(), user_id=current_user().id)
    stream_url = url_for("modules.stream_migration", job_id=job.id)
    return {"job_id": job.id, "stream_url": stream_url, "status": job.status}


def _migration_frame(payload):
    frame = job_frame(payload)
    frame["error_message"] = frame.get("error")
    return frame


@blp.route("/api/v1/workspace-health/migrate/jobs/<string:job_id>/stream")
@blp.operation("core.workspace-health.migration-stream")
@require("workspace.read")
@blp.response(200, MigrationEventSchema, content_type="text/event-stream")
def stream_migration(job_id):
    """Server-Sent Events with the migration's status, progress, current step and error_message"""
    job = get_job(job_id)
    if job.kind != health.MIGRATION_KIND:
        raise NotFound("Job not found.")
    return job_stream_response(job, to_frame=_migration_frame)
