"""The filter language matrix: every operator on every kind of field, through the service and
the list endpoint (run on SQLite and PostgreSQL by the two test profiles)."""

import json

import pytest

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.records import service
from tests.identity.factories import auth_headers

ROWS = [
    {
        "name": "Alpha",
        "amount": 10,
        "price": 5.5,
        "due": "2024-01-10",
        "seen_at": "2024-01-10T08:00:00Z",
        "active": True,
        "stage": "lead",
        "labels": ["red"],
        "email": "a@x.io",
    },
    {
        "name": "Bravo",
        "amount": 200,
        "price": 100,
        "due": "2024-02-20",
        "seen_at": "2024-02-20T20:00:00Z",
        "active": False,
        "stage": "won",
        "labels": ["red", "green"],
        "email": "b@y.io",
    },
    {"name": "Charlie", "amount": 3000, "due": "2024-03-30", "active": True, "stage": "lost", "labels": []},
    {"name": "delta", "notes": "has notes"},
]

MATRIX = [
    ({"field": "name", "op": "equals", "value": "Bravo"}, {"Bravo"}),
    ({"field": "name", "op": "not_equals", "value": "Bravo"}, {"Alpha", "Charlie", "delta"}),
    ({"field": "name", "op": "contains", "value": "LT"}, {"delta"}),
    ({"field": "name", "op": "contains", "value": "a"}, {"Alpha", "Bravo", "Charlie", "delta"}),
    ({"field": "name", "op": "starts_with", "value": "ch"}, {"Charlie"}),
    ({"field": "name", "op": "not_contains", "value": "ha"}, {"Bravo", "delta"}),
    ({"field": "amount", "op": "gt", "value": 10}, {"Bravo", "Charlie"}),
    ({"field": "amount", "op": "gte", "value": "10"}, {"Alpha", "Bravo", "Charlie"}),
    ({"field": "amount", "op": "lt", "value": 200}, {"Alpha"}),
    ({"field": "amount", "op": "lte", "value": "1,000"}, {"Alpha", "Bravo"}),
    ({"field": "amount", "op": "between", "value": [100, 3000]}, {"Bravo", "Charlie"}),
    ({"field": "price", "op": "gt", "value": 6}, {"Bravo"}),
    ({"field": "amount", "op": "in", "value": [10, 3000]}, {"Alpha", "Charlie"}),
    ({"field": "amount", "op": "not_in", "value": [10]}, {"Bravo", "Charlie", "delta"}),
    ({"field": "due", "op": "gte", "value": "2024-02-01"}, {"Bravo", "Charlie"}),
    ({"field": "due", "op": "lt", "value": "15.02.2024"}, {"Alpha"}),
    ({"field": "seen_at", "op": "gt", "value": "2024-02-20T21:00:00+02:00"}, {"Bravo"}),
    ({"field": "active", "op": "equals", "value": "yes"}, {"Alpha", "Charlie"}),
    ({"field": "active", "op": "equals", "value": False}, {"Bravo"}),
    ({"field": "stage", "op": "equals", "value": "Lost deal"}, {"Charlie"}),
    ({"field": "stage", "op": "in", "value": ["lead", "won"]}, {"Alpha", "Bravo"}),
    ({"field": "labels", "op": "contains", "value": "red"}, {"Alpha", "Bravo"}),
    ({"field": "labels", "op": "equals", "value": "green"}, {"Bravo"}),
    ({"field": "labels", "op": "in", "value": ["green", "blue"]}, {"Bravo"}),
    ({"field": "labels", "op": "is_empty"}, {"Charlie", "delta"}),
    ({"field": "labels", "op": "not_empty"}, {"Alpha", "Bravo"}),
    ({"field": "email", "op": "is_empty"}, {"Charlie", "delta"}),
    ({"field": "notes", "op": "not_empty"}, {"delta"}),
    ({"field": "email", "op": "contains", "value": "@y."}, {"Bravo"}),
    (
        {
            "or": [
                {"field": "amount", "op": "lt", "value": 100},
                {"field": "stage", "op": "equals", "value": "lost"},
            ]
        },
        {"Alpha", "Charlie"},
    ),
    (
        {
            "and": [
                {"field": "active", "op": "equals", "value": True},
                {"field": "amount", "op": "gt", "value": 100},
            ]
        },
        {"Charlie"},
    ),
    ({"not": {"field": "stage", "op": "is_empty"}}, {"Alpha", "Bravo", "Charlie"}),
    (
        [{"field": "amount", "op": "gt", "value": 5}, {"field": "labels", "op": "contains", "value": "red"}],
        {"Alpha", "Bravo"},
    ),
    ({"stage": "won", "amount": {"gte": 100, "lt": 1000}}, {"Bravo"}),
    (
        {"field": "created_at", "op": "gte", "value": "2000-01-01T00:00:00Z"},
        {"Alpha", "Bravo", "Charlie", "delta"},
    ),
]


