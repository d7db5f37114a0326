"""The code's registry of feature modules a workspace can enable, with their default settings.

A domain registers its module at import time::

    register_module("crm", name="CRM", description="Contacts and companies",
                    settings={"duplicate_check": True})

A workspace that never configured a module has these defaults; when a registered module gains a
setting, workspaces that stored their settings earlier lack it until the workspace-health
migration merges the new defaults in (`narrative.modules.jobs`).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ModuleInfo:
    key: str
    name: str
    description: str
    enabled: bool = True
    settings: dict = field(default_factory=dict)


_modules: dict[str, ModuleInfo] = {}


def register_module(key, *, name, description, enabled=True, settings=None):
    """Add or replace a module's entry; `enabled` and `settings` are a new workspace's defaults."""
    _modules[key] = ModuleInfo(
        key=key, name=name, description=description, enabled=enabled, settings=dict(settings or {})
    )
    return _modules[key]


def unregister_module(key):
    _modules.pop(key, None)


def get_module(key):
    return _modules.get(key)


def known_modules():
    return [_modules[key] for key in sorted(_modules)]


# The product's feature areas; each domain may re-register its own entry with richer defaults.
for _key, _name, _description in (
    ("records", "Records", "Custom record sets and their fields"),
    ("crm", "CRM", "Contacts, companies and their activity"),
    ("deals", "Deals", "Deal pipeline and underwriting"),
    ("maps", "Maps", "Places, geocoding and map layers"),
    ("chat", "Chat", "AI chat over the workspace's data"),
    ("content", "Content", "Content studio: drafts, calendar and publishing"),
    ("automation", "Automation", "Triggers, actions and webhooks"),
    ("tasks", "Tasks", "Tasks and kanban boards"),
    ("analytics", "Analytics", "Dashboards and reports"),
    ("integrations", "Integrations", "Connections to outside services"),
):
    register_module(_key, name=_name, description=_description)
