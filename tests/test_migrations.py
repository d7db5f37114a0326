"""`flask db upgrade` on an empty database produces exactly the models' schema."""

import os
import pathlib
import subprocess
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from narrative.extensions import db
from narrative.records.postgis import ignored_by_autogenerate
from tests.conftest import create_postgres_database

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_upgrade_on_empty_database_has_no_drift(app, services, tmp_path):
    """`app` imports every domain, so `db.metadata` holds every model."""
    drop = None
    if services["database_url"].startswith("postgresql"):
        url, drop = create_postgres_database(services["database_url"])
    else:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    try:
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "REDIS_URL": services["redis_url"],
            "NARRATIVE_ENV": "testing",
        }
        result = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            options = {
                "compare_type": True,
                "render_as_batch": True,
                "include_object": ignored_by_autogenerate,  # PostGIS' additions, where offered
            }
            context = MigrationContext.configure(conn, opts=options)
            assert compare_metadata(context, db.metadata) == []
        engine.dispose()
    finally:
        if drop:
            drop()
