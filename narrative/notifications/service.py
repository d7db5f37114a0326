"""Notifications: made from domain events by the "notifications" consumer, read over the API and a
live per-user stream, emailed (at once or in digests) according to each user's preferences.

Which events notify whom is the `KINDS` table: an event type, its category, a title, who receives
it (named users from the payload, or the whole workspace as a broadcast) and the default channels.
A user's `NotificationPreference` for a type overrides the defaults; `muted` silences the type.
Broadcasts are one row for the workspace; each member's read/deleted state is a receipt.
Email: per-user notifications only (a broadcast is never mailed to everyone), through the platform
email outbox; in "digest" mode they wait for `send_notification_digests` (every 5 minutes).

Reads and preference changes act in the current workspace (the session scopes every query to it);
the consumer, `notify` and the digest sweep name the workspace they work for with `workspace_scope`.
"""

from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import Member, User
from narrative.notifications.models import (
    DIGEST,
    INSTANT,
    EmailDeliverySetting,
    Notification,
    NotificationPreference,
    NotificationReceipt,
)
from narrative.platform import unit_of_work
from narrative.platform.email import send_email
from narrative.platform.errors import NotFound, ValidationFailed
from narrative.platform.events import consumer, get_event_type
from narrative.platform.jobs import publish
from narrative.platform.models import parse_uuid, utcnow
from narrative.platform.periodic import every
from narrative.platform.tenancy import current_workspace_id, find, workspace_scope
from narrative.platform.transactions import on_commit

BROADCAST = "broadcast"
CHANNELS = ("inapp_enabled", "email_enabled", "whatsapp_enabled", "muted")


@dataclass(frozen=True)
class Kind:
    category: str
    title: str  # str.format over the payload (missing keys read as "")
    recipients: tuple = ()  # payload keys holding user ids; empty = broadcast to the workspace
    email: bool = False
    inapp: bool = True
    description: str = ""
    extra: dict = field(default_factory=dict)


KINDS = {
    "member.invited": Kind(
        "Members",
        "You were invited to {workspace_name}",
        ("user_id",),
        email=True,
        description="Someone invited you to a workspace",
    ),
    "member.joined": Kind("Members", "{name} joined the workspace", description="A new member joined"),
    "team.created": Kind("Teams", "Team {name} was created", description="A team was created"),
    "team.updated": Kind("Teams", "Team {name} was updated", description="A team was changed"),
    "team.deleted": Kind("Teams", "Team {name} was deleted", description="A team was deleted"),
    "team.member_added": Kind(
        "Assigned Actions",
        "You were added to team {team_name}",
        ("user_id",),
        email=True,
        description="You were added to a team",
    ),
    "job.completed": Kind(
        "Owned Actions", "{kind} finished", ("user_id",), description="A job you started finished"
    ),
    "job.failed": Kind(
        "Owned Actions", "{kind} failed", ("user_id",), email=True, description="A job you started failed"
    ),
    "webhook.disabled": Kind(
        "Integrations",
        "Webhook to {url} was disabled",
        ("created_by_id",),
        email=True,
        description="A webhook you created kept failing and was switched off",
    ),
}


class _Blank(dict):
    def __missing__(self, key):
        return ""


def _title(kind, payload):
    return kind.title.format_map(_Blank({k: v for k, v in payload.items() if isinstance(v, str | int)}))[:300]


def user_stream_key(user_id):
    return f"narrative:notifications:user:{user_id}"


# ---- preferences -----------------------------------------------------------------------------------


def default_settings(event_type):
    kind = KINDS.get(event_type)
    return {
        "inapp_enabled": kind.inapp if kind else True,
        "email_enabled": kind.email if kind else False,
        "whatsapp_enabled": False,
        "muted": False,
    }


def defaults_by_category():
    grouped = {}
    for name, kind in KINDS.items():
        grouped.setdefault(kind.category, {})[name] = {
            **default_settings(name),
            "description": kind.description,
        }
    return grouped


def _preference(user_id, event_type):
    return db.session.scalar(
        sa.select(NotificationPreference).where(
            NotificationPreference.user_id == user_id, NotificationPreference.event_type == event_type
        )
    )


def effective_settings(*, user_id, event_type):
    row = _preference(user_id, event_type)
    if row is None:
        return default_settings(event_type)
    return {name: getattr(row, name) for name in CHANNELS}


def preferences(*, user_id):
    return db.session.scalars(
        sa.select(NotificationPreference)
        .where(NotificationPreference.user_id == user_id)
        .order_by(NotificationPreference.event_type)
    ).all()


