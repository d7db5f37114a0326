"""The application factory: configuration, extensions, request hooks, errors, blueprints, CLI.

It has no side effects: no migrations, no network, no embedded server started here.
"""

from config import config_for, instance_dir
from narrative import (
    activity,
    ai,
    banking,
    coach,
    conversations,
    files,
    identity,
    integrations,
    licensing,
    modules,
    money,
    notifications,
    projects,
    proxy,
    records,
    system,
    webhooks,
)
from narrative.cli import build_cli
from narrative.extensions import api, db, jwt, migrate, redis_connection
from narrative.platform import (
    database,  # noqa: F401  (SQLite connection settings)
    events,  # noqa: F401  (outbox tables, after-commit dispatch, sweep)
    jobs,  # noqa: F401  (the jobs table and its periodic sweep)
)
from narrative.platform.errors import register_error_handlers
from narrative.platform.idempotency import register_idempotency_hooks
from narrative.platform.logging import configure_logging
from narrative.platform.redis import start_embedded_redis
from narrative.platform.requests import register_request_hooks
from narrative.platform.unit_of_work import UnitOfWorkFlask

# Registration order is the order of the OpenAPI document and of demo seeding.
DOMAINS = (
    system,
    identity,
    modules,
    files,
    webhooks,
    notifications,
    activity,
    proxy,
    licensing,
    ai,
    conversations,
    records,
    banking,
    integrations,
    projects,
    money,
    coach,
)


def _load_config(app, config):
    """`config` is a profile name, a config class, or a mapping applied over the selected profile."""
    if config is None or isinstance(config, str):
        profile = config_for(config)
        app.config.from_object(profile)
    elif isinstance(config, dict):
        profile = config_for(config.get("ENV_NAME"))
        app.config.from_object(profile)
        app.config.update(config)
    else:
        profile = config
        app.config.from_object(profile)
    problems = profile.check()
    if problems:
        raise RuntimeError(f"Narrative refuses to start in {profile.ENV_NAME}: " + "; ".join(problems))


def _ensure_embedded_redis(app):
    """With no REDIS_URL the embedded server is started by the first request that needs it."""
    if app.config.get("REDIS_URL"):
        return
    data_file = app.config["EMBEDDED_REDIS_FILE"]

    def start_once():
        start_embedded_redis(data_file)

    app.before_request(start_once)


def create_app(config=None):
    app = UnitOfWorkFlask(__name__, instance_path=str(instance_dir()))
    _load_config(app, config)
    app.url_map.strict_slashes = False
    configure_logging(app.config["LOG_LEVEL"])

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True, compare_type=True)
    jwt.init_app(app)
    redis_connection.init_app(app)
    _ensure_embedded_redis(app)
    api.init_app(app)

    register_request_hooks(app)
    register_error_handlers(app)
    register_idempotency_hooks(app)
    for domain in DOMAINS:
        domain.register_blueprints(api)
    app.cli.add_command(build_cli(DOMAINS))
    return app


def _migrations_dir():
    from pathlib import Path

    return Path(__file__).resolve().parent.parent / "migrations"
