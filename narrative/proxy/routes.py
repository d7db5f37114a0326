"""The API proxy's endpoints: actions, execution tokens, executions (management, /api/v1) and /x/{id}."""

import sqlalchemy as sa
from flask import current_app

from narrative.identity.access import current_user_id, require
from narrative.identity.permissions import register_permissions
from narrative.platform.api import Blueprint
from narrative.platform.errors import NotFound
from narrative.platform.idempotency import idempotency_exempt
from narrative.platform.pagination import newest_first, page_schema, paginate
from narrative.platform.tenancy import current_workspace_id, get_or_404, tenant_select
from narrative.proxy import proxy, service
from narrative.proxy.models import Action, Execution, ExecutionToken
from narrative.proxy.recorder import recorder_for
from narrative.proxy.schemas import (
    ExecutionTokenCreateSchema,
    ExecutionTokenListArgs,
    ExecutionTokenRotateSchema,
    ExecutionTokenSchema,
    IssuedExecutionTokenSchema,
    ProxyActionCreateSchema,
    ProxyActionListArgs,
    ProxyActionSchema,
    ProxyActionUpdateSchema,
    ProxyExecutionListArgs,
    ProxyExecutionSchema,
    RotatedExecutionTokenSchema,
)

register_permissions(
    "proxy",
    {
        "proxy.read": "View proxy actions, their tokens (never the secrets) and executions",
        "proxy.manage": "Create, change and delete proxy actions; issue, rotate and revoke execution tokens",
    },
)

blp = Blueprint("proxy", __name__, description="API proxy: actions, execution tokens, executions")


# ---- actions ------------------------------------------------------------------------------------


@blp.route("/api/v1/actions", methods=["POST"])
@blp.operation("narrowapi.actions.create")
@require("proxy.manage")
@blp.arguments(ProxyActionCreateSchema)
@blp.response(201, ProxyActionSchema)
def create_action(payload):
    """Create an action"""
    action = service.create_action(
        workspace_id=current_workspace_id(), created_by_id=current_user_id(), data=payload
    )
    return action


@blp.route("/api/v1/actions", methods=["GET"])
@blp.operation("narrowapi.actions.list")
@require("proxy.read")
@blp.arguments(ProxyActionListArgs, location="query")
@blp.response(200, page_schema(ProxyActionSchema, "cursor"))
def list_actions(args):
    """List actions (newest first)"""
    stmt = tenant_select(Action, Action.deleted_at.is_(None))
    if args.get("is_active") is not None:
        stmt = stmt.where(Action.is_active.is_(args["is_active"]))
    return paginate(stmt, args, style="cursor", order_by=newest_first(Action))


@blp.route("/api/v1/actions/<action_id>", methods=["GET"])
@blp.operation("narrowapi.actions.get")
@require("proxy.read")
@blp.response(200, ProxyActionSchema)
def get_action(action_id):
    """Get an action"""
    return service.get_live_action_or_404(action_id)


@blp.route("/api/v1/actions/<action_id>", methods=["PATCH"])
@blp.operation("narrowapi.actions.update")
@require("proxy.manage")
@blp.arguments(ProxyActionUpdateSchema)
@blp.response(200, ProxyActionSchema)
def update_action(payload, action_id):
    """Update an action (only the fields sent)"""
    action = service.get_live_action_or_404(action_id)
    service.update_action(action=action, changes=payload)
    return action


@blp.route("/api/v1/actions/<action_id>", methods=["DELETE"])
@blp.operation("narrowapi.actions.delete")
@require("proxy.manage")
@blp.response(204)
def delete_action(action_id):
    """Delete an action: it stops answering, its tokens are revoked, its executions stay readable"""
    action = service.get_live_action_or_404(action_id)
    service.delete_action(action=action)


# ---- execution tokens ---------------------------------------------------------------------------


def _issued(token, raw, revoked_ids=None):
    result = {
        name: getattr(token, name) for name in IssuedExecutionTokenSchema().fields if hasattr(token, name)
    }
    result["token"] = raw
    if revoked_ids is not None:
        result["revoked_token_ids"] = revoked_ids
    return result


@blp.route("/api/v1/tokens", methods=["POST"])
@blp.operation("narrowapi.tokens.create")
@require("proxy.manage")
@blp.arguments(ExecutionTokenCreateSchema)
@blp.response(201, IssuedExecutionTokenSchema)
def create_token(payload):
    """Issue an execution token (sxt_...) for one action; the token is shown once"""
    action = service.live_action_reference(payload["action_id"])
    token, raw = service.create_token(
        action=action,
        created_by_id=current_user_id(),
        label=payload.get("label"),
        expires_at=payload.get("expires_at"),
    )
    return _issued(token, raw)


