"""Shared set-up for the job benchmarks: a fresh PostgreSQL database and a dedicated Redis index."""

import os
import socket
import tempfile

import redis

from tests.conftest import REDIS_LOCK_KEY, create_postgres_database

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(database_url=DEFAULT_DATABASE, redis_url=DEFAULT_REDIS):
    """Point this process at a new database and an emptied Redis index; returns (env, app, cleanup)."""
    server = redis.Redis.from_url(redis_url)
    # Claim the index the way test sessions do, so neither empties the other's data.
    if not server.set(REDIS_LOCK_KEY, os.getpid(), nx=True, ex=900):
        raise SystemExit(f"{redis_url} is in use by a test session or another bench; pass --redis")
    server.flushdb()
    server.set(REDIS_LOCK_KEY, os.getpid(), ex=900)
    url, drop = create_postgres_database(database_url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REDIS_URL": redis_url,
        "NARRATIVE_INSTANCE_DIR": tempfile.mkdtemp(prefix="narrative-bench-"),
        "LOG_LEVEL": "WARNING",
    }
    from config import normalise_database_url
    from narrative.app import create_app
    from narrative.extensions import db

    # config.py read the environment at import; the in-process app gets the same services explicitly.
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": normalise_database_url(url),
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
        }
    )
    with app.app_context():
        db.create_all()

    def cleanup():
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        server.flushdb()
        drop()

    return env, app, cleanup


def noop():
    """The job the throughput benchmark runs: nothing, so the figure is the machinery's cost."""
    return None


def percentile(values, fraction):
    """The value below which `fraction` of `values` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
