"""What a member owns, and how it moves to someone else: the registry behind offboarding.

Before a member is deleted for good, whatever they own (teams they lead, API keys they made, and
later records, tasks, deals...) must belong to someone else. Each domain declares its kind once,
at import time of its service module:

    register_owned_items(
        "tasks",
        count_assigned_tasks,        # fn(*, workspace_id, member) -> int
        reassign_assigned_tasks,     # fn(*, workspace_id, from_member, to_member) -> int (items moved)
        description="Tasks assigned to the member",
    )

`owned_items(...)` answers GET /members/{id}/owned-items, `reassign_all(...)` does
POST /members/{id}/reassign, and permanent deletion is refused while `total_owned(...)` is not 0.
"""

from dataclasses import dataclass

from narrative.extensions import db
from narrative.identity.models import ApiKey


@dataclass(frozen=True)
class OwnedKind:
    kind: str
    counter: object
    reassign: object
    description: str


_kinds: dict[str, OwnedKind] = {}


def register_owned_items(kind, counter_fn, reassign_fn, *, description=None):
    """Declare a kind of item members own (idempotent for the same functions)."""
    entry = OwnedKind(kind, counter_fn, reassign_fn, description or kind.replace("_", " ").capitalize())
    existing = _kinds.get(kind)
    if existing is not None and (existing.counter, existing.reassign) != (counter_fn, reassign_fn):
        raise ValueError(f"owned item kind {kind!r} is already registered by other functions")
    _kinds[kind] = entry
    return entry


def owned_kinds():
    """Registered kinds, in registration order."""
    return list(_kinds.values())


def owned_items(*, workspace_id, member):
    """[{kind, description, count}] for every registered kind (zeros included)."""
    return [
        {
            "kind": entry.kind,
            "description": entry.description,
            "count": int(entry.counter(workspace_id=workspace_id, member=member)),
        }
        for entry in owned_kinds()
    ]


def total_owned(*, workspace_id, member):
    return sum(item["count"] for item in owned_items(workspace_id=workspace_id, member=member))


def reassign_all(*, workspace_id, from_member, to_member, kinds=None):
    """Move every item of the chosen kinds (default: all) to `to_member`; {kind: items moved}."""
    moved = {}
    for entry in owned_kinds():
        if kinds is not None and entry.kind not in kinds:
            continue
        moved[entry.kind] = int(
            entry.reassign(workspace_id=workspace_id, from_member=from_member, to_member=to_member)
        )
    return moved


# --- identity's own kind: API keys -------------------------------------------------------------


def _live_api_keys(*, workspace_id, user_id):
    return db.select(ApiKey).where(
        ApiKey.workspace_id == workspace_id, ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None)
    )


def count_api_keys(*, workspace_id, member):
    query = _live_api_keys(workspace_id=workspace_id, user_id=member.user_id)
    return db.session.scalar(db.select(db.func.count()).select_from(query.subquery()))


def reassign_api_keys(*, workspace_id, from_member, to_member):
    """The keys keep working for their integrations, now acting with the new owner's role.

    A key never does more than its owner may (narrative.identity.access), so a key handed to a
    member with a lower role is narrowed at once.
    """
    keys = db.session.scalars(_live_api_keys(workspace_id=workspace_id, user_id=from_member.user_id)).all()
    for key in keys:
        key.user_id = to_member.user_id
    return len(keys)


register_owned_items(
    "api_keys", count_api_keys, reassign_api_keys, description="API keys the member created (not revoked)"
)
