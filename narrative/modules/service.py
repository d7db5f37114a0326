"""A workspace's module settings: read (row or registry defaults), create, toggle, update, upkeep.

Settings are a JSON object per module. Reading merges the registry's defaults under the stored
values, so a setting a module gained later shows its default even before the upkeep stores it.
Rows are the current workspace's (the session scopes every query); writes name the workspace.
"""

from narrative.extensions import db
from narrative.modules.models import ModuleSetting
from narrative.modules.registry import get_module, known_modules
from narrative.platform.errors import Conflict, NotFound, ValidationFailed, integrity_errors_as_conflict
from narrative.platform.tenancy import workspace_scope


def _row(module):
    return db.session.scalar(db.select(ModuleSetting).filter_by(module=module))


def _rows():
    return {row.module: row for row in db.session.scalars(db.select(ModuleSetting))}


def describe(info, row):
    """The module as the API shows it: stored values over registry defaults."""
    defaults = dict(info.settings) if info else {}
    return {
        "id": row.id if row else None,
        "module": info.key if info else row.module,
        "name": info.name if info else row.module,
        "description": info.description if info else None,
        "enabled": row.enabled if row else info.enabled,
        "settings": {**defaults, **(row.settings if row else {})},
        "is_default": row is None,
        "created_at": row.created_at if row else None,
        "updated_at": row.updated_at if row else None,
    }


def list_modules():
    """Every registered module, plus any stored module the code no longer registers."""
    rows = _rows()
    described = [describe(info, rows.pop(info.key, None)) for info in known_modules()]
    described += [describe(None, row) for _key, row in sorted(rows.items())]
    return described


def get_module_settings(*, module):
    info, row = get_module(module), _row(module)
    if info is None and row is None:
        raise NotFound(f"There is no module named '{module}'.")
    return describe(info, row)


def is_enabled(*, workspace_id, module):
    """Whether the workspace uses `module` (what a domain checks before serving its features)."""
    with workspace_scope(workspace_id):  # the workspace named, also from a job or admin code
        info, row = get_module(module), _row(module)
    if row is not None:
        return row.enabled
    return bool(info and info.enabled)


def _known_or_422(module, *, field="module"):
    info = get_module(module)
    if info is None:
        raise ValidationFailed(details=[{"field": field, "message": f"There is no module named '{module}'."}])
    return info


def _known_or_404(module):
    info = get_module(module)
    if info is None:
        raise NotFound(f"There is no module named '{module}'.")
    return info


def _materialise(*, workspace_id, info):
    row = ModuleSetting(
        workspace_id=workspace_id, module=info.key, enabled=info.enabled, settings=dict(info.settings)
    )
    db.session.add(row)
    return row


def create_module_settings(*, workspace_id, module, enabled=None, settings=None):
    info = _known_or_422(module)
    message = f"The module '{module}' already has settings; update them instead."
    if _row(module) is not None:
        raise Conflict(message)
    row = _materialise(workspace_id=workspace_id, info=info)
    if enabled is not None:
        row.enabled = enabled
    if settings:
        row.settings = {**row.settings, **settings}
    # The unique (workspace, module) constraint decides a race the check above lost.
    with integrity_errors_as_conflict(message):
        db.session.flush()
    return describe(info, row)


def _editable_row(*, workspace_id, module):
    row = _row(module)
    info = get_module(module)
    if row is None:
        row = _materialise(workspace_id=workspace_id, info=_known_or_404(module))
    return info, row


def toggle_module(*, workspace_id, module):
    info, row = _editable_row(workspace_id=workspace_id, module=module)
    row.enabled = not row.enabled
    db.session.flush()
    return describe(info, row)


def update_module(*, workspace_id, module, enabled=None, settings=None):
    """`settings` is merged key by key; a key set to null goes back to its default."""
    info, row = _editable_row(workspace_id=workspace_id, module=module)
    if enabled is not None:
        row.enabled = enabled
    if settings:
        merged = dict(row.settings)
        for key, value in settings.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        row.settings = merged
    db.session.flush()
    return describe(info, row)


# --- upkeep (the workspace-health migration) ---------------------------------------------------


def outdated_modules():
    """{module: [setting, ...]} for stored settings that lack defaults the registry gained since."""
    outdated = {}
    for module, row in _rows().items():
        info = get_module(module)
        missing = sorted(set(info.settings) - set(row.settings)) if info else []
        if missing:
            outdated[module] = missing
    return outdated


def ensure_module_settings(*, workspace_id):
    """Store a row for every registered module and merge new defaults into existing rows.

    Idempotent; values the workspace chose are never overwritten. Returns {"created", "updated"}.
    """
    rows = _rows()
    created, updated = [], []
    for info in known_modules():
        row = rows.get(info.key)
        if row is None:
            _materialise(workspace_id=workspace_id, info=info)
            created.append(info.key)
        elif set(info.settings) - set(row.settings):
            row.settings = {**info.settings, **row.settings}
            updated.append(info.key)
    db.session.flush()
    return {"created": created, "updated": updated}
