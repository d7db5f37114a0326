"""Licences: the tier table (Community, Pro, Enterprise), signed licence keys and the tier gates.

Other domains use `service.require_tier("pro")` / `service.require_feature("automations")` on
views and `service.current_tier(workspace_id)` in services.
"""

from narrative.identity.permissions import register_permissions
from narrative.licensing import models  # noqa: F401  (the licenses table)

register_permissions(
    "license",
    {
        "license.read": "View the organisation's licence tier, features and limits",
        "license.manage": "Apply and remove licence keys",
    },
)


def register_blueprints(api):
    from narrative.licensing.routes import blp

    api.register_blueprint(blp)
