"""API key endpoints: core and narrowapi share `/api/v1/api-keys`; the assistant family has `/api/api-keys`.

- Core and narrowapi (one handler per method and path): the workspace's keys. narrowapi management
  calls may themselves be authenticated with an `sk_` key (scope `api_keys.*` or `*`).
- The list accepts both families' paging: core's `skip`/`limit` and narrowapi's `limit`/`cursor`
  (-> `next_cursor`); the body carries both envelopes' fields.
- Assistant ("my keys"): the caller's own keys, under the `api_keys.own` permission members have.
"""

from narrative.identity.access import current_caller, current_user, current_workspace, require
from narrative.identity.api_keys import service
from narrative.identity.api_keys.schemas import (
    ApiKeyCountSchema,
    ApiKeyCreateSchema,
    ApiKeyListArgsSchema,
    ApiKeyListSchema,
    ApiKeySchema,
    ApiKeyStatusArgsSchema,
    ApiKeyUpdateSchema,
    ApiKeyWithSecretSchema,
)
from narrative.identity.models import ApiKey
from narrative.identity.permissions import register_permissions
from narrative.platform.api import Blueprint
from narrative.platform.caller import API_KEY
from narrative.platform.pagination import CursorPageArgs, newest_first, page_schema, paginate

register_permissions(
    "api_keys",
    {"api_keys.own": "Create, list and revoke your own API keys"},
    member=["api_keys.own"],
    viewer=[],
)

blp = Blueprint("api_keys", __name__, description="API keys (sk_...): create, rotate, revoke")


def _maker_scopes():
    """A key that creates or edits keys passes on at most its own scopes."""
    caller = current_caller()
    return caller.scopes if caller is not None and caller.kind == API_KEY else None


def _with_secret(key, raw):
    key.key = raw  # a transient attribute for the response schema; never stored
    return key


def _create(payload):
    key, raw = service.create_key(
        user=current_user(),
        workspace=current_workspace(),
        name=payload["name"],
        description=payload.get("description"),
        scopes=payload.get("scopes"),
        expires_at=payload.get("expires_at"),
        maker_scopes=_maker_scopes(),
    )
    return _with_secret(key, raw)


# --- core and narrowapi: /api/v1/api-keys -----------------------------------------------------


@blp.route("/api/v1/api-keys")
@blp.operation(
    "core.api-keys.list",
    also=["narrowapi.api-keys.list"],
    description="Paging: core clients send `skip`/`limit`; narrowapi clients send `limit` and the "
    "previous page's `next_cursor` as `cursor`. Without `skip` the page also carries `next_cursor`.",
)
@require("api_keys.read")
@blp.arguments(ApiKeyListArgsSchema, location="query")
@blp.response(200, ApiKeyListSchema)
def list_api_keys(args):
    """List the workspace's API keys (prefixes only, never the keys)"""
    filters = {"is_active": args["is_active"], "is_revoked": args["is_revoked"]}
    stmt = service.keys_select(**filters)
    total = service.count_keys(**filters)
    order = newest_first(ApiKey)
    if args.get("skip"):
        page = paginate(stmt, args, style="skip", order_by=order, with_total=False)
        return {**page.meta, "items": page.items, "total": total, "next_cursor": None}
    page = paginate(stmt, args, style="cursor", order_by=order)
    skip = None if args.get("cursor") else 0
    return {**page.meta, "items": page.items, "total": total, "skip": skip}


@blp.route("/api/v1/api-keys/count")
@blp.operation("core.api-keys.count")
@require("api_keys.read")
@blp.arguments(ApiKeyStatusArgsSchema, location="query")
@blp.response(200, ApiKeyCountSchema)
def count_api_keys(args):
    """How many API keys the workspace has"""
    return {"count": service.count_keys(is_active=args["is_active"], is_revoked=args["is_revoked"])}


@blp.route("/api/v1/api-keys", methods=["POST"])
@blp.operation("core.api-keys.create", also=["narrowapi.api-keys.create"])
@require("api_keys.manage")
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, ApiKeyWithSecretSchema)
def create_api_key(payload):
    """Create an API key; the full key is in this response only"""
    return _create(payload)


