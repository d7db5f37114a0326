"""The OpenAPI document: served in both places, with catalog ids as operation ids."""

import pathlib

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
