"""Recordset endpoints: create (slugs), update, trash and restore, views, pipeline, map, counts."""

import json

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.events.models import OutboxEvent
from narrative.records import service
from narrative.records.models import Record, Recordset
from tests.identity.factories import auth_headers
from workers.worker import run_jobs_in_process


def test_create_get_update_slug_rules(client, owner):
    headers = auth_headers(owner)
    first = client.post(
        "/api/v1/recordsets",
        headers=headers,
        json={
            "name": "Sales Leads",
            "fields": [
                {"name": "Company", "type": "text", "required": True},
                {"name": "Size", "type": "number"},
            ],
        },
    )
    assert first.status_code == 201, first.json
    assert first.json["slug"] == "sales-leads" and [f["key"] for f in first.json["fields"]] == [
        "company",
        "size",
    ]
    second = client.post("/api/v1/crud/recordsets", headers=headers, json={"name": "Sales leads"})
    assert second.json["slug"] == "sales-leads-2"
    taken = client.post("/api/v1/recordsets", headers=headers, json={"name": "x", "slug": "sales-leads"})
    assert taken.status_code == 409
    bad = client.post(
        "/api/v1/recordsets", headers=headers, json={"name": "x", "fields": [{"name": "A", "type": "colour"}]}
    )
    assert bad.status_code == 422
    updated = client.patch(
        "/api/v1/recordsets/sales-leads",
        headers=headers,
        json={"name": "Leads", "slug": "leads", "icon": "star"},
    )
    assert updated.status_code == 422  # the slug is fixed after creation (bookmarks)
    updated = client.patch(
        "/api/v1/recordsets/sales-leads", headers=headers, json={"name": "Leads", "icon": "star"}
    )
    assert updated.json["slug"] == "sales-leads" and updated.json["name"] == "Leads"
    got = client.get("/api/v1/recordsets/sales-leads", headers=headers).json
    assert got["record_count"] == 0 and got["default_view_id"]
    listed = client.get("/api/v1/recordsets", headers=headers, query_string={"search": "lead"}).json
    assert listed["total"] == 2 and listed["page"] == 1
    kinds = {row.event_type for row in db.session.scalars(sa.select(OutboxEvent))}
    assert {"recordset.created", "recordset.updated"} <= kinds


def test_fields_edited_through_replace(client, owner, recordset):
    headers = auth_headers(owner)
    service.create_record(recordset=recordset, values={"name": "A", "amount": 4}, user_id=owner.id)
    db.session.commit()
    fields = [
        {"key": "name", "name": "Title", "type": "text", "required": True},
        {"key": "amount", "name": "Amount", "type": "text"},
        {"name": "Score", "type": "number"},
    ]
    response = client.put(
        f"/api/v1/crud/recordsets/{recordset.id}", headers=headers, json={"name": "Deals", "fields": fields}
    )
    assert response.status_code == 200, response.json
    assert [(f["key"], f["name"], f["type"]) for f in response.json["fields"]] == [
        ("name", "Title", "text"),
        ("amount", "Amount", "text"),
        ("score", "Score", "number"),
    ]
    record = db.session.scalars(sa.select(Record)).one()
    assert record.values == {"name": "A", "amount": "4"}


def test_trash_restore_and_permanent_delete(client, owner, recordset):
    headers = auth_headers(owner)
    service.create_record(recordset=recordset, values={"name": "A"}, user_id=owner.id)
    db.session.commit()
    assert client.delete(f"/api/v1/recordsets/{recordset.slug}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/recordsets/{recordset.slug}", headers=headers).status_code == 404
    trash = client.get("/api/v1/recordsets/trash", headers=headers).json
    assert [item["slug"] for item in trash["items"]] == [recordset.slug]
    restored = client.post(f"/api/v1/recordsets/trash/{recordset.slug}/restore", headers=headers)
    assert restored.status_code == 200 and restored.json["record_count"] == 1
    client.delete(f"/api/v1/recordsets/{recordset.slug}", headers=headers)
    assert client.delete(f"/api/v1/recordsets/trash/{recordset.slug}", headers=headers).status_code == 204
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Recordset)) == 0


def test_crud_delete_cascades(client, owner, recordset):
    service.create_record(recordset=recordset, values={"name": "A"}, user_id=owner.id)
    db.session.commit()
    assert (
        client.delete(f"/api/v1/crud/recordsets/{recordset.id}", headers=auth_headers(owner)).status_code
        == 204
    )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Record)) == 0


