"""Workspace permissions of the money views (registered at import)."""

from narrative.identity.permissions import register_permissions

register_permissions(
    "money",
    {
        "money.read": "See your money metrics, actions and growth opportunities",
        "money.write": "Mark your money actions and opportunities done, dismissed or snoozed",
    },
)
