"""Workspace AI settings and `get_provider`: which provider and model serve each function.

Stored in `Workspace.settings["ai"]`::

    {"defaults": {"chat": {"provider": "openai", "model": "gpt-4o-mini"}, "embeddings": {...}, ...},
     "providers": {"openai": {"base_url": "https://api.openai.com/v1", "api_key": "<encrypted>"},
                   "anthropic": {"api_key": "<encrypted>", "base_url": ...}}}

Keys are encrypted at rest (narrative.platform.crypto) and masked on read (`public_settings`).
With nothing configured every function uses the local provider; image generation and
transcription, which the local provider cannot do, go to the first configured provider that can.
"""

import copy

from sqlalchemy.orm.attributes import flag_modified

from narrative.ai.calllog import LoggedProvider
from narrative.ai.providers.base import FUNCTIONS
from narrative.ai.providers.local import LocalProvider
from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform.crypto import CannotDecrypt, decrypt_text, encrypt_text, mask_secret
from narrative.platform.errors import NotFound, ProviderNotConfigured, ValidationFailed

KEY_PURPOSE = "narrative.ai.provider-key"
PROVIDERS = ("local", "openai", "anthropic")
DEFAULT_MODELS = {
    "openai": {
        "chat": "gpt-4o-mini",
        "embeddings": "text-embedding-3-small",
        "image": "dall-e-3",
        "vision": "gpt-4o-mini",
        "transcription": "whisper-1",
    },
    "anthropic": {"chat": "claude-3-5-haiku-latest", "vision": "claude-3-5-sonnet-latest"},
}
DEFAULT_BASE_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
SUPPORTED = {
    "local": {"chat", "embeddings", "vision"},
    "openai": {"chat", "embeddings", "image", "vision", "transcription"},
    "anthropic": {"chat", "vision"},
}


def _workspace(workspace_id):
    workspace = db.session.get(Workspace, workspace_id) if workspace_id is not None else None
    if workspace is None:
        raise NotFound("Workspace not found.")
    return workspace


def stored_settings(workspace_id):
    """The raw `ai` settings (keys still encrypted); {} when nothing is set."""
    workspace = db.session.get(Workspace, workspace_id) if workspace_id is not None else None
    return copy.deepcopy(((workspace.settings or {}) if workspace else {}).get("ai") or {})


def _api_key(entry):
    token = entry.get("api_key")
    if not token:
        return None
    try:
        return decrypt_text(KEY_PURPOSE, token)
    except CannotDecrypt:
        raise ProviderNotConfigured(
            "The AI provider key cannot be read (SECRET_KEY changed); set it again in the AI settings."
        ) from None


def configured_providers(settings):
    """Names of the external providers with a key set."""
    return [name for name, entry in (settings.get("providers") or {}).items() if entry.get("api_key")]


def _choice(settings, function):
    """(provider name, model or None) for `function`."""
    chosen = (settings.get("defaults") or {}).get(function) or {}
    if chosen.get("provider"):
        return chosen["provider"], chosen.get("model")
    if function in SUPPORTED["local"]:
        return "local", None
    for name in configured_providers(settings):
        if function in SUPPORTED.get(name, ()):
            return name, None
    return "local", None


def build_provider(name, settings, *, function="chat", model=None):
    """An unlogged adapter instance for provider `name` with the workspace's settings."""
    if name == "local":
        return LocalProvider(model=None)
    entry = (settings.get("providers") or {}).get(name) or {}
    key = _api_key(entry)
    if not key:
        raise ProviderNotConfigured(
            f"The {name} provider has no API key: set providers.{name}.api_key in the workspace's AI settings "
            "(PUT /api/v1/ai/settings)."
        )
    models = {**DEFAULT_MODELS.get(name, {}), **(entry.get("models") or {})}
    if model:
        models[function] = model
    base_url = entry.get("base_url") or DEFAULT_BASE_URLS[name]
    if name == "openai":
        from narrative.ai.providers.openai import OpenAIProvider

        return OpenAIProvider(api_key=key, base_url=base_url, models=models)
    if name == "anthropic":
        from narrative.ai.providers.anthropic import AnthropicProvider

        return AnthropicProvider(api_key=key, base_url=base_url, models=models)
    raise ProviderNotConfigured(f"Unknown AI provider {name!r} in the workspace's AI settings.")