def preferences_v2(*, user_id):
    """Every known type with the user's settings, defaults filled in."""
    stored = {p.event_type: p for p in preferences(user_id=user_id)}
    result = {}
    for name in sorted(set(KINDS) | set(stored)):
        row = stored.get(name)
        settings = {c: getattr(row, c) for c in CHANNELS} if row else default_settings(name)
        kind = KINDS.get(name)
        result[name] = {
            **settings,
            "category": kind.category if kind else "Other",
            "customised": row is not None,
        }
    return result


def check_event_type(event_type):
    """Refuse a type that is not in the platform's registry of event types (422, on `event_type`).

    A preference for a type no event can have would never apply, and storing any string a client
    sends would fill the table (and the v2 listing) with junk.
    """
    if not event_type or len(event_type) > 120:
        raise ValidationFailed(details=[{"field": "event_type", "message": "Name a notification type."}])
    if get_event_type(event_type) is None:
        raise ValidationFailed(
            details=[{"field": "event_type", "message": f"Unknown notification type {event_type!r}."}]
        )


def set_preference(*, user_id, event_type, values):
    """Create or update the user's preference for `event_type` with the given channel values."""
    check_event_type(event_type)
    row = _preference(user_id, event_type)
    if row is None:
        row = NotificationPreference(
            workspace_id=current_workspace_id(),
            user_id=user_id,
            event_type=event_type,
            **default_settings(event_type),
        )
        db.session.add(row)
    for name in CHANNELS:
        if values.get(name) is not None:
            setattr(row, name, values[name])
    db.session.flush()
    return row


def update_preference_by_id(row, values):
    for name in CHANNELS:
        if values.get(name) is not None:
            setattr(row, name, values[name])
    db.session.flush()
    return row


def reset_preferences(*, user_id):
    db.session.execute(sa.delete(NotificationPreference).where(NotificationPreference.user_id == user_id))
    workspace_id = current_workspace_id()
    rows = [
        NotificationPreference(
            workspace_id=workspace_id, user_id=user_id, event_type=name, **default_settings(name)
        )
        for name in KINDS
    ]
    db.session.add_all(rows)
    db.session.flush()
    return rows


def email_setting(*, user_id, create=False):
    row = db.session.scalar(sa.select(EmailDeliverySetting).where(EmailDeliverySetting.user_id == user_id))
    if row is None:
        row = EmailDeliverySetting(
            workspace_id=current_workspace_id(),
            user_id=user_id,
            email_delivery_mode=INSTANT,
            digest_frequency_minutes=60,
        )
        if create:
            db.session.add(row)
    return row


def update_email_setting(*, user_id, mode=None, frequency=None):
    row = email_setting(user_id=user_id, create=True)
    if mode is not None:
        row.email_delivery_mode = mode
    if frequency is not None:
        row.digest_frequency_minutes = int(frequency)
    db.session.flush()
    return row


# ---- creating notifications ------------------------------------------------------------------------


def _active_member_ids(user_ids=None):
    stmt = sa.select(Member.user_id).where(Member.status == "active")
    if user_ids is not None:
        stmt = stmt.where(Member.user_id.in_(user_ids))
    return list(db.session.scalars(stmt))


def notify(
    *,
    workspace_id,
    event_type,
    title,
    body=None,
    data=None,
    user_ids=None,
    event_id=None,
    actor_id=None,
    category=None,
):
    """Create notifications: for `user_ids` (honouring their preferences) or, with None, a broadcast.

    Recipients are the active members of `workspace_id` among `user_ids`; anyone else is skipped.
    """
    with workspace_scope(workspace_id):
        return _notify(
            workspace_id=workspace_id,
            event_type=event_type,
            title=title,
            body=body,
            data=data,
            user_ids=user_ids,
            event_id=event_id,
            actor_id=actor_id,
            category=category,
        )


def _notify(*, workspace_id, event_type, title, body, data, user_ids, event_id, actor_id, category):
    kind = KINDS.get(event_type)
    category = category or (kind.category if kind else "Other")
    data = data or {}
    if user_ids is None:
        row = Notification(
            workspace_id=workspace_id,
            user_id=None,
            type=event_type,
            category=category,
            title=title,
            body=body,
            data=data,
            event_id=event_id,
            actor_id=actor_id,
            created_at=utcnow(),
        )
        db.session.add(row)
        db.session.flush()
        for member_id in _active_member_ids():
            settings = effective_settings(user_id=member_id, event_type=event_type)
            if settings["inapp_enabled"] and not settings["muted"]:
                _publish_after_commit(member_id, row)
        return [row]
    created = []
    for user_id in _active_member_ids(user_ids):
        settings = effective_settings(user_id=user_id, event_type=event_type)
        if settings["muted"]:
            continue
        row = None
        mode = email_setting(user_id=user_id).email_delivery_mode
        if settings["inapp_enabled"]:
            row = Notification(
                workspace_id=workspace_id,
                user_id=user_id,
                type=event_type,
                category=category,
                title=title,
                body=body,
                data=data,
                event_id=event_id,
                actor_id=actor_id,
                created_at=utcnow(),
                email_pending=settings["email_enabled"] and mode == DIGEST,
            )
            db.session.add(row)
            db.session.flush()
            _publish_after_commit(user_id, row)
            created.append(row)
        # With in-app off there is nothing to gather into a digest: the email goes out at once.
        if settings["email_enabled"] and (mode == INSTANT or row is None):
            _email_now(workspace_id, user_id, title, body)
    return created