def test_views_crud_and_validation(client, owner, recordset):
    headers = auth_headers(owner)
    base = f"/api/v1/recordsets/{recordset.slug}/views"
    assert [v["name"] for v in client.get(base, headers=headers).json["items"]] == ["All records"]
    view = client.post(
        base,
        headers=headers,
        json={
            "name": "Won",
            "filters": {"stage": "won"},
            "group_by": "stage",
            "visible_fields": ["name", "stage"],
            "is_default": True,
        },
    ).json
    assert (
        client.get(f"/api/v1/recordsets/{recordset.slug}", headers=headers).json["default_view_id"]
        == view["id"]
    )
    bad = client.post(
        base, headers=headers, json={"name": "Bad", "filters": {"field": "ghost", "op": "equals", "value": 1}}
    )
    assert bad.status_code == 422
    renamed = client.patch(
        f"{base}/{view['id']}", headers=headers, json={"name": "Won deals", "layout": "kanban"}
    )
    assert renamed.status_code == 200 and renamed.json["layout"] == "kanban"
    assert client.delete(f"{base}/{view['id']}", headers=headers).status_code == 204
    assert client.patch(f"{base}/{view['id']}", headers=headers, json={"name": "x"}).status_code == 404


def test_pipeline(client, owner, recordset):
    headers = auth_headers(owner)
    for stage in ("lead", "lead", "won", None):
        service.create_record(recordset=recordset, values={"name": "x", "stage": stage}, user_id=owner.id)
    db.session.commit()
    assert client.get(f"/api/v1/recordsets/{recordset.id}/pipeline", headers=headers).status_code == 404
    assert (
        client.post(
            f"/api/v1/recordsets/{recordset.id}/pipeline", headers=headers, json={"stage_field": "name"}
        ).status_code
        == 422
    )
    created = client.post(
        f"/api/v1/recordsets/{recordset.id}/pipeline", headers=headers, json={"stage_field": "stage"}
    )
    assert created.status_code == 201
    stages = {
        s["value"]: s["count"]
        for s in client.get(f"/api/v1/recordsets/{recordset.id}/pipeline", headers=headers).json["stages"]
    }
    assert stages == {"lead": 2, "won": 1, "lost": 0, None: 1}


def test_map_stream_bbox_and_enable_map_backfill(client, app, owner, workspace):
    headers = auth_headers(owner)
    places = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Places",
        fields=[
            {"name": "Name", "type": "text"},
            {"name": "Lat", "type": "number"},
            {"name": "Lng", "type": "number"},
            {"name": "Kind", "type": "text"},
        ],
    )
    for name, lat, lng in (("Berlin", 52.52, 13.405), ("Paris", 48.8566, 2.3522), ("Nowhere", None, None)):
        service.create_record(
            recordset=places, values={"name": name, "lat": lat, "lng": lng, "kind": "city"}, user_id=owner.id
        )
    db.session.commit()
    started = client.post(
        f"/api/v1/recordsets/{places.id}/enable-map",
        headers=headers,
        json={"latitude_field": "lat", "longitude_field": "lng"},
    )
    assert started.status_code == 200, started.json
    run_jobs_in_process(app)
    lines = (
        client.get(
            "/api/v1/records/map-stream",
            headers=headers,
            query_string={"recordset_id": str(places.id), "fields": "kind"},
        )
        .data.decode()
        .splitlines()
    )
    features = [json.loads(line) for line in lines]
    assert features[-1] == {"__meta__": {"count": 2, "truncated": False}}
    berlin = next(f for f in features[:-1] if f["title"] == "Berlin")
    assert (
        berlin["geometry"] == {"type": "Point", "coordinates": [13.405, 52.52]} and berlin["kind"] == "city"
    )
    assert (berlin["lat"], berlin["lng"]) == (52.52, 13.405)
    inside = (
        client.get(
            "/api/v1/records/map-stream",
            headers=headers,
            query_string={"recordset_id": str(places.id), "bbox": "10,50,15,55"},
        )
        .data.decode()
        .splitlines()
    )
    assert [json.loads(line).get("title") for line in inside] == ["Berlin", None]
    limited = (
        client.get(
            "/api/v1/records/map-stream",
            headers=headers,
            query_string={"recordset_id": str(places.id), "limit": 1},
        )
        .data.decode()
        .splitlines()
    )
    assert json.loads(limited[-1]) == {"__meta__": {"count": 1, "truncated": True}}
    # Later records get their coordinates from the mapping straight away; resync fixes drift.
    db.session.execute(sa.update(Record).values(latitude=None, longitude=None))
    db.session.commit()
    assert client.post(f"/api/v1/recordsets/{places.slug}/resync-promoted", headers=headers).json == {
        "updated": 2
    }


