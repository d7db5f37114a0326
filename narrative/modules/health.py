"""Workspace health: what a workspace has set up, and whether its defaults need bringing up to date.

Flags that belong to other domains (a brand profile, onboarding) come from checks those domains
register with `register_health_flag`; a flag nobody registered is False (the feature that would
set it up is not installed). Pending migrations are the system role rows and module settings that
the current code's defaults have moved past; `start_migration` queues the job that fixes them,
one per workspace at a time (a Redis lock holds the running job's id).
"""

from flask import current_app

from narrative.extensions import db
from narrative.identity.models import ApiKey, Member
from narrative.identity.roles.service import stale_system_roles
from narrative.modules.registry import known_modules
from narrative.modules.service import is_enabled, outdated_modules
from narrative.platform.errors import Conflict
from narrative.platform.jobs import Job, enqueue_job
from narrative.platform.redis import get_redis

MIGRATION_KIND = "workspace.migrate-defaults"
MIGRATION_JOB = "narrative.modules.jobs.migrate_workspace_defaults"
LOCK_KEY = "narrative:workspace-health:migrate:{}"
# Longer than the job's time limit: the job releases it; this only covers a worker that vanished.
LOCK_SECONDS = 15 * 60
CATALOG_FLAGS = ("brand", "personal_onboarding_complete", "company_onboarding_complete")

_flags = {}


def register_health_flag(name, check, *, description):
    """`check(workspace, member) -> bool`, e.g. the brand domain's "a brand profile exists"."""
    _flags[name] = (check, description)


def _flag(name, workspace, member):
    entry = _flags.get(name)
    return bool(entry[0](workspace, member)) if entry else False


class MigrationRunning(Conflict):
    code = "migration_running"
    message = "A migration of this workspace is already running; follow its stream."


def pending_migrations(*, workspace_id):
    """[{area, item, problem}] of everything the migration job would change (empty: up to date)."""
    pending = [
        {"area": "system_roles", "item": role, "problem": "; ".join(problems)}
        for role, problems in sorted(stale_system_roles(workspace_id=workspace_id).items())
    ]
    pending += [
        {"area": "module_settings", "item": module, "problem": "missing new settings: " + ", ".join(missing)}
        for module, missing in sorted(outdated_modules().items())
    ]
    return pending


def _count(statement):
    return db.session.scalar(db.select(db.func.count()).select_from(statement.subquery()))


def _features(workspace_id):
    # The current workspace's keys and members: the session scopes these queries.
    active_keys = db.select(ApiKey.id).where(ApiKey.is_active.is_(True), ApiKey.revoked_at.is_(None))
    members = db.select(Member.id)
    config = current_app.config
    return {
        "members": _count(members.where(Member.status == "active")),
        "pending_invitations": _count(members.where(Member.status == "invited")),
        "api_keys": _count(active_keys),
        "modules_enabled": [
            info.key for info in known_modules() if is_enabled(workspace_id=workspace_id, module=info.key)
        ],
        "email_delivery": "smtp" if config.get("SMTP_URL") else "outbox",
        "file_storage": config.get("STORAGE_BACKEND", "local"),
    }


def running_migration(workspace_id):
    """The workspace's migration job while one is queued or running, else None."""
    job_id = get_redis().get(LOCK_KEY.format(workspace_id))
    job = db.session.get(Job, job_id) if job_id else None
    return job if job is not None and not job.is_terminal else None


def health_report(*, workspace, member):
    pending = pending_migrations(workspace_id=workspace.id)
    running = running_migration(workspace.id)
    report = {name: _flag(name, workspace, member) for name in CATALOG_FLAGS}
    report.update(
        {name: _flag(name, workspace, member) for name in sorted(_flags) if name not in CATALOG_FLAGS}
    )
    report.update(
        {
            "migration_required": bool(pending),
            "pending_migrations": pending,
            "migration_job_id": running.id if running else None,
            "features": _features(workspace.id),
        }
    )
    return report


def start_migration(*, workspace_id, user_id):
    """Queue the defaults migration (runs after the caller's commit); 409 while one is running."""
    running = running_migration(workspace_id)
    if running is not None:
        raise MigrationRunning(extra={"job_id": running.id})
    job = enqueue_job(
        MIGRATION_KIND,
        MIGRATION_JOB,
        str(workspace_id),
        workspace_id=workspace_id,
        user_id=user_id,
        description=f"Bring workspace {workspace_id}'s defaults up to date",
    )
    redis = get_redis()
    key = LOCK_KEY.format(workspace_id)
    if not redis.set(key, job.id, nx=True, ex=LOCK_SECONDS):
        # Another request took the lock since our check; its job wins unless it is already over.
        if running_migration(workspace_id) is not None:
            raise MigrationRunning(extra={"job_id": redis.get(key)})
        redis.set(key, job.id, ex=LOCK_SECONDS)
    return job


def release_migration_lock(workspace_id, job_id):
    """Drop the lock if this job still holds it (compare-and-delete, so a newer lock survives)."""
    key = LOCK_KEY.format(workspace_id)
    redis = get_redis()
    with redis.pipeline() as pipe:
        try:
            pipe.watch(key)
            if pipe.get(key) == job_id:
                pipe.multi()
                pipe.delete(key)
                pipe.execute()
        except Exception:
            pass