def _email_now(workspace_id, user_id, title, body):
    user = db.session.get(User, user_id)
    if user is None or not user.email:
        return
    send_email(
        to=user.email,
        subject=title,
        text=(body or title) + "\n\nYou can change which emails you get in your notification settings.",
        workspace_id=workspace_id,
        kind="notification",
    )


def notification_dict(row, *, read_at=None):
    return {
        "id": row.id,
        "type": row.type,
        "category": row.category,
        "title": row.title,
        "body": row.body,
        "message": row.body or row.title,
        "data": row.data,
        "workspace_id": row.workspace_id,
        "user_id": row.user_id,
        "is_broadcast": row.user_id is None,
        "actor_id": row.actor_id,
        "is_read": (read_at or row.read_at) is not None,
        "read": (read_at or row.read_at) is not None,
        "read_at": read_at or row.read_at,
        "created_at": row.created_at,
    }


def _publish_after_commit(user_id, row):
    frame = {"type": "notification", "event": "notification", "notification": notification_dict(row)}
    on_commit(lambda: publish(user_stream_key(user_id), frame))


def publish_workspace_event(*, workspace_id, event_type, data=None):
    """A `workspace_event` frame (e.g. members_updated) to every active member's stream."""
    frame = {
        "type": "workspace_event",
        "event": "workspace_event",
        "event_type": event_type,
        "workspace_id": str(workspace_id),
        "data": data or {},
    }
    with workspace_scope(workspace_id):
        member_ids = _active_member_ids()
    for user_id in member_ids:
        on_commit(lambda user_id=user_id: publish(user_stream_key(user_id), frame))


_MEMBER_EVENTS = {
    "member.invited",
    "member.joined",
    "member.removed",
    "member.updated",
    "member.role_changed",
}


@consumer("notifications")
def notify_on_event(event):
    """The consumer: events in `KINDS` become notifications (idempotent per event and recipient)."""
    with workspace_scope(event.workspace_id):
        _notify_on_event(event)


def _notify_on_event(event):
    if event.type in _MEMBER_EVENTS:
        publish_workspace_event(workspace_id=event.workspace_id, event_type="members_updated")
    kind = KINDS.get(event.type)
    if kind is None:
        return
    if db.session.scalar(
        sa.select(sa.func.count()).select_from(Notification).where(Notification.event_id == event.id)
    ):
        return  # already handled (at-least-once dispatch)
    payload = event.payload
    body = payload.get("message") or payload.get("error") or None
    if kind.recipients:
        user_ids = [u for u in (parse_uuid(payload.get(key)) for key in kind.recipients) if u is not None]
        if not user_ids:
            return
    else:
        user_ids = None
    notify(
        workspace_id=event.workspace_id,
        event_type=event.type,
        title=_title(kind, payload),
        body=body,
        data=payload,
        user_ids=user_ids,
        event_id=event.id,
        actor_id=event.actor_id,
        category=kind.category,
    )


# ---- reading ---------------------------------------------------------------------------------------


def _hidden_types(user_id):
    hidden = {name for name, kind in KINDS.items() if not kind.inapp}
    for row in preferences(user_id=user_id):
        if row.muted or not row.inapp_enabled:
            hidden.add(row.event_type)
        else:
            hidden.discard(row.event_type)
    return hidden


def visible_query(*, user_id, unread_only=False, types=None, since=None, until=None):
    """(Notification, receipt read_at) rows the user sees: theirs plus the workspace's broadcasts."""
    receipt = sa.orm.aliased(NotificationReceipt)
    stmt = (
        sa.select(Notification, receipt.read_at)
        .outerjoin(receipt, sa.and_(receipt.notification_id == Notification.id, receipt.user_id == user_id))
        .where(
            sa.or_(
                Notification.user_id == user_id,
                sa.and_(Notification.user_id.is_(None), receipt.deleted_at.is_(None)),
            ),
        )
    )
    hidden = _hidden_types(user_id)
    if hidden:
        stmt = stmt.where(sa.or_(Notification.user_id == user_id, Notification.type.not_in(hidden)))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None), receipt.read_at.is_(None))
    if types:
        stmt = stmt.where(Notification.type.in_(types))
    if since:
        stmt = stmt.where(Notification.created_at >= since)
    if until:
        stmt = stmt.where(Notification.created_at <= until)
    return stmt


