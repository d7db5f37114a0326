"""Identity's HTTP endpoints, one module per area; `BLUEPRINTS` is the registration order."""

from narrative.identity.routes import auth, sdk, studio

BLUEPRINTS = [auth.blp, sdk.blp, studio.blp]
