"""Workspace permissions of projects (registered at import)."""

from narrative.identity.permissions import register_permissions

register_permissions(
    "projects",
    {
        "projects.read": "View the workspace's projects",
        "projects.write": "Create projects (from growth opportunities) and edit them",
    },
)
