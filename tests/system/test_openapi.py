"""The OpenAPI document: served in both places, with catalog ids as operation ids."""

import json
import pathlib

import jsonschema
import pytest
import yaml

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}
CATALOG = pathlib.Path(__file__).resolve().parents[3] / "shared" / "spec" / "endpoints"


def catalog_ids():
    ids = set()
    for path in CATALOG.glob("*.yaml"):
        ids.update(entry["id"] for entry in yaml.safe_load(path.read_text()) or [])
    return ids


@pytest.mark.parametrize("path", ["/openapi.json", "/api/v1/openapi.json"])
def test_openapi_document_is_served(client, path):
    doc = client.get(path).get_json()
    assert doc["info"]["title"] == "Narrative"
    assert {"bearerAuth", "apiKey", "executionToken"} <= doc["components"]["securitySchemes"].keys()


def test_openapi_document_is_written_once_and_revalidates_by_etag(client):
    first = client.get("/openapi.json")
    again = client.get("/api/v1/openapi.json")
    assert first.data == again.data and first.headers["ETag"] == again.headers["ETag"]
    unchanged = client.get("/openapi.json", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.data == b""


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/api/v1/docs", "/api/v1/redoc"])
def test_docs_pages_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "openapi.json" in response.get_data(as_text=True)


@pytest.mark.skipif(not CATALOG.exists(), reason="the endpoint catalog lives beside the checkout")
def test_every_operation_id_is_a_catalog_id(client):
    known = catalog_ids()
    doc = client.get("/openapi.json").get_json()
    strangers = [
        (method.upper(), path, op.get("operationId"))
        for path, item in doc["paths"].items()
        if not path.startswith("/_probe")
        for method, op in item.items()
        if method in HTTP_METHODS and op.get("operationId") not in known
    ]
    assert strangers == []


# ---- the document tells the truth ---------------------------------------------------------------


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def as_json_schema(node):
    """An Open API 3.0 schema as JSON Schema: `nullable: true` becomes a type that admits null."""
    if isinstance(node, dict):
        converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
        if node.get("nullable") and "type" in node:
            converted["type"] = [node["type"], "null"]
        return converted
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    return node


def error_validator(doc):
    root = as_json_schema({"$ref": "#/components/schemas/Error", "components": doc["components"]})
    return jsonschema.Draft7Validator(root)


def test_the_error_schema_documents_every_field_an_error_carries(client):
    error = client.get("/openapi.json").get_json()["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message"}
    assert error["properties"]["retry_after_seconds"]["type"] == "integer"
    assert error["properties"]["retry_after_seconds"]["minimum"] == 1
    assert "required_permission" in error["properties"]
    # ApiError(extra=...) adds fields an error code documents (job_id, provider, settings...).
    assert error["additionalProperties"] is True


def test_real_error_bodies_match_the_documented_error_schema(client):
    validator = error_validator(client.get("/openapi.json").get_json())
    for _ in range(10):
        assert client.post("/_probe/limits/burst", headers={"X-Probe-Client": "truth"}).status_code == 200
    limited = client.post("/_probe/limits/burst", headers={"X-Probe-Client": "truth"})
    invalid = client.post("/_probe/echo", json={"count": -1, "address": {"city": "Oslo", "zip": "12"}})
    not_found = client.get("/api/v1/no-such-thing")
    assert (limited.status_code, invalid.status_code, not_found.status_code) == (429, 422, 404)
    for response in (limited, invalid, not_found):
        assert list(validator.iter_errors(response.get_json())) == []
    assert int(limited.headers["Retry-After"]) == limited.get_json()["retry_after_seconds"] >= 1


def test_every_operation_documents_its_success_and_the_platform_errors(client):
    doc = client.get("/openapi.json").get_json()
    missing = []
    for path, method, op in operations(doc):
        responses = op["responses"]
        expected = {"429", "default"}
        if op.get("security"):
            expected |= {"401", "403"}
        if "{" in path:
            expected |= {"404", "422"}
        if method in {"post", "put", "patch", "delete"}:
            expected.add("409")
        if not any(status[0] in "23" for status in responses):
            missing.append((op["operationId"], "no success status"))
        if not expected <= responses.keys():
            missing.append((op["operationId"], sorted(expected - responses.keys())))
        limited = responses.get("429", {})
        if limited != {"$ref": "#/components/responses/RATE_LIMITED"} and (
            "Retry-After" not in limited.get("headers", {}) or "application/json" not in limited["content"]
        ):
            missing.append((op["operationId"], "429 without the Error body and Retry-After"))
    assert missing == []
    rate_limited = doc["components"]["responses"]["RATE_LIMITED"]
    assert rate_limited["headers"]["Retry-After"]["required"] is True


def test_event_streams_are_documented_as_text_event_stream(client):
    doc = client.get("/openapi.json").get_json()
    streams = {
        op["operationId"]: op["responses"]["200"].get("content", {})
        for path, method, op in operations(doc)
        if path.endswith("/stream") or "event-stream" in json.dumps(op["responses"].get("200"))
    }
    assert {"core.notifications.stream", "core.ai-llm.complete-stream", "core.chat.send"} <= streams.keys()
    for operation_id, content in streams.items():
        assert "text/event-stream" in content, operation_id
        schema = content["text/event-stream"]["schema"]
        frame = doc["components"]["schemas"]["ServerSentEvent"] if "$ref" in schema else schema
        assert frame["required"] == ["data"] and frame["properties"]["data"]["type"] == "string", operation_id


def test_non_json_bodies_keep_their_documented_content_type(client):
    doc = client.get("/openapi.json").get_json()
    content = doc["paths"]["/api/v1/records/map-stream"]["get"]["responses"]["200"]["content"]
    assert content == {"application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}}


def test_the_platform_documents_what_a_view_answers(app):
    """On a private app: a view without `@blp.response` documents Flask's 200 JSON; a stream and an
    NDJSON body document their content types."""
    import flask

    from narrative.platform.api import Api, Blueprint

    private = flask.Flask("docs_probe")
    private.config.update({key: app.config[key] for key in ("API_TITLE", "API_VERSION", "OPENAPI_VERSION")})
    api = Api(private)
    blp = Blueprint("docs_probe", __name__)

    @blp.route("/plain")
    def plain():
        return {"ok": True}

    @blp.route("/events")
    @blp.response(200, description="Server-Sent Events: one frame per change")
    def events():
        return ""

    @blp.route("/lines")
    @blp.alt_response(200, description="NDJSON", content_type="application/x-ndjson", success=True)
    def lines():
        return ""

    @blp.route("/page")
    @blp.response(200, description="An HTML page", content_type="text/html")
    def page():
        return ""

    api.register_blueprint(blp)
    paths = api.spec.to_dict()["paths"]
    assert paths["/plain"]["get"]["responses"]["200"]["content"] == {"application/json": {"schema": {}}}
    assert paths["/events"]["get"]["responses"]["200"]["content"] == {
        "text/event-stream": {"schema": {"$ref": "#/components/schemas/ServerSentEvent"}}
    }
    assert paths["/lines"]["get"]["responses"]["200"]["content"] == {
        "application/x-ndjson": {"schema": {"type": "string", "format": "binary"}}
    }
    assert paths["/page"]["get"]["responses"]["200"]["content"] == {
        "text/html": {"schema": {"type": "string", "format": "binary"}}
    }
    assert paths["/plain"]["get"]["responses"]["429"] == {"$ref": "#/components/responses/RATE_LIMITED"}
