"""Dependency checks behind the health endpoints: each reports its latency or its failure."""

import time

from flask import current_app
from sqlalchemy import text

from narrative.extensions import db
from narrative.platform.redis import get_redis


def _timed(check):
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:  # a health check reports any failure instead of raising it
        current_app.logger.warning("health check failed: %s", exc)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 2)}


def check_database():
    def ping():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()

    return {"backend": db.engine.dialect.name, **_timed(ping)}


def check_redis():
    return _timed(lambda: get_redis().ping())


def current_tier():
    """Licence tier of the caller's organisation (anonymous: the installation's highest in force)."""
    from narrative.licensing.service import COMMUNITY, tier_for_request

    try:
        return tier_for_request()
    except Exception as exc:  # the health answer must not fail because the licence table cannot be read
        current_app.logger.warning("licence tier unavailable: %s", exc)
        db.session.rollback()
        return COMMUNITY


def readiness():
    checks = {"database": check_database(), "redis": check_redis()}
    healthy = all(c["status"] == "ok" for c in checks.values())
    return healthy, {
        "status": "ok" if healthy else "degraded",
        "version": current_app.config["VERSION"],
        "tier": current_tier(),
        "checks": checks,
    }


API_FAMILIES = [
    {"name": "narrative-sdk", "title": "Finance coach SDK", "base_path": "/api"},
    {"name": "core", "title": "Workspace platform", "base_path": "/api/v1"},
    {"name": "assistant", "title": "Organisation AI assistant", "base_path": "/api"},
    {"name": "neuromancer", "title": "AI content studio", "base_path": "/api/v1"},
    {"name": "narrowapi", "title": "API proxy", "base_path": "/api/v1", "proxy_path": "/x/{action_id}"},
]


def api_info():
    return {
        "name": "Narrative",
        "version": current_app.config["VERSION"],
        "families": API_FAMILIES,
        "docs": {"swagger_ui": "/docs", "redoc": "/redoc", "openapi": "/openapi.json"},
    }
