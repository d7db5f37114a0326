"""Pagination: every style walks every row exactly once, cursors are tamper-evident, limits hold."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.identity.models import User, Workspace
from narrative.platform.errors import ValidationFailed
from narrative.platform.pagination import newest_first, page_schema, paginate

BASE_TIME = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def make_workspaces(count, *, start=0, minutes=None):
    """Workspaces whose names and creation times tie in groups, so the primary key must break ties."""
    rows = []
    for n in range(start, start + count):
        created = BASE_TIME + timedelta(minutes=(n % 4) if minutes is None else minutes)
        rows.append(Workspace(name=f"team {n % 3}", slug=f"ws-{n:03d}", created_at=created))
    db.session.add_all(rows)
    db.session.commit()
    return rows


def walk(client, style, *, order="newest", size=4, items_key="items", **extra):
    """Every page of a probe list, in order; returns (slugs, pages)."""
    size_arg = "page_size" if style == "page" else "limit"
    params = {size_arg: size, "order": order, **extra}
    slugs, pages = [], []
    for number in range(100):
        if style == "page":
            params["page"] = number + 1
        elif style == "offset":
            params["offset"] = number * size
        elif style == "skip":
            params["skip"] = number * size
        response = client.get(f"/_probe/pagination/{style}", query_string=params)
        assert response.status_code == 200, response.json
        body = response.json
        pages.append(body)
        slugs.extend(item["slug"] for item in body[items_key])
        if style == "cursor":
            if body["next_cursor"] is None:
                return slugs, pages
            params["cursor"] = body["next_cursor"]
        elif not body["has_more"]:
            return slugs, pages
    raise AssertionError("pagination never ended")


def expected_slugs(order):
    if order == "newest":
        rows = db.session.scalars(sa.select(Workspace)).all()
        rows.sort(key=lambda w: (w.created_at, w.id), reverse=True)
    else:
        rows = db.session.scalars(sa.select(Workspace)).all()
        rows.sort(key=lambda w: (w.name, w.id))
    return [w.slug for w in rows]


@pytest.mark.parametrize("style", ["cursor", "offset", "skip", "page"])
@pytest.mark.parametrize("order", ["newest", "name"])
def test_each_style_walks_every_row_exactly_once_in_a_stable_order(client, style, order):
    make_workspaces(23)
    slugs, pages = walk(client, style, order=order, items_key="data" if style == "skip" else "items")

    assert len(slugs) == 23 and len(set(slugs)) == 23
    # Ties on created_at / name are broken by the primary key, on both databases.
    assert slugs == expected_slugs(order)
    assert len(pages) == 6  # 5 full pages of 4 and one of 3


def test_totals_pages_and_has_more_are_reported(client):
    make_workspaces(11)

    page = client.get("/_probe/pagination/page", query_string={"page": 2, "page_size": 5}).json
    assert {k: page[k] for k in ("total", "page", "page_size", "pages", "has_more")} == {
        "total": 11,
        "page": 2,
        "page_size": 5,
        "pages": 3,
        "has_more": True,
    }
    offset = client.get("/_probe/pagination/offset", query_string={"offset": 8, "limit": 5}).json
    assert (offset["total"], offset["offset"], offset["limit"], offset["has_more"]) == (11, 8, 5, False)
    assert len(offset["items"]) == 3
    skip = client.get("/_probe/pagination/skip", query_string={"skip": 10, "limit": 5}).json
    assert (skip["total"], skip["skip"], len(skip["data"]), skip["has_more"]) == (11, 10, 1, False)
    filtered = client.get("/_probe/pagination/page", query_string={"prefix": "ws-00"}).json
    assert filtered["total"] == 10 and filtered["pages"] == 1
    beyond = client.get("/_probe/pagination/page", query_string={"page": 9, "page_size": 5}).json
    assert beyond["items"] == [] and beyond["total"] == 11


def test_empty_list_has_no_next_cursor_and_zero_pages(client):
    cursor = client.get("/_probe/pagination/cursor").json
    assert cursor == {"items": [], "next_cursor": None, "has_more": False, "limit": 50}
    page = client.get("/_probe/pagination/page").json
    assert (page["total"], page["pages"]) == (0, 0)


def test_cursor_walk_neither_repeats_nor_skips_when_rows_are_inserted_between_pages(client):
    make_workspaces(10, minutes=0)  # all tied on created_at: only the id orders them
    first = client.get("/_probe/pagination/cursor", query_string={"limit": 4, "order": "newest"}).json
    seen = [item["slug"] for item in first["items"]]

    # Newer rows sort before the cursor: a newest-first walk does not show them on later pages.
    make_workspaces(3, start=50, minutes=30)
    # Older rows sort after the cursor: the walk reaches them exactly once.
    make_workspaces(2, start=80, minutes=-30)

    cursor = first["next_cursor"]
    while cursor:
        body = client.get(
            "/_probe/pagination/cursor", query_string={"limit": 4, "order": "newest", "cursor": cursor}
        ).json
        seen.extend(item["slug"] for item in body["items"])
        cursor = body["next_cursor"]

    assert len(seen) == len(set(seen)) == 12
    assert set(seen) == {f"ws-{n:03d}" for n in [*range(10), 80, 81]}


def assert_cursor_rejected(response):
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert [d["field"] for d in response.json["details"]] == ["cursor"]


def test_tampered_garbage_or_foreign_cursors_are_rejected(client):
    make_workspaces(6)
    cursor = client.get("/_probe/pagination/cursor", query_string={"limit": 2}).json["next_cursor"]

    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[-3] ^= 0x01  # change one byte of the signed payload
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    forged = base64.urlsafe_b64encode(b"0" * 16 + b'{"o":"x","k":[]}').decode()
    for bad in (tampered, forged, "not-a-cursor", "%%%", "eyJpZCI6NDJ9"):
        assert_cursor_rejected(client.get("/_probe/pagination/cursor", query_string={"cursor": bad}))

    # A genuine cursor of another ordering cannot be replayed against this one.
    assert_cursor_rejected(
        client.get("/_probe/pagination/cursor", query_string={"cursor": cursor, "order": "name"})
    )
    # The genuine cursor still works.
    assert client.get("/_probe/pagination/cursor", query_string={"cursor": cursor}).status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("cursor", {"limit": 0}, "limit"),
        ("cursor", {"limit": 201}, "limit"),
        ("offset", {"limit": 201}, "limit"),
        ("offset", {"offset": -1}, "offset"),
        ("skip", {"skip": -1}, "skip"),
        ("page", {"page_size": 201}, "page_size"),
        ("page", {"page": 0}, "page"),
        ("small-cursor", {"limit": 6}, "limit"),
        ("cursor", {"limit": "many"}, "limit"),
    ],
)
def test_arguments_out_of_bounds_are_422_naming_the_argument(client, path, params, field):
    response = client.get(f"/_probe/pagination/{path}", query_string=params)
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert [d["field"] for d in response.json["details"]] == [field]


def test_limit_defaults_and_maximum_are_per_endpoint(client):
    make_workspaces(7)
    assert len(client.get("/_probe/pagination/cursor").json["items"]) == 7
    small = client.get("/_probe/pagination/small-cursor").json
    assert (len(small["items"]), small["limit"]) == (2, 2)
    assert client.get("/_probe/pagination/small-cursor", query_string={"limit": 5}).status_code == 200
    assert client.get("/_probe/pagination/cursor", query_string={"limit": 200}).status_code == 200


def test_paginate_checks_raw_arguments_itself(app):
    """Arguments from a JSON body (not a schema) get the same checks."""
    make_workspaces(3)
    with pytest.raises(ValidationFailed) as caught:
        paginate(sa.select(Workspace), {"page_size": 500}, style="page")
    assert caught.value.details == [{"field": "page_size", "message": "Must be between 1 and 200."}]
    page = paginate(sa.select(Workspace), {"page": "1", "page_size": "2"}, style="page", with_total=False)
    assert page.meta["total"] == 3 and len(page.items) == 2  # page style always counts
    offset = paginate(sa.select(Workspace), {}, style="offset", with_total=False)
    assert "total" not in offset.meta and len(offset.items) == 3


def test_cursor_over_a_nullable_column_puts_nulls_last_and_visits_each_row_once(app):
    names = ["bea", None, "al", None, "bea", "cy", None, "al", None]
    for n, name in enumerate(names):
        db.session.add(User(email=f"u{n}@example.test", name=name))
    db.session.commit()

    for order in (User.name, User.name.desc()):
        seen, cursor = [], None
        while True:
            page = paginate(sa.select(User), {"limit": 2, "cursor": cursor}, style="cursor", order_by=[order])
            seen.extend(page.items)
            cursor = page.meta["next_cursor"]
            if cursor is None:
                break
        assert len({u.id for u in seen}) == len(seen) == len(names)
        values = [u.name for u in seen]
        non_null = [v for v in values if v is not None]
        assert values[len(non_null) :] == [None] * 4  # NULLs last in both directions
        assert non_null == sorted(non_null, reverse=order is not User.name)


def test_column_selects_page_as_tuples(app):
    make_workspaces(5)
    page = paginate(
        sa.select(Workspace.slug, Workspace.name), {"limit": 3}, style="cursor", order_by=[Workspace.slug]
    )
    assert page.items == [("ws-000", "team 0"), ("ws-001", "team 1"), ("ws-002", "team 2")]
    rest = paginate(
        sa.select(Workspace.slug, Workspace.name),
        {"limit": 3, "cursor": page.meta["next_cursor"]},
        style="cursor",
        order_by=[Workspace.slug],
    )
    assert [slug for slug, _ in rest.items] == ["ws-003", "ws-004"] and rest.meta["next_cursor"] is None


def test_newest_first_orders_by_creation_time_then_id():
    terms = newest_first(Workspace)
    assert [str(t) for t in terms] == ["workspaces.created_at DESC", "workspaces.id DESC"]


def test_page_schemas_document_the_envelope_in_openapi():
    """The probe blueprint registered on a bare flask-smorest Api: what its document says."""
    import flask

    from narrative.platform.api import Api
    from tests.probes import pagination as probe

    spec_app = flask.Flask("spec")
    spec_app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3")
    api = Api(spec_app)
    api.register_blueprint(probe.blp)
    spec = api.spec.to_dict()

    schemas = spec["components"]["schemas"]
    cursor = schemas["WorkspaceItemCursorPage"]["properties"]
    assert set(cursor) == {"items", "next_cursor", "has_more", "limit"}
    assert cursor["items"]["items"]["$ref"].endswith("/WorkspaceItem")
    assert set(schemas["WorkspaceItemSkipPageData"]["properties"]) == {
        "data",
        "total",
        "skip",
        "limit",
        "has_more",
    }
    assert set(schemas["WorkspaceItemPagePage"]["properties"]) >= {"total", "page", "page_size", "pages"}
    parameters = {p["name"]: p for p in spec["paths"]["/_probe/pagination/cursor"]["get"]["parameters"]}
    assert set(parameters) >= {"limit", "cursor", "order", "prefix"}
    assert parameters["limit"]["schema"]["maximum"] == 200
    small = {p["name"]: p for p in spec["paths"]["/_probe/pagination/small-cursor"]["get"]["parameters"]}
    assert (small["limit"]["schema"]["maximum"], small["limit"]["schema"]["default"]) == (5, 2)


def test_page_schema_is_shared_between_routes_listing_the_same_items():
    from tests.probes.pagination import WorkspaceItemSchema

    assert page_schema(WorkspaceItemSchema, "cursor") is page_schema(WorkspaceItemSchema, "cursor")
    with pytest.raises(ValueError):
        page_schema(WorkspaceItemSchema, "pages")
