"""Workspace projects: the one project model every family builds on (the SDK's projects from growth
opportunities now; the studio's enterprise projects later). No project routes of its own yet: the
SDK's `POST /api/projects/from_opp` lives with the growth opportunities (narrative.money) and calls
`narrative.projects.service`.
"""

from narrative.projects import models, permissions  # noqa: F401  (registered at import)


def register_blueprints(api):
    """No routes yet; the package is in DOMAINS so its table and, later, its routes are registered."""
