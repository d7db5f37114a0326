"""Notification endpoints (core Notifications, neuromancer /notifications), the live stream and
preferences. Every endpoint acts on the caller's own notifications in the request's workspace."""

from flask import request

from narrative.extensions import db
from narrative.identity.access import current_user, require
from narrative.identity.permissions import register_permissions
from narrative.notifications import service
from narrative.notifications.models import NotificationPreference
from narrative.notifications.schemas import (
    BulkPreferencesSchema,
    ChannelsSchema,
    DeletedSchema,
    EmailDeliveryOutSchema,
    EmailDeliverySchema,
    MarkReadSchema,
    NotificationListArgs,
    NotificationSchema,
    PreferenceCreateSchema,
    PreferenceSchema,
    StreamArgs,
    UnreadCountSchema,
    UpdatedSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.sse import sse_response
from narrative.platform.tenancy import get_or_404

register_permissions(
    "notifications",
    {"notifications.read": "Read, mark and delete your own notifications; set your preferences"},
    member=["notifications.read"],
    viewer=["notifications.read"],
)

blp = Blueprint("notifications", __name__, description="Notifications, their live stream and preferences")
READ = "notifications.read"


def _me():
    return {"user_id": current_user().id}


@blp.route("/api/v1/notifications")
@blp.operation("core.notifications.list", also=["neuromancer.automation.notifications-list"])
@require(READ)
@blp.arguments(NotificationListArgs, location="query")
@blp.response(200, page_schema(NotificationSchema, "offset"))
def list_notifications(args):
    """Your notifications and the workspace's broadcasts, newest first (unread_only, type, since/until)"""
    types = [t.strip() for t in (args.pop("type") or "").split(",") if t.strip()]
    stmt = service.visible_query(
        **_me(),
        unread_only=args.pop("unread_only"),
        types=types or None,
        since=args.pop("since"),
        until=args.pop("until"),
    )
    page = paginate(stmt, args, style="offset", order_by=[service.Notification.created_at.desc()])
    page.items = [service.notification_dict(row, read_at=read_at) for row, read_at in page.items]
    return page


@blp.route("/api/v1/notifications/unread-count")
@blp.operation("core.notifications.unread-count", also=["neuromancer.automation.notifications-unread-count"])
@require(READ)
@blp.response(200, UnreadCountSchema)
def unread_count():
    """How many of your notifications are unread"""
    return {"count": service.unread_count(**_me())}


@blp.route("/api/v1/notifications/mark-read", methods=["POST"])
@blp.operation("core.notifications.mark-read")
@require(READ)
@blp.arguments(MarkReadSchema)
@blp.response(200, UpdatedSchema)
def mark_read(payload):
    """Mark one (notification_id), several (notification_ids) or, with neither, all as read"""
    rows = None
    if payload.get("notification_ids") is not None or payload.get("notification_id"):
        rows = service.named_notifications(
            **_me(),
            notification_id=payload.get("notification_id"),
            notification_ids=payload.get("notification_ids"),
        )
    return {"updated": service.mark_read(**_me(), rows=rows)}


@blp.route("/api/v1/notifications/read-all", methods=["PUT"])
@blp.operation("neuromancer.automation.notifications-read-all")
@require(READ)
@blp.response(200, UpdatedSchema)
def mark_all_read():
    """Mark all your notifications as read"""
    return {"updated": service.mark_read(**_me())}


@blp.route("/api/v1/notifications/<notification_id>/read", methods=["PUT"])
@blp.operation("neuromancer.automation.notifications-read")
@require(READ)
@blp.response(200, NotificationSchema)
def mark_one_read(notification_id):
    """Mark one notification as read"""
    me = _me()
    row = service.visible_one(notification_id, **me)
    service.mark_read(**me, rows=[row])
    receipt = db.session.get(service.NotificationReceipt, (row.id, me["user_id"]))
    return service.notification_dict(row, read_at=receipt.read_at if receipt else None)


@blp.route("/api/v1/notifications/<notification_id>", methods=["DELETE"])
@blp.operation("neuromancer.automation.notifications-delete")
@require(READ)
@blp.response(200, DeletedSchema)
def delete_notification(notification_id):
    """Delete one of your notifications (a broadcast is hidden for you only)"""
    service.delete_notification(**_me(), notification_id=notification_id)
    return {"deleted": True, "id": notification_id}


@blp.route("/api/v1/notifications/stream")
@blp.operation("core.notifications.stream")
@require()
@blp.arguments(StreamArgs, location="query")
@blp.response(200, description="text/event-stream of notification and workspace_event frames")
def stream(args):
    """Live notifications: frames {type: "notification", notification} and {type: "workspace_event", event_type}"""
    return sse_response(
        service.user_stream_key(current_user().id),
        last_event_id=args.get("last_event_id") or request.headers.get("Last-Event-ID"),
        is_terminal=lambda payload: False,
    )


@blp.route("/api/v1/notifications/defaults")
@blp.operation("core.notifications.get-defaults")
@require(READ)
def get_defaults():
    """Recommended settings per notification type, grouped by category"""
    return service.defaults_by_category()


@blp.route("/api/v1/notifications/email-delivery", methods=["GET"])
@blp.operation("core.notifications.get-email-delivery")
@require(READ)
@blp.response(200, EmailDeliveryOutSchema)
def get_email_delivery():
    """Your email delivery mode: instant, or a digest every 30 or 60 minutes"""
    return service.email_setting(**_me())


@blp.route("/api/v1/notifications/email-delivery", methods=["PUT"])
@blp.operation("core.notifications.update-email-delivery")
@require(READ)
@blp.arguments(EmailDeliverySchema)
@blp.response(200, EmailDeliveryOutSchema)
def update_email_delivery(payload):
    """Set instant or digest email delivery"""
    return service.update_email_setting(
        **_me(), mode=payload.get("email_delivery_mode"), frequency=payload.get("digest_frequency_minutes")
    )


@blp.route("/api/v1/notifications/me", methods=["GET"])
@blp.operation("core.notifications.list-preferences")
@require(READ)
@blp.response(200, PreferenceSchema(many=True))
def list_preferences():
    """Your stored notification preferences (types without one use the defaults)"""
    return service.preferences(**_me())


@blp.route("/api/v1/notifications/me", methods=["POST"])
@blp.operation("core.notifications.create-preference")
@require(READ)
@blp.arguments(PreferenceCreateSchema)
@blp.response(201, PreferenceSchema)
def create_preference(payload):
    """Create (or replace) your preference for one notification type"""
    return service.set_preference(**_me(), event_type=payload.pop("event_type"), values=payload)


@blp.route("/api/v1/notifications/me/reset", methods=["POST"])
@blp.operation("core.notifications.reset-preferences")
@require(READ)
@blp.response(200, PreferenceSchema(many=True))
def reset_preferences():
    """Replace your preferences by the recommended defaults"""
    return service.reset_preferences(**_me())


@blp.route("/api/v1/notifications/me/bulk", methods=["PUT"])
@blp.operation("core.notifications.bulk-update-preferences")
@require(READ)
@blp.arguments(BulkPreferencesSchema)
@blp.response(200, PreferenceSchema(many=True))
def bulk_update_preferences(payload):
    """Create or update many preferences at once"""
    me = _me()
    rows = [
        service.set_preference(**me, event_type=item.pop("event_type"), values=item)
        for item in payload["preferences"]
    ]
    return rows


def _own_preference(preference_id):
    row = get_or_404(NotificationPreference, preference_id)
    if row.user_id != current_user().id:
        raise service.NotFound("Preference not found.")
    return row


@blp.route("/api/v1/notifications/me/<preference_id>", methods=["PUT"])
@blp.operation("core.notifications.update-preference")
@require(READ)
@blp.arguments(ChannelsSchema)
@blp.response(200, PreferenceSchema)
def update_preference(payload, preference_id):
    """Change one of your preferences"""
    return service.update_preference_by_id(_own_preference(preference_id), payload)


@blp.route("/api/v1/notifications/me/<preference_id>", methods=["DELETE"])
@blp.operation("core.notifications.delete-preference")
@require(READ)
@blp.response(204)
def delete_preference(preference_id):
    """Delete one of your preferences (its type goes back to the defaults)"""
    db.session.delete(_own_preference(preference_id))


@blp.route("/api/v1/notifications/preferences/v2", methods=["GET"])
@blp.operation("core.notifications.get-preferences-v2")
@require(READ)
def get_preferences_v2():
    """Every notification type with your settings, defaults filled in"""
    return service.preferences_v2(**_me())


@blp.route("/api/v1/notifications/preferences/v2/<event_type>", methods=["PUT"])
@blp.operation("core.notifications.update-preference-v2")
@require(READ)
@blp.arguments(ChannelsSchema)
def update_preference_v2(payload, event_type):
    """Set the channels (in-app, email, WhatsApp) or mute one notification type"""
    me = _me()
    service.set_preference(**me, event_type=event_type, values=payload)
    return {"event_type": event_type, **service.effective_settings(**me, event_type=event_type)}
