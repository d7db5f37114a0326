"""Every non-2xx response uses the one error format, with the right status and a request id."""

import re

import pytest

ERROR_KEYS = {"error", "message", "detail", "request_id"}


def assert_error(response, status, code):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert body.keys() >= ERROR_KEYS
    assert body["error"] == code
    assert body["message"] == body["detail"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert body["request_id"].startswith("req_") or body["request_id"]
    return body


def test_unknown_path_is_404(client):
    assert_error(client.get("/api/v1/no-such-thing"), 404, "not_found")


def test_wrong_method_is_405_with_allow_header(client):
    response = client.delete("/api/health")
    assert_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_malformed_json_is_400(client):
    response = client.post("/_probe/echo", data='{"name": ', content_type="application/json")
    body = assert_error(response, 400, "bad_request")
    assert "JSON" in body["message"]


def test_oversized_body_is_413(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/_probe/echo", data=b"x" * (limit + 1), content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_validation_failure_is_422_with_dotted_field_paths(client):
    response = client.post("/_probe/echo", json={"count": -1, "address": {"city": "Oslo", "zip": "12"}})
    body = assert_error(response, 422, "validation_failed")
    fields = {d["field"]: d["message"] for d in body["details"]}
    assert set(fields) == {"name", "count", "address.zip"}
    assert "required" in fields["name"].lower()


def test_query_validation_names_its_location(client):
    # Unknown body fields are rejected too, and reported by name.
    response = client.post("/_probe/echo", json={"name": "a", "surprise": 1})
    body = assert_error(response, 422, "validation_failed")
    assert body["details"] == [{"field": "surprise", "message": "Unknown field."}]


def test_valid_request_passes(client):
    response = client.post("/_probe/echo", json={"name": "a", "count": 2})
    assert response.status_code == 201
    assert response.get_json() == {"name": "a", "count": 2}


def test_unhandled_exception_is_500_without_internals(client, caplog):
    response = client.get("/_probe/boom")
    body = assert_error(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(as_text=True)
    logged = [r for r in caplog.records if r.name == "narrative.errors"]
    assert logged and logged[0].fields["request_id"] == body["request_id"]
    assert logged[0].exc_info is not None


def test_incoming_request_id_is_kept_when_well_formed(client):
    response = client.get("/api/health", headers={"X-Request-Id": "client-abc-12345"})
    assert response.headers["X-Request-Id"] == "client-abc-12345"


@pytest.mark.parametrize("bad", ["short", "has spaces in it", "x" * 200, "inject\\nline"])
def test_malformed_request_id_is_replaced(client, bad):
    response = client.get("/api/health", headers={"X-Request-Id": bad})
    assert re.fullmatch(r"req_[0-9a-f]{24}", response.headers["X-Request-Id"])


def test_paths_match_with_and_without_trailing_slash(client):
    assert client.get("/api/health/").status_code == 200
    assert client.get("/api/health").status_code == 200


def test_access_log_line_has_request_fields(client, caplog):
    caplog.set_level("INFO", logger="narrative.access")
    response = client.get("/api/health")
    record = next(r for r in caplog.records if r.name == "narrative.access")
    assert record.fields["status"] == 200
    assert record.fields["path"] == "/api/health"
    assert record.fields["request_id"] == response.headers["X-Request-Id"]
    assert record.fields["duration_ms"] >= 0
