"""Webhook endpoints: core's Webhooks section and neuromancer's /webhooks (shared paths, one handler)."""

import flask
from flask.views import MethodView

from narrative.extensions import db
from narrative.identity.access import current_user, require
from narrative.identity.permissions import register_permissions
from narrative.platform.api import Blueprint
from narrative.platform.events import event_types
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.tenancy import current_workspace_id
from narrative.webhooks import service
from narrative.webhooks.schemas import (
    DeliveryAttemptSchema,
    DeliveryListArgs,
    EventTypeListSchema,
    WebhookCountArgs,
    WebhookCountSchema,
    WebhookCreateSchema,
    WebhookListArgs,
    WebhookSchema,
    WebhookTestResultSchema,
    WebhookTestSchema,
    WebhookWithSecretSchema,
    WebhookWriteSchema,
)

register_permissions(
    "webhooks",
    {
        "webhooks.read": "View webhooks and their delivery history",
        "webhooks.use": "Send test messages to webhooks",
        "webhooks.manage": "Create, edit, switch on/off, re-key, redeliver and delete webhooks",
    },
)

blp = Blueprint("webhooks", __name__, description="Outgoing webhooks: signed, retried, replayable")


def _with_secret(endpoint, secret):
    endpoint.secret_shown_once = secret
    return endpoint


@blp.route("/api/v1/webhooks/events")
@blp.operation("neuromancer.automation.webhooks-events")
@require("webhooks.read")
@blp.response(200, EventTypeListSchema)
def list_event_types():
    """Every event type a webhook can subscribe to, with a description and an example payload"""
    types = event_types()
    return {"events": types, "event_types": [item["name"] for item in types]}


@blp.route("/api/v1/webhooks", methods=["GET"])
@blp.operation("core.webhooks.list", also=["neuromancer.automation.webhooks-list"])
@require("webhooks.read")
@blp.arguments(WebhookListArgs, location="query")
@blp.response(200, page_schema(WebhookSchema, "skip"))
def list_webhooks(args):
    """List the workspace's webhooks (skip/limit; is_active filters)"""
    stmt = service.list_webhooks_query(is_active=args.pop("is_active", None))
    return paginate(stmt, args, style="skip", order_by=[service.WebhookEndpoint.created_at.desc()])


@blp.route("/api/v1/webhooks", methods=["POST"])
@blp.operation("core.webhooks.create", also=["neuromancer.automation.webhooks-create"])
@require("webhooks.manage")
@blp.arguments(WebhookCreateSchema)
@blp.response(201, WebhookWithSecretSchema)
def create_webhook(payload):
    """Create a webhook; the response shows its secret this once"""
    is_active = payload.pop("is_active", None)
    endpoint, secret = service.create_webhook(
        workspace_id=current_workspace_id(),
        created_by_id=current_user().id,
        is_active=True if is_active is None else is_active,
        **payload,
    )
    return _with_secret(endpoint, secret)


@blp.route("/api/v1/webhooks/count")
@blp.operation("core.webhooks.count")
@require("webhooks.read")
@blp.arguments(WebhookCountArgs, location="query")
@blp.response(200, WebhookCountSchema)
def count_webhooks(args):
    """How many webhooks the workspace has (is_active filters)"""
    return {"count": service.count_webhooks(is_active=args.get("is_active"))}


@blp.route("/api/v1/webhooks/<webhook_id>")
class WebhookItem(MethodView):
    @blp.operation("core.webhooks.get", also=["neuromancer.automation.webhooks-get"])
    @require("webhooks.read")
    @blp.response(200, WebhookSchema)
    def get(self, webhook_id):
        """One webhook (its secret masked)"""
        return service.get_webhook(webhook_id)

    @blp.operation("core.webhooks.update", description="PUT on the same path runs this same handler.")
    @require("webhooks.manage")
    @blp.arguments(WebhookWriteSchema)
    @blp.response(200, WebhookSchema)
    def patch(self, payload, webhook_id):
        """Update a webhook (only the fields sent change)"""
        return _update(webhook_id, payload)

    @blp.operation(
        "neuromancer.automation.webhooks-update", description="PATCH on the same path runs this same handler."
    )
    @require("webhooks.manage")
    @blp.arguments(WebhookWriteSchema)
    @blp.response(200, WebhookSchema)
    def put(self, payload, webhook_id):
        """Update a webhook (url, events, secret, headers, active)"""
        return _update(webhook_id, payload)

    @blp.operation("core.webhooks.delete", also=["neuromancer.automation.webhooks-delete"])
    @require("webhooks.manage")
    @blp.response(204)
    def delete(self, webhook_id):
        """Delete a webhook with its delivery history"""
        service.delete_webhook(service.get_webhook(webhook_id))


