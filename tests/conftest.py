"""Test fixtures: one app per session on real services, and a clean slate for every test.

With DATABASE_URL pointing at PostgreSQL the session creates its own database on that server
(dropped at the end); otherwise it uses a SQLite file. With REDIS_URL set the session claims a
free database index (1-15) on that server; otherwise it starts an embedded Redis. So several
test sessions can share one machine's servers without touching each other or index 0.
"""

import os
import tempfile
import uuid
from urllib.parse import urlsplit, urlunsplit

os.environ["NARRATIVE_INSTANCE_DIR"] = tempfile.mkdtemp(prefix="narrative-test-")

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config import normalise_database_url

REDIS_LOCK_KEY = "narrative:test-session"


def create_postgres_database(base_url):
    """A new, empty database on the server of `base_url`; returns (url, drop function)."""
    url = make_url(normalise_database_url(base_url))
    name = f"narrative_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url.set(database=name).render_as_string(hide_password=False), drop


def redis_url_with_db(url, index):
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{index}", parts.query, parts.fragment))


def claim_redis_database(base_url):
    for index in range(1, 16):
        url = redis_url_with_db(base_url, index)
        client = redis.Redis.from_url(url)
        if client.set(REDIS_LOCK_KEY, os.getpid(), nx=True, ex=6 * 3600):
            client.flushdb()
            client.set(REDIS_LOCK_KEY, os.getpid(), ex=6 * 3600)
            return url, client
    raise RuntimeError("no free Redis database index (1-15) for this test session")


@pytest.fixture(scope="session")
def services(tmp_path_factory):
    """Database and Redis URLs for this session, real servers when the environment names them."""
    tmp = tmp_path_factory.mktemp("services")
    drops = []
    database_url = os.environ.get("DATABASE_URL")
    if database_url and database_url.startswith(("postgres://", "postgresql")):
        database_url, drop = create_postgres_database(database_url)
        drops.append(drop)
    else:
        database_url = f"sqlite:///{tmp / 'test.db'}"
    redis_url = os.environ.get("REDIS_URL")
    embedded_file = None
    if redis_url:
        redis_url, client = claim_redis_database(redis_url)
        drops.append(client.flushdb)
    else:
        from narrative.platform.redis import start_embedded_redis, stop_embedded_redis

        embedded_file = str(tmp / "redis.db")
        redis_url = start_embedded_redis(embedded_file)
        drops.append(lambda: stop_embedded_redis(embedded_file))
    yield {
        "database_url": normalise_database_url(database_url),
        "redis_url": redis_url,
        "embedded": bool(embedded_file),
    }
    for drop in reversed(drops):
        drop()


def make_app(services, **overrides):
    from narrative.app import create_app

    config = {
        "ENV_NAME": "testing",
        "SQLALCHEMY_DATABASE_URI": services["database_url"],
        "REDIS_URL": services["redis_url"],
        **overrides,
    }
    return create_app(config)


@pytest.fixture(scope="session")
def app(services):
    from narrative.extensions import db
    from tests import probes

    app = make_app(services)
    probes.register_all(app)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def clean_slate(request, services):
    """Every test starts with empty tables and an empty Redis database."""
    if "app" not in request.fixturenames:
        yield
        return
    app = request.getfixturevalue("app")
    from narrative.platform.tenancy import all_workspaces

    # A test's own set-up and checks look at several workspaces on purpose; the requests it sends
    # are scoped by their own callers (the scope lives in each request's environment).
    with app.app_context(), all_workspaces():
        yield
        from narrative.extensions import db
        from narrative.platform.redis import get_redis

        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        client = get_redis()
        client.flushdb()
        if not services["embedded"]:
            client.set(REDIS_LOCK_KEY, os.getpid(), ex=6 * 3600)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


@pytest.fixture
def auth_client(app):
    """A test client signed in as the owner of a new workspace.

    `auth_client.user` and `auth_client.workspace` are that user and workspace; every request
    carries the owner's access token (pass `headers=` to add or override headers).
    """
    from tests.identity.factories import auth_headers, make_user, workspace_of

    user = make_user()
    client = app.test_client()
    client.user = user
    client.workspace = workspace_of(user)
    client.environ_base["HTTP_AUTHORIZATION"] = auth_headers(user)["Authorization"]
    return client