@blp.route("/api/v1/api-keys/<api_key_id>")
@blp.operation("core.api-keys.get")
@require("api_keys.read")
@blp.response(200, ApiKeySchema)
def get_api_key(api_key_id):
    """One API key (its prefix, never the key)"""
    return service.get_key(api_key_id)


@blp.route("/api/v1/api-keys/<api_key_id>", methods=["PATCH"])
@blp.operation("core.api-keys.update")
@require("api_keys.manage")
@blp.arguments(ApiKeyUpdateSchema)
@blp.response(200, ApiKeySchema)
def update_api_key(payload, api_key_id):
    """Change a key's name, description, scopes or active status (rotate to change the key)"""
    key = service.update_key(service.get_key(api_key_id), changes=payload, maker_scopes=_maker_scopes())
    return key


@blp.route("/api/v1/api-keys/<api_key_id>", methods=["DELETE"])
@blp.operation(
    "core.api-keys.delete",
    also=["narrowapi.api-keys.delete"],
    description="Removes the key for good: it stops authenticating at once (narrowapi's "
    "'delete (revoke)'). Answers 204 with no body. To keep the record for audit, use revoke.",
)
@require("api_keys.manage")
@blp.response(204)
def delete_api_key(api_key_id):
    """Delete an API key permanently"""
    service.delete_key(service.get_key(api_key_id))


@blp.route("/api/v1/api-keys/<api_key_id>/revoke", methods=["POST"])
@blp.operation("core.api-keys.revoke")
@require("api_keys.manage")
@blp.response(200, ApiKeySchema)
def revoke_api_key(api_key_id):
    """Revoke a key for good (the record is kept for audit)"""
    key = service.revoke_key(service.get_key(api_key_id))
    return key


@blp.route("/api/v1/api-keys/<api_key_id>/rotate", methods=["POST"])
@blp.operation("core.api-keys.rotate")
@require("api_keys.manage")
@blp.response(200, ApiKeyWithSecretSchema)
def rotate_api_key(api_key_id):
    """Replace a key by a new one with the same settings; the old key stops working now"""
    new_key, raw = service.rotate_key(service.get_key(api_key_id), workspace=current_workspace())
    return _with_secret(new_key, raw)


@blp.route("/api/v1/api-keys/<api_key_id>/toggle", methods=["POST"])
@blp.operation("core.api-keys.toggle")
@require("api_keys.manage")
@blp.response(200, ApiKeySchema)
def toggle_api_key(api_key_id):
    """Disable an active key or re-enable a disabled one (revoked keys stay revoked)"""
    key = service.toggle_key(service.get_key(api_key_id))
    return key


# --- assistant: /api/api-keys (the caller's own keys) ------------------------------------------


@blp.route("/api/api-keys")
@blp.operation("assistant.users.api-keys-list")
@require("api_keys.own")
@blp.arguments(CursorPageArgs, location="query")
@blp.response(200, page_schema(ApiKeySchema, "cursor"))
def list_my_api_keys(args):
    """List my API keys in this workspace"""
    stmt = service.keys_select(user_id=current_caller().user_id)
    return paginate(stmt, args, style="cursor", order_by=newest_first(ApiKey))


@blp.route("/api/api-keys", methods=["POST"])
@blp.operation("assistant.users.api-keys-create")
@require("api_keys.own")
@blp.arguments(ApiKeyCreateSchema)
@blp.response(201, ApiKeyWithSecretSchema)
def create_my_api_key(payload):
    """Create an API key; the full key is in this response only"""
    return _create(payload)


@blp.route("/api/api-keys/<api_key_id>", methods=["DELETE"])
@blp.operation("assistant.users.api-keys-revoke")
@require("api_keys.own")
@blp.response(200, ApiKeySchema)
def revoke_my_api_key(api_key_id):
    """Revoke one of my API keys"""
    key = service.revoke_key(service.get_key(api_key_id, user_id=current_caller().user_id))
    return key
