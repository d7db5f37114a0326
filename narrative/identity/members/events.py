"""Event types of memberships: invitations, joining, role and status changes, removal."""

from narrative.platform.events import register_event_type

_MEMBER = {
    "member_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0d",
    "user_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0e",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "role": "member",
}

register_event_type(
    "member.invited",
    description="Someone was invited to the workspace (an invitation email or link was issued).",
    example={**_MEMBER, "status": "invited", "invited_by_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c0f"},
)
register_event_type(
    "member.invitation_canceled",
    description="A pending invitation was canceled before it was accepted.",
    example={**_MEMBER, "status": "invited"},
)
register_event_type(
    "member.joined",
    description="A member became active: an invitation was accepted or an admin added them directly.",
    example={**_MEMBER, "status": "active", "via": "invitation"},
)
register_event_type(
    "member.updated",
    description="A member's role, status or title changed; `changes` holds the old and new values.",
    example={**_MEMBER, "status": "active", "changes": {"role": {"old": "member", "new": "admin"}}},
)
register_event_type(
    "member.removed",
    description="A member was removed from the workspace (their record stays for history).",
    example={**_MEMBER, "status": "deactivated"},
)
register_event_type(
    "member.deleted",
    description="A member and their account were deleted permanently.",
    example=_MEMBER,
)
register_event_type(
    "member.items_reassigned",
    description="Everything a member owned was handed to another member (offboarding).",
    example={
        **_MEMBER,
        "to_member_id": "0190f1c2-7a3e-7b21-9c4d-5e6f7a8b9c10",
        "moved": {"teams_led": 1, "api_keys": 2},
    },
)


def member_payload(member, **extra):
    """The common payload of member.* events."""
    user = member.user
    return {
        "member_id": str(member.id),
        "user_id": str(member.user_id),
        "email": user.email if user else None,
        "name": user.name if user else None,
        "role": member.role,
        "status": member.status,
        **extra,
    }