def _update(webhook_id, payload):
    """The one update handler behind PATCH (core) and PUT (neuromancer)."""
    endpoint = service.get_webhook(webhook_id)
    new_secret = service.update_webhook(endpoint, changes=payload)
    if new_secret:
        # A secret set by the caller is theirs already; show it back as on creation.
        return _with_secret(endpoint, new_secret)
    return endpoint


@blp.route("/api/v1/webhooks/<webhook_id>/regenerate-secret", methods=["POST"])
@blp.operation("core.webhooks.regenerate-secret")
@require("webhooks.manage")
@blp.response(200, WebhookWithSecretSchema)
def regenerate_secret(webhook_id):
    """New secret (shown this once); the old one keeps signing beside it for 24 hours"""
    endpoint = service.get_webhook(webhook_id)
    secret = service.rotate_secret(endpoint)
    return _with_secret(endpoint, secret)


@blp.route("/api/v1/webhooks/<webhook_id>/toggle", methods=["POST"])
@blp.operation("core.webhooks.toggle-active")
@require("webhooks.manage")
@blp.response(200, WebhookSchema)
def toggle_webhook(webhook_id):
    """Switch a webhook on or off"""
    endpoint = service.toggle_webhook(service.get_webhook(webhook_id))
    return endpoint


@blp.route("/api/v1/webhooks/<webhook_id>/test", methods=["POST"])
@blp.operation("core.webhooks.test", also=["neuromancer.automation.webhooks-test"])
@require("webhooks.use")
@blp.arguments(WebhookTestSchema)
@blp.response(200, WebhookTestResultSchema)
def test_webhook(payload, webhook_id):
    """Send a sample of an event type now (the registry's example, or your payload) and report the answer"""
    endpoint = service.get_webhook(webhook_id)
    return service.send_test(
        endpoint, event_type=payload.get("event") or payload.get("event_type"), payload=payload.get("payload")
    )


def _attempt_item(row):
    attempt, message = row
    return {
        "id": attempt.id,
        "delivery_id": message.id,
        "message_id": message.message_id,
        "event_type": message.event_type,
        "event_id": message.event_id,
        "is_test": message.is_test,
        "attempt_number": attempt.attempt_number,
        "trigger": attempt.trigger,
        "status": attempt.status,
        "delivery_status": message.status,
        "status_code": attempt.status_code,
        "duration_ms": attempt.duration_ms,
        "response_body": attempt.response_body,
        "error": attempt.error,
        "scheduled_for": attempt.scheduled_for,
        "started_at": attempt.started_at,
        "finished_at": attempt.finished_at,
        "next_retry_at": attempt.next_retry_at,
        "created_at": attempt.created_at,
        "request_body": message.body,
    }


@blp.route("/api/v1/webhooks/<webhook_id>/deliveries")
@blp.operation("neuromancer.automation.webhooks-deliveries")
@require("webhooks.read")
@blp.arguments(DeliveryListArgs, location="query")
@blp.response(200, page_schema(DeliveryAttemptSchema, "cursor"))
def list_deliveries(args, webhook_id):
    """Delivery history, one entry per attempt, newest first: status code, duration, response body"""
    endpoint = service.get_webhook(webhook_id)
    stmt = service.deliveries_query(endpoint, status=args.pop("status"), event_type=args.pop("event_type"))
    page = paginate(
        stmt,
        args,
        style="cursor",
        order_by=[service.WebhookAttempt.created_at.desc(), service.WebhookAttempt.id.desc()],
    )
    page.items = [_attempt_item(row) for row in page.items]
    return page


# Beyond the catalog: plain Flask routes, kept out of the OpenAPI document (which lists catalog
# entries only).
extra = flask.Blueprint("webhooks_extra", __name__)


@extra.route("/api/v1/webhooks/<webhook_id>/deliveries/<delivery_id>/redeliver", methods=["POST"])
@require("webhooks.manage")
def redeliver(webhook_id, delivery_id):
    """Send a past message again (same webhook-id; one attempt, outside the retry schedule)"""
    endpoint = service.get_webhook(webhook_id)
    attempt = service.redeliver(endpoint, delivery_id)
    item = _attempt_item((attempt, db.session.get(service.WebhookDelivery, attempt.delivery_id)))
    return DeliveryAttemptSchema().dump(item), 202
