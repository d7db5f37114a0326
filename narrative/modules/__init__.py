"""Feature modules of a workspace (which are enabled, with what settings) and workspace health.

- `registry`: the code's list of known modules and their defaults (domains add theirs).
- `service`: a workspace's module settings (lazy: no row means the registry's defaults).
- `health`: what a workspace has configured, and whether its defaults need bringing up to date;
  `jobs.migrate_workspace_defaults` does that as a job with progress.
"""

from narrative.modules import routes


def register_blueprints(api):
    api.register_blueprint(routes.blp)