@blp.route("/api/v1/tokens", methods=["GET"])
@blp.operation("narrowapi.tokens.list")
@require("proxy.read")
@blp.arguments(ExecutionTokenListArgs, location="query")
@blp.response(200, page_schema(ExecutionTokenSchema, "cursor"))
def list_tokens(args):
    """List execution tokens (newest first; never the tokens themselves)"""
    stmt = tenant_select(ExecutionToken)
    if args.get("action_id"):
        stmt = stmt.where(ExecutionToken.action_id == args["action_id"])
    if args.get("status") == "active":
        stmt = stmt.where(ExecutionToken.revoked_at.is_(None))
    elif args.get("status") == "revoked":
        stmt = stmt.where(ExecutionToken.revoked_at.is_not(None))
    return paginate(stmt, args, style="cursor", order_by=newest_first(ExecutionToken))


@blp.route("/api/v1/tokens/<token_id>", methods=["GET"])
@blp.operation("narrowapi.tokens.get")
@require("proxy.read")
@blp.response(200, ExecutionTokenSchema)
def get_token(token_id):
    """Get an execution token"""
    return get_or_404(ExecutionToken, token_id)


@blp.route("/api/v1/tokens/<token_id>", methods=["DELETE"])
@blp.operation("narrowapi.tokens.delete")
@require("proxy.manage")
@blp.response(204)
def delete_token(token_id):
    """Revoke an execution token (at once, on every server)"""
    token = get_or_404(ExecutionToken, token_id)
    service.revoke_token(token=token)


@blp.route("/api/v1/actions/<action_id>/rotate-token", methods=["POST"])
@blp.operation("narrowapi.tokens.rotate")
@require("proxy.manage")
@blp.arguments(ExecutionTokenRotateSchema(), required=False)
@blp.response(201, RotatedExecutionTokenSchema)
def rotate_token(payload, action_id):
    """Issue a new token for the action and revoke the old one(s)"""
    action = service.get_live_action_or_404(action_id)
    payload = payload or {}
    token, raw, revoked = service.rotate_token(
        action=action,
        created_by_id=current_user_id(),
        token_id=payload.get("token_id"),
        label=payload.get("label"),
        expires_at=payload.get("expires_at"),
    )
    return _issued(token, raw, revoked)


# ---- executions ---------------------------------------------------------------------------------


@blp.route("/api/v1/actions/<action_id>/executions", methods=["GET"])
@blp.operation("narrowapi.executions.list")
@require("proxy.read")
@blp.arguments(ProxyExecutionListArgs, location="query")
@blp.response(200, page_schema(ProxyExecutionSchema, "cursor"))
def list_executions(args, action_id):
    """List an action's executions, newest first (also for a deleted action)"""
    action = service.get_live_action_or_404(action_id, include_deleted=True)
    # This process's queued rows first, so a caller reads its own calls back.
    recorder_for(current_app._get_current_object()).flush(timeout=2.0)
    stmt = sa.select(Execution).where(Execution.action_id == action.id)
    if args.get("outcome"):
        stmt = stmt.where(Execution.outcome == args["outcome"])
    return paginate(stmt, args, style="cursor", order_by=newest_first(Execution))


@blp.route("/api/v1/actions/<action_id>/executions/<exec_id>", methods=["GET"])
@blp.operation("narrowapi.executions.get")
@require("proxy.read")
@blp.response(200, ProxyExecutionSchema)
def get_execution(action_id, exec_id):
    """Get one execution of an action"""
    action = service.get_live_action_or_404(action_id, include_deleted=True)
    recorder_for(current_app._get_current_object()).flush(timeout=2.0)
    execution = get_or_404(Execution, exec_id)
    if execution.action_id != action.id:
        raise NotFound("Execution not found.")
    return execution


# ---- the proxy ----------------------------------------------------------------------------------

_ANY_BODY = {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}


@blp.route("/x/<action_id>", methods=["POST"])
@blp.operation(
    "narrowapi.proxy.execute",
    description="Forwards the body, its content type and an allow-list of headers to the action's "
    "target with the action's upstream headers added; returns the upstream's status, body and "
    "content type. Authorization: Bearer sxt_... (an execution token of this action).",
)
@blp.doc(
    security=[{"executionToken": []}],
    requestBody={"required": False, **_ANY_BODY},
    responses={
        "200": {"description": "The upstream's answer (any status it gives)", **_ANY_BODY},
        "401": {"description": "unauthorized: missing token, or not a token of this action"},
        "403": {"description": "execution_limit_reached or action_inactive"},
        "413": {"description": "payload_too_large"},
        "429": {"description": "rate_limited (retry_after_seconds, Retry-After)"},
        "502": {"description": "upstream_unreachable"},
        "504": {"description": "upstream_timeout"},
    },
)
@idempotency_exempt
def execute_action(action_id):
    """Execute an action through the proxy"""
    return proxy.handle(action_id)
