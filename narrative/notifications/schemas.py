"""Request and response shapes of the notification endpoints."""

import marshmallow as ma

from narrative.notifications.models import DIGEST_FREQUENCIES, EMAIL_MODES
from narrative.platform.events import get_event_type
from narrative.platform.pagination import OffsetPageArgs
from narrative.platform.schemas import Schema


def _registered_event_type(value):
    # Checked here too (the service checks every path), so a bulk error names the item's index.
    if get_event_type(value) is None:
        raise ma.ValidationError(f"Unknown notification type {value!r}.")


class NotificationListArgs(OffsetPageArgs):
    unread_only = ma.fields.Boolean(load_default=False)
    type = ma.fields.String(load_default=None, metadata={"description": "Comma-separated notification types"})
    since = ma.fields.AwareDateTime(load_default=None, default_timezone=None)
    until = ma.fields.AwareDateTime(load_default=None)


class NotificationSchema(Schema):
    id = ma.fields.UUID()
    type = ma.fields.String()
    category = ma.fields.String()
    title = ma.fields.String()
    body = ma.fields.String(allow_none=True)
    message = ma.fields.String()
    data = ma.fields.Dict()
    workspace_id = ma.fields.UUID()
    user_id = ma.fields.UUID(allow_none=True)
    is_broadcast = ma.fields.Boolean()
    actor_id = ma.fields.UUID(allow_none=True)
    is_read = ma.fields.Boolean()
    read = ma.fields.Boolean()
    read_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


class UnreadCountSchema(Schema):
    count = ma.fields.Integer()


class MarkReadSchema(Schema):
    notification_id = ma.fields.UUID(load_default=None, allow_none=True)
    notification_ids = ma.fields.List(ma.fields.UUID(), load_default=None, allow_none=True)


class UpdatedSchema(Schema):
    updated = ma.fields.Integer()


class DeletedSchema(Schema):
    deleted = ma.fields.Boolean()
    id = ma.fields.UUID()


class ChannelsSchema(Schema):
    inapp_enabled = ma.fields.Boolean(allow_none=True)
    email_enabled = ma.fields.Boolean(allow_none=True)
    whatsapp_enabled = ma.fields.Boolean(allow_none=True)
    muted = ma.fields.Boolean(allow_none=True)


class PreferenceCreateSchema(ChannelsSchema):
    event_type = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=120), _registered_event_type]
    )


class PreferenceSchema(Schema):
    id = ma.fields.UUID()
    event_type = ma.fields.String()
    inapp_enabled = ma.fields.Boolean()
    email_enabled = ma.fields.Boolean()
    whatsapp_enabled = ma.fields.Boolean()
    muted = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class BulkPreferencesSchema(Schema):
    preferences = ma.fields.List(ma.fields.Nested(PreferenceCreateSchema), required=True)


class EmailDeliverySchema(Schema):
    email_delivery_mode = ma.fields.String(validate=ma.validate.OneOf(EMAIL_MODES))
    digest_frequency_minutes = ma.fields.String(
        validate=ma.validate.OneOf([str(m) for m in DIGEST_FREQUENCIES]),
        metadata={"description": '"30" or "60"; used in digest mode'},
    )


class EmailDeliveryOutSchema(Schema):
    email_delivery_mode = ma.fields.String()
    digest_frequency_minutes = ma.fields.Function(lambda row: str(row.digest_frequency_minutes))


class StreamArgs(Schema):
    last_event_id = ma.fields.String(load_default=None)