def test_spatial_filter_within_distance_and_polygon(client, owner, workspace):
    headers = auth_headers(owner)
    stations = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Stations",
        fields=[{"name": "Name", "type": "text"}, {"name": "At", "type": "geo_point"}],
    )
    zones = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Zones",
        fields=[{"name": "Name", "type": "text"}, {"name": "Shape", "type": "json"}],
        settings={"gis": {"geometry_field": "shape"}},
    )
    leads = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Leads",
        fields=[{"name": "Name", "type": "text"}, {"name": "At", "type": "geo_point"}],
    )
    service.create_record(
        recordset=stations, values={"name": "S", "at": {"lat": 52.52, "lng": 13.405}}, user_id=owner.id
    )
    square = {
        "type": "Polygon",
        "coordinates": [[[2.0, 48.0], [3.0, 48.0], [3.0, 49.0], [2.0, 49.0], [2.0, 48.0]]],
    }
    service.create_record(recordset=zones, values={"name": "Z", "shape": square}, user_id=owner.id)
    near = service.create_record(
        recordset=leads, values={"name": "near", "at": {"lat": 52.525, "lng": 13.41}}, user_id=owner.id
    )
    far = service.create_record(
        recordset=leads, values={"name": "far", "at": {"lat": 52.6, "lng": 13.6}}, user_id=owner.id
    )
    paris = service.create_record(
        recordset=leads, values={"name": "paris", "at": {"lat": 48.85, "lng": 2.35}}, user_id=owner.id
    )
    db.session.commit()

    def run(source, operation, buffer=None):
        body = {
            "source_recordset_id": str(source.id),
            "target_recordset_id": str(leads.id),
            "operation": operation,
        }
        if buffer is not None:
            body["buffer_meters"] = buffer
        return client.post("/api/v1/records/spatial-filter", headers=headers, json=body)

    assert run(stations, "WITHIN_DISTANCE").status_code == 422
    assert run(stations, "WITHIN_DISTANCE", 1000).json["record_ids"] == [str(near.id)]
    assert set(run(stations, "WITHIN_DISTANCE", 20_000).json["record_ids"]) == {str(near.id), str(far.id)}
    assert run(zones, "INTERSECTS").json["record_ids"] == [str(paris.id)]
    assert set(run(zones, "OUTSIDE").json["record_ids"]) == {str(near.id), str(far.id)}


def test_bulk_delete_dismiss_and_sync_counts(client, owner, recordset):
    headers = auth_headers(owner)
    records = [
        service.create_record(recordset=recordset, values={"name": f"r{i}"}, user_id=owner.id)
        for i in range(4)
    ]
    records[0].tool_statuses = {"follow_up": "recommended"}
    db.session.commit()
    dismissed = client.post(f"/api/v1/records/{records[0].id}/dismiss?tool=follow_up", headers=headers)
    assert dismissed.status_code == 200 and dismissed.json["tool_statuses"] == {}
    some = client.post(
        "/api/v1/records/bulk-delete",
        headers=headers,
        json={"recordset_id": str(recordset.id), "record_ids": [str(records[0].id), "not-a-record"]},
    ).json
    assert some["deleted"] == 1 and some["failed"][0]["record_id"] == "not-a-record"
    everything = client.post(
        "/api/v1/records/bulk-delete", headers=headers, json={"recordset_id": str(recordset.id), "all": True}
    ).json
    assert everything == {"deleted": 3, "failed": []}
    db.session.execute(sa.update(Recordset).values(record_count=99))
    db.session.commit()
    assert client.post("/api/v1/crud/recordsets/sync-counts", headers=headers).json == {"updated": 1}
    assert client.get(f"/api/v1/crud/recordsets/{recordset.id}", headers=headers).json["record_count"] == 0
