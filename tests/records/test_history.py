"""Every write is in the history (who changed which field from what to what); field changes
migrate the stored values; events go out in the same transaction."""

import uuid

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.errors import ValidationFailed
from narrative.platform.events.models import OutboxEvent
from narrative.records import service
from narrative.records.models import Record, RecordHistory
from tests.identity.factories import auth_headers


def _events(kind):
    return db.session.scalars(
        sa.select(OutboxEvent).where(OutboxEvent.event_type == kind).order_by(OutboxEvent.id)
    ).all()


def test_create_update_delete_restore_are_all_recorded(client, owner, recordset):
    headers = auth_headers(owner)
    created = client.post(
        "/api/v1/records",
        headers=headers,
        json={"recordset_id": recordset.slug, "field_values": {"name": "Acme", "amount": 5}},
    ).json
    record_id = created["id"]
    record_uuid = uuid.UUID(record_id)
    client.patch(
        f"/api/v1/records/{record_id}", headers=headers, json={"field_values": {"amount": 7, "stage": "won"}}
    )
    client.patch(
        f"/api/v1/records/{record_id}", headers=headers, json={"field_values": {"amount": 7}}
    )  # no change
    client.put(
        f"/api/v1/crud/records/{record_id}", headers=headers, json={"field_values": {"name": "Acme Inc"}}
    )
    assert client.delete(f"/api/v1/records/{record_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/records/{record_id}", headers=headers).status_code == 404

    history = db.session.scalars(
        sa.select(RecordHistory).where(RecordHistory.record_id == record_uuid).order_by(RecordHistory.version)
    ).all()
    assert [(h.version, h.action) for h in history] == [
        (1, "created"),
        (2, "updated"),
        (3, "updated"),
        (4, "deleted"),
    ]
    assert history[1].changes == {"amount": {"old": 5, "new": 7}, "stage": {"old": None, "new": "won"}}
    assert history[2].changes == {
        "name": {"old": "Acme", "new": "Acme Inc"},
        "amount": {"old": 7, "new": None},
        "stage": {"old": "won", "new": None},
    }
    assert all(h.user_id == owner.id for h in history)

    first = history[1].id
    restored = client.post(f"/api/v1/records/{record_id}/history/{first}/restore", headers=headers)
    assert restored.status_code == 200, restored.json
    assert restored.json["field_values"] == {"name": "Acme", "amount": 7, "stage": "won"}
    assert restored.json["status"] == "active" and restored.json["version"] == 5

    listed = client.get(f"/api/v1/records/{record_id}/history", headers=headers).json["items"]
    assert [item["action"] for item in listed] == ["restored", "deleted", "updated", "updated", "created"]
    assert listed[0]["user"]["email"] == owner.email

    updated = _events("record.updated")
    assert updated[0].payload["changes"] == {
        "amount": {"old": 5, "new": 7},
        "stage": {"old": None, "new": "won"},
    }
    assert len(_events("record.created")) == 1 and len(_events("record.deleted")) == 1


def test_a_failed_write_leaves_no_history_and_no_event(client, owner, recordset):
    response = client.post(
        "/api/v1/records",
        headers=auth_headers(owner),
        json={"recordset_id": str(recordset.id), "field_values": {"name": "x", "amount": "lots"}},
    )
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecordHistory)) == 0
    assert _events("record.created") == []


def test_rename_keeps_values_and_key_change_moves_them(owner, recordset):
    record = service.create_record(recordset=recordset, values={"name": "A", "amount": 3}, user_id=owner.id)
    db.session.commit()
    service.update_field(recordset, key="amount", changes={"name": "Quantity"}, user_id=owner.id)
    db.session.commit()
    assert recordset.field("amount")["name"] == "Quantity" and record.values["amount"] == 3
    service.update_field(recordset, key="amount", changes={"key": "quantity"}, user_id=owner.id)
    db.session.commit()
    db.session.refresh(record)
    assert record.values == {"name": "A", "quantity": 3} and recordset.field("quantity") is not None
    entry = db.session.scalars(sa.select(RecordHistory).where(RecordHistory.action == "migrated")).one()
    assert entry.changes == {"amount": {"old": 3, "new": None}, "quantity": {"old": None, "new": 3}}


def test_type_change_converts_or_reports_what_cannot_be_converted(owner, recordset):
    good = service.create_record(recordset=recordset, values={"name": "1,500"}, user_id=owner.id)
    bad = service.create_record(recordset=recordset, values={"name": "n/a"}, user_id=owner.id)
    db.session.commit()
    with pytest.raises(ValidationFailed) as caught:
        service.update_field(recordset, key="name", changes={"type": "number"}, user_id=owner.id)
    assert caught.value.code == "conversion_failed"
    assert caught.value.extra["failures"] == [
        {"record_id": str(bad.id), "field": "name", "value": "n/a", "message": "must be a number"}
    ]
    db.session.rollback()
    report = service.update_field(
        recordset, key="name", changes={"type": "number"}, user_id=owner.id, force=True
    )
    db.session.commit()
    assert report["converted"] == 1 and len(report["cleared"]) == 1
    assert db.session.get(Record, good.id).values == {"name": 1500}
    assert db.session.get(Record, bad.id).values == {}


def test_type_change_through_the_api_is_422_listing_failures(client, owner, recordset):
    service.create_record(recordset=recordset, values={"name": "x", "notes": "not a date"}, user_id=owner.id)
    db.session.commit()
    fields = [dict(spec) for spec in recordset.fields]
    next(spec for spec in fields if spec["key"] == "notes")["type"] = "date"
    response = client.patch(
        f"/api/v1/recordsets/{recordset.slug}", headers=auth_headers(owner), json={"fields": fields}
    )
    assert response.status_code == 422 and response.json["error"] == "conversion_failed"
    assert response.json["failed_count"] == 1


def test_bulk_create_validates_every_row_and_writes_history(owner, recordset):
    rows = [{"Name": f"Row {i}", "Amount": str(i)} for i in range(2500)]
    rows[10] = {"Name": "", "Amount": "x"}
    rows[2000] = {"Name": "ok", "Bogus": 1}
    created, errors = service.create_records_bulk(
        recordset=recordset, rows=rows, user_id=owner.id, batch_size=1000
    )
    db.session.commit()
    assert created == 2498
    assert sorted((e["row"], e["field"]) for e in errors) == [(10, "amount"), (10, "name"), (2000, "Bogus")]
    assert service.count_records(recordset) == 2498
    assert db.session.scalar(sa.select(sa.func.count()).select_from(RecordHistory)) == 2498
    db.session.refresh(recordset)
    assert recordset.record_count == 2498
    assert db.session.scalars(service.query_records(recordset, {"amount": 42})).one().values == {
        "name": "Row 42",
        "amount": 42,
    }