def get_provider(*, workspace_id, function="chat"):
    """The provider serving `function` for this workspace, wrapped so every call is logged."""
    settings = stored_settings(workspace_id)
    name, model = _choice(settings, function)
    provider = build_provider(name, settings, function=function, model=model)
    return LoggedProvider(provider, workspace_id=workspace_id, function=function)


# ---- reading and writing the settings ---------------------------------------------------------


def public_settings(workspace_id):
    """The settings as an administrator sees them: keys masked, defaults resolved per function."""
    settings = stored_settings(workspace_id)
    providers = {}
    for name, entry in (settings.get("providers") or {}).items():
        shown = {k: v for k, v in entry.items() if k != "api_key"}
        try:
            key = _api_key(entry)
        except ProviderNotConfigured:
            key = None
        shown["api_key"] = mask_secret(key) if key else None
        shown["configured"] = bool(key)
        providers[name] = shown
    defaults = {}
    for function in FUNCTIONS:
        name, model = _choice(settings, function)
        if not model and name != "local":
            model = {
                **DEFAULT_MODELS.get(name, {}),
                **(((settings.get("providers") or {}).get(name) or {}).get("models") or {}),
            }.get(function)
        defaults[function] = {
            "provider": name,
            "model": model or (LocalProvider().model if name == "local" else None),
        }
    return {"defaults": defaults, "providers": providers}


def _check_defaults(defaults):
    details = []
    for function, choice in (defaults or {}).items():
        if function not in FUNCTIONS:
            details.append(
                {"field": f"defaults.{function}", "message": f"Must be one of {', '.join(FUNCTIONS)}."}
            )
            continue
        if choice is None:
            continue
        provider = (choice or {}).get("provider")
        if provider not in PROVIDERS:
            details.append(
                {
                    "field": f"defaults.{function}.provider",
                    "message": f"Must be one of {', '.join(PROVIDERS)}.",
                }
            )
        elif function not in SUPPORTED[provider]:
            details.append(
                {
                    "field": f"defaults.{function}.provider",
                    "message": f"The {provider} provider cannot do {function}.",
                }
            )
    if details:
        raise ValidationFailed(details=details)


def update_settings(*, workspace_id, defaults=None, providers=None):
    """Merge changes: a default set to null goes back to automatic; a provider's api_key null removes
    it, a masked key sent back keeps the stored one. The caller commits."""
    from narrative.platform.outbound import validate_url

    workspace = _workspace(workspace_id)
    settings = stored_settings(workspace_id)
    _check_defaults(defaults)
    merged_defaults = dict(settings.get("defaults") or {})
    for function, choice in (defaults or {}).items():
        if choice is None:
            merged_defaults.pop(function, None)
        else:
            merged_defaults[function] = {"provider": choice["provider"], "model": choice.get("model") or None}
    merged_providers = dict(settings.get("providers") or {})
    for name, changes in (providers or {}).items():
        if name not in PROVIDERS or name == "local":
            raise ValidationFailed(
                details=[{"field": f"providers.{name}", "message": "Must be openai or anthropic."}]
            )
        if changes is None:
            merged_providers.pop(name, None)
            continue
        entry = dict(merged_providers.get(name) or {})
        if "api_key" in changes:
            key = changes["api_key"]
            if key is None or key == "":
                entry.pop("api_key", None)
            elif not str(key).startswith("****"):
                entry["api_key"] = encrypt_text(KEY_PURPOSE, str(key))
        if "base_url" in changes:
            if changes["base_url"]:
                validate_url(changes["base_url"], field=f"providers.{name}.base_url")
                entry["base_url"] = changes["base_url"].rstrip("/")
            else:
                entry.pop("base_url", None)
        if "models" in changes:
            entry["models"] = {f: m for f, m in (changes["models"] or {}).items() if m}
        merged_providers[name] = entry
    workspace.settings = {
        **(workspace.settings or {}),
        "ai": {"defaults": merged_defaults, "providers": merged_providers},
    }
    flag_modified(workspace, "settings")
    return public_settings_from(workspace_id)


def public_settings_from(workspace_id):
    db.session.flush()
    return public_settings(workspace_id)
