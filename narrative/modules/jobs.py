"""The workspace-health migration: brings a workspace's stored defaults up to the current code.

Steps (each idempotent, checkpointed on its own, so a retry redoes nothing twice): system role rows
(`narrative.identity.roles.service.ensure_system_roles`), then module settings
(`narrative.modules.service.ensure_module_settings`), then a check that nothing is left.
"""

import uuid

from narrative.identity.roles.service import ensure_system_roles
from narrative.modules import health
from narrative.modules.service import ensure_module_settings
from narrative.platform.jobs import JobError, current_progress


def migrate_workspace_defaults(workspace_id):
    progress = current_progress()
    workspace_id = uuid.UUID(workspace_id)
    try:
        progress.report(progress=5, step="checking", message="Checking what is out of date")
        before = health.pending_migrations(workspace_id=workspace_id)

        progress.check_cancelled()
        progress.report(progress=20, step="system_roles", message="Updating the system roles")
        roles = ensure_system_roles(workspace_id=workspace_id)
        progress.checkpoint()

        progress.check_cancelled()
        progress.report(progress=55, step="module_settings", message="Updating module settings")
        modules = ensure_module_settings(workspace_id=workspace_id)
        progress.checkpoint()

        progress.report(progress=90, step="verifying", message="Verifying the workspace")
        left = health.pending_migrations(workspace_id=workspace_id)
        if left:
            raise JobError(
                "Some defaults could not be brought up to date: " + ", ".join(p["item"] for p in left)
            )
        progress.report(step="done", message="The workspace is up to date.")
        return {"fixed": before, "system_roles": roles, "module_settings": modules}
    finally:
        health.release_migration_lock(workspace_id, progress.job_id)
