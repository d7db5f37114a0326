"""The registry of event types (name, description, payload example) and of the consumers of events.

Both are filled at import time by the modules that own them: a domain registers the event types it
emits next to its service code, and a consumer (webhooks, automations, notifications, activity
feed) registers itself with `@consumer("name")` in a module its package imports, so every web
process and every worker knows the same types and consumers.
"""

import json
import re
from dataclasses import asdict, dataclass

# "task.created", "record.field_changed", "job.completed": lowercase dotted words.
_EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_CONSUMER_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    example: dict
    category: str


_event_types: dict[str, EventType] = {}
# Registration order is delivery order among the consumers of one event.
_consumers: dict[str, object] = {}


def register_event_type(name, *, description, example, category=None):
    """Declare an event type; emitting an undeclared type is refused.

    `example` is a payload as consumers will receive it (it is shown in the trigger and webhook
    catalogs). `category` defaults to the name's first word ("task" for "task.created").
    Registering the same definition again is a no-op; a different one under the same name is an error.
    """
    if not _EVENT_NAME.match(name or ""):
        raise ValueError(f"event type {name!r} must be lowercase dotted words, like 'task.created'")
    if not description or not str(description).strip():
        raise ValueError(f"event type {name!r} needs a description")
    if not isinstance(example, dict):
        raise ValueError(f"the example of event type {name!r} must be a dict (a payload)")
    try:
        json.dumps(example)
    except TypeError as exc:
        raise ValueError(f"the example of event type {name!r} is not JSON: {exc}") from None
    event_type = EventType(name, str(description).strip(), example, category or name.split(".", 1)[0])
    existing = _event_types.get(name)
    if existing is not None and existing != event_type:
        raise ValueError(f"event type {name!r} is already registered with another definition")
    _event_types[name] = event_type
    return event_type


def get_event_type(name):
    """The registered type called `name`, or None."""
    return _event_types.get(name)


def event_types():
    """Every registered type as {name, description, example, category}, sorted by name."""
    return [asdict(_event_types[name]) for name in sorted(_event_types)]


def consumer(name):
    """Register `fn(event)` to receive every event after its transaction commits.

    The dispatcher calls it at least once per event, in order per workspace, inside an app context;
    the consumer's database writes are committed by the dispatcher together with the record that the
    event was delivered to it, so a consumer should not commit itself. Raising means "retry later".
    """
    if not _CONSUMER_NAME.match(name or ""):
        raise ValueError(f"consumer name {name!r} must be short lowercase words (it is stored per delivery)")

    def decorator(fn):
        existing = _consumers.get(name)
        if existing is not None and _qualified_name(existing) != _qualified_name(fn):
            raise ValueError(f"consumer {name!r} is already registered by {_qualified_name(existing)}")
        _consumers[name] = fn
        return fn

    return decorator


def consumers():
    """(name, fn) pairs in registration order."""
    return list(_consumers.items())


def _qualified_name(fn):
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
