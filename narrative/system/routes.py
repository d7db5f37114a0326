"""Health, API information, Prometheus metrics, and the docs pages under /api/v1."""

import base64
import hmac

from flask import Response, current_app, request

from narrative.extensions import QUEUE_NAMES
from narrative.platform import metrics
from narrative.platform.api import Blueprint
from narrative.platform.errors import ServiceUnavailable, Unauthorized
from narrative.platform.redis import get_redis_bytes
from narrative.system import service
from narrative.system.schemas import ApiInfoSchema, CheckSchema, HealthSchema

blp = Blueprint("system", __name__, description="Health, metrics and API information")


def _ready_or_503():
    healthy, body = service.readiness()
    if not healthy:
        raise ServiceUnavailable("A dependency is down.", extra=body)
    return body


@blp.route("/api/health")
@blp.operation("assistant.health.health")
@blp.response(200, HealthSchema)
def health():
    """Liveness and readiness: version, licence tier and dependency checks"""
    return _ready_or_503()


@blp.route("/api/v1/health")
@blp.operation("core.untagged.health", also=["neuromancer.public.health"])
@blp.response(200, HealthSchema)
def health_v1():
    """Health check"""
    return _ready_or_503()


def _single_check(result, name):
    if result["status"] != "ok":
        raise ServiceUnavailable(f"The {name} is not reachable.", extra={"check": result})
    return result


@blp.route("/api/health/db")
@blp.operation("assistant.ops.health-db")
@blp.response(200, CheckSchema)
def health_database():
    """Database connectivity check"""
    return _single_check(service.check_database(), "database")


@blp.route("/api/health/redis")
@blp.operation("assistant.ops.health-redis")
@blp.response(200, CheckSchema)
def health_redis():
    """Redis connectivity check"""
    return _single_check(service.check_redis(), "Redis server")


@blp.route("/api")
@blp.operation("assistant.health.api-info")
@blp.response(200, ApiInfoSchema)
def api_info():
    """API information: name, version, families and documentation links"""
    return service.api_info()


def _require_metrics_credentials():
    expected = current_app.config.get("METRICS_BASIC_AUTH")
    if not expected:
        return
    header = request.headers.get("Authorization", "")
    supplied = ""
    if header.startswith("Basic "):
        try:
            supplied = base64.b64decode(header[6:]).decode()
        except (ValueError, UnicodeDecodeError):
            supplied = ""
    if not hmac.compare_digest(supplied.encode(), expected.encode()):
        raise Unauthorized(
            "Metrics need Basic credentials.", headers={"WWW-Authenticate": 'Basic realm="metrics"'}
        )


@blp.route("/metrics")
@blp.operation("assistant.health.metrics")
def prometheus_metrics():
    """Prometheus metrics (Basic auth when METRICS_BASIC_AUTH is set)"""
    _require_metrics_credentials()
    body, content_type = metrics.exposition(get_redis_bytes(), QUEUE_NAMES)
    return Response(body, content_type=content_type)


def _docs_view(name):
    return current_app.view_functions[f"api-docs.{name}"]()


@blp.route("/api/v1/openapi.json")
@blp.operation("neuromancer.public.openapi-json")
def openapi_json_v1():
    """The OpenAPI document"""
    return _docs_view("openapi_json")


@blp.route("/api/v1/docs")
@blp.operation("neuromancer.public.docs")
def swagger_ui_v1():
    """Swagger UI"""
    return _docs_view("openapi_swagger_ui")


@blp.route("/api/v1/redoc")
@blp.operation("neuromancer.public.redoc")
def redoc_v1():
    """ReDoc"""
    return _docs_view("openapi_redoc")