def unread_count(*, user_id):
    stmt = visible_query(user_id=user_id, unread_only=True)
    return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))


def visible_one(notification_id, *, user_id, field=None):
    """One notification the user sees; else 404, or a 422 naming `field` for an id from a payload."""
    row = find(Notification, notification_id)
    if row is not None and row.user_id is None:
        receipt = db.session.get(NotificationReceipt, (row.id, user_id))
        if receipt is not None and receipt.deleted_at is not None:
            row = None
    if row is None or row.user_id not in (None, user_id):
        if field is not None:
            message = f"Notification {notification_id} is not one of yours."
            raise ValidationFailed(details=[{"field": field, "message": message}])
        raise NotFound("Notification not found.")
    return row


def named_notifications(*, user_id, notification_id=None, notification_ids=None):
    """The notifications a mark-read payload names (422 naming the field of one that is not yours)."""
    named = [(f"notification_ids.{index}", value) for index, value in enumerate(notification_ids or ())]
    if notification_id is not None:
        named.append(("notification_id", notification_id))
    return [visible_one(value, user_id=user_id, field=field) for field, value in named]


def _receipt(row, user_id):
    receipt = db.session.get(NotificationReceipt, (row.id, user_id))
    if receipt is None:
        receipt = NotificationReceipt(notification_id=row.id, user_id=user_id)
        db.session.add(receipt)
    return receipt


def mark_read(*, user_id, rows=None):
    """Mark the given notifications (or all visible unread ones) read; returns how many changed."""
    now = utcnow()
    if rows is None:
        rows = [
            row for row, _read in db.session.execute(visible_query(user_id=user_id, unread_only=True)).all()
        ]
    changed = 0
    for row in rows:
        if row.user_id is None:
            receipt = _receipt(row, user_id)
            if receipt.read_at is None:
                receipt.read_at = now
                changed += 1
        elif row.read_at is None:
            row.read_at = now
            changed += 1
    db.session.flush()
    return changed


def delete_notification(*, user_id, notification_id):
    row = visible_one(notification_id, user_id=user_id)
    if row.user_id is None:
        _receipt(row, user_id).deleted_at = utcnow()  # a broadcast disappears for this member only
    else:
        db.session.delete(row)
    db.session.flush()


# ---- digests ---------------------------------------------------------------------------------------


@every(300)
def send_notification_digests():
    """Email each digest-mode user their pending notifications once their interval has passed."""
    now = utcnow()
    sent = 0
    # Every workspace's settings (the sweep runs in all_workspaces); each digest in its own.
    settings = db.session.scalars(
        sa.select(EmailDeliverySetting).where(EmailDeliverySetting.email_delivery_mode == DIGEST)
    ).all()
    for setting in settings:
        due = (
            setting.last_digest_at is None
            or setting.last_digest_at + timedelta(minutes=setting.digest_frequency_minutes) <= now
        )
        if due:
            with workspace_scope(setting.workspace_id):
                sent += _send_digest(setting, now)
    # A periodic task runs outside the job runner (plain RQ, see narrative.platform.periodic), so
    # nothing else ends its unit of work.
    unit_of_work.commit()
    return {"digests": sent}


def _send_digest(setting, now):
    """One user's digest of their pending notifications; returns 1 when an email went out."""
    pending = db.session.scalars(
        sa.select(Notification)
        .where(Notification.user_id == setting.user_id, Notification.email_pending.is_(True))
        .order_by(Notification.created_at)
    ).all()
    if not pending:
        return 0
    sent = 0
    user = db.session.get(User, setting.user_id)
    if user is not None and user.email:
        unread = [n for n in pending if n.read_at is None]
        lines = [f"- {n.title}" + ("" if n.read_at is None else " (read)") for n in pending]
        subject = f"{len(unread)} notification{'s' if len(unread) != 1 else ''} need your attention"
        send_email(
            to=user.email,
            subject=subject,
            text="\n".join(lines),
            workspace_id=setting.workspace_id,
            kind="notification_digest",
        )
        sent = 1
    for n in pending:
        n.email_pending = False
    setting.last_digest_at = now
    db.session.flush()  # inside the workspace's scope, with the email it sent
    return sent