@pytest.fixture
def filled(recordset, owner):
    for row in ROWS:
        service.create_record(recordset=recordset, values=row, user_id=owner.id)
    db.session.commit()
    return recordset


def _names(stmt):
    return {record.values["name"] for record in db.session.scalars(stmt)}


@pytest.mark.parametrize(("spec", "expected"), MATRIX, ids=[json.dumps(item[0])[:60] for item in MATRIX])
def test_filter_matrix_in_the_service(filled, spec, expected):
    assert _names(service.query_records(filled, spec)) == expected


def test_filter_matrix_through_the_list_endpoint(client, owner, filled):
    for spec, expected in MATRIX:
        response = client.get(
            "/api/v1/records",
            headers=auth_headers(owner),
            query_string={"recordset_id": str(filled.id), "filter": json.dumps(spec)},
        )
        assert response.status_code == 200, (spec, response.json)
        assert {item["field_values"]["name"] for item in response.json["items"]} == expected, spec


def test_sorts_put_empty_values_last(filled):
    stmt = service.query_records(filled, None, [{"field": "amount", "direction": "desc"}])
    assert [record.values["name"] for record in db.session.scalars(stmt)] == [
        "Charlie",
        "Bravo",
        "Alpha",
        "delta",
    ]
    stmt = service.query_records(filled, None, ["due"])
    assert [record.values["name"] for record in db.session.scalars(stmt)] == [
        "Alpha",
        "Bravo",
        "Charlie",
        "delta",
    ]


def test_list_arguments_equality_ranges_and_sorting(client, owner, filled):
    headers = auth_headers(owner)
    base = {"recordset_id": str(filled.id)}
    got = client.get("/api/v1/records", headers=headers, query_string={**base, "stage": "won"}).json
    assert [item["field_values"]["name"] for item in got["items"]] == ["Bravo"]
    got = client.get(
        "/api/v1/records",
        headers=headers,
        query_string={
            **base,
            "numeric_filters": json.dumps({"amount": {"min": 100}}),
            "sort_by": "amount",
            "sort_order": "desc",
        },
    ).json
    assert [item["field_values"]["name"] for item in got["items"]] == ["Charlie", "Bravo"]
    got = client.get(
        "/api/v1/records",
        headers=headers,
        query_string={
            **base,
            "date_filters": json.dumps({"due": {"from": "2024-01-01", "to": "2024-02-28"}}),
            "sort": "-due",
        },
    ).json
    assert [item["field_values"]["name"] for item in got["items"]] == ["Bravo", "Alpha"]
    got = client.get(
        "/api/v1/records",
        headers=headers,
        query_string={
            **base,
            "column_filters": json.dumps({"stage": ["lost", "lead"]}),
            "fields": "name",
            "sort": "name",
        },
    ).json
    assert [item["field_values"] for item in got["items"]] == [{"name": "Alpha"}, {"name": "Charlie"}]
    got = client.get("/api/v1/records", headers=headers, query_string={**base, "search": "NOTES"}).json
    assert [item["field_values"]["name"] for item in got["items"]] == ["delta"]
    page = client.get(
        "/api/v1/records", headers=headers, query_string={**base, "page_size": 3, "page": 2}
    ).json
    assert page["total"] == 4 and len(page["items"]) == 1


def test_saved_view_filters_apply_to_the_list(client, owner, filled):
    headers = auth_headers(owner)
    view = client.post(
        f"/api/v1/recordsets/{filled.slug}/views",
        headers=headers,
        json={"name": "Big", "filters": {"field": "amount", "op": "gte", "value": 200}, "sorts": ["-amount"]},
    )
    assert view.status_code == 201, view.json
    got = client.get(
        "/api/v1/records",
        headers=headers,
        query_string={"recordset_id": str(filled.id), "group_id": view.json["id"]},
    ).json
    assert [item["field_values"]["name"] for item in got["items"]] == ["Charlie", "Bravo"]


@pytest.mark.parametrize(
    "spec",
    [
        {"field": "nope", "op": "equals", "value": 1},
        {"field": "amount", "op": "resembles", "value": 1},
        {"field": "amount", "op": "gt", "value": "many"},
        {"field": "amount", "op": "between", "value": [1]},
        {"or": {"field": "amount"}},
    ],
)
def test_bad_filters_are_422(client, owner, filled, spec):
    with pytest.raises(ValidationFailed):
        service.query_records(filled, spec)
    response = client.get(
        "/api/v1/records",
        headers=auth_headers(owner),
        query_string={"recordset_id": str(filled.id), "filter": json.dumps(spec)},
    )
    assert response.status_code == 422
