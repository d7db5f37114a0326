"""Health, API information and metrics."""

import base64

import pytest

from narrative.system import service


def test_health_reports_version_tier_and_checks(client):
    body = client.get("/api/health").get_json()
    assert body["status"] == "ok"
    assert body["version"] == "0.1.0"
    assert body["tier"] == "community"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["redis"]["latency_ms"] >= 0


def test_v1_health_is_the_same_check(client):
    assert client.get("/api/v1/health").get_json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/api/health/db", "/api/health/redis"])
def test_dependency_checks_report_latency(client, path):
    body = client.get(path).get_json()
    assert body["status"] == "ok"
    assert body["latency_ms"] >= 0


def test_database_down_is_503(client, monkeypatch):
    def broken():
        raise ConnectionError("database gone")

    monkeypatch.setattr(service.db.session, "execute", lambda *a, **k: broken())
    response = client.get("/api/health/db")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "service_unavailable"
    assert body["check"]["status"] == "down"
    overall = client.get("/api/health")
    assert overall.status_code == 503
    assert overall.get_json()["status"] == "degraded"


def test_redis_down_is_503(client, monkeypatch):
    class DeadRedis:
        def ping(self):
            raise ConnectionError("redis gone")

    monkeypatch.setattr(service, "get_redis", lambda: DeadRedis())
    response = client.get("/api/health/redis")
    assert response.status_code == 503
    assert response.get_json()["check"]["error"] == "ConnectionError"


def test_api_info_lists_the_five_families(client):
    body = client.get("/api").get_json()
    assert [f["name"] for f in body["families"]] == [
        "narrative-sdk",
        "core",
        "assistant",
        "neuromancer",
        "narrowapi",
    ]
    assert body["docs"]["openapi"] == "/openapi.json"


def test_metrics_count_requests_by_endpoint_and_status(client):
    client.get("/api/health")
    client.get("/api/v1/nothing-here")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'narrative_http_requests_total{endpoint="/api/health",method="GET",status="200"}' in text
    assert 'endpoint="<unmatched>",method="GET",status="404"' in text
    assert "narrative_http_request_duration_seconds_bucket" in text
    assert 'narrative_jobs{queue="default",state="queued"}' in text


def test_metrics_behind_basic_auth_when_configured(app, client):
    app.config["METRICS_BASIC_AUTH"] = "ops:s3cret"
    try:
        denied = client.get("/metrics")
        assert denied.status_code == 401
        assert denied.headers["WWW-Authenticate"].startswith("Basic")
        wrong = base64.b64encode(b"ops:nope").decode()
        assert client.get("/metrics", headers={"Authorization": f"Basic {wrong}"}).status_code == 401
        right = base64.b64encode(b"ops:s3cret").decode()
        assert client.get("/metrics", headers={"Authorization": f"Basic {right}"}).status_code == 200
    finally:
        app.config["METRICS_BASIC_AUTH"] = None
