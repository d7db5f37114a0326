"""Every field type validates, normalises and round-trips through the API."""

import pytest

from narrative.extensions import db
from narrative.records import service
from narrative.records.fields import FIELD_TYPES, FieldError, normalise_spec, normalise_value
from tests.identity.factories import auth_headers, make_user


def _spec(field_type, **options):
    return normalise_spec({"name": "F", "type": field_type, "options": options})


GOOD = [
    ("text", "  hello ", "hello"),
    ("text", 12.0, "12"),
    ("long_text", "line 1\nline 2", "line 1\nline 2"),
    ("number", "1,200", 1200),
    ("number", 2.5, 2.5),
    ("number", "(3)", -3),
    ("currency", "$1,234.567", 1234.57),
    ("percent", "45%", 45),
    ("date", "2024-03-01", "2024-03-01"),
    ("date", "01.03.2024", "2024-03-01"),
    ("date", "2024-03-01T10:00:00Z", "2024-03-01"),
    ("datetime", "2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z"),
    ("datetime", "2024-03-01 09:30", "2024-03-01T09:30:00Z"),
    ("boolean", "yes", True),
    ("boolean", 0, False),
    ("email", "Ann@Example.COM", "Ann@example.com"),
    ("phone", "+1 (555) 123-4567", "+15551234567"),
    ("phone", "030 1234567", "0301234567"),
    ("url", "example.com/path", "https://example.com/path"),
    (
        "address",
        {"street": "1 Main St", "zip": "10115", "city": "Berlin"},
        {"street": "1 Main St", "postal_code": "10115", "city": "Berlin"},
    ),
    ("address", "1 Main St, Berlin", {"formatted": "1 Main St, Berlin"}),
    ("geo_point", "52.52, 13.405", {"lat": 52.52, "lng": 13.405}),
    ("geo_point", {"type": "Point", "coordinates": [13.405, 52.52]}, {"lat": 52.52, "lng": 13.405}),
    ("json", '{"a": [1, 2]}', {"a": [1, 2]}),
    ("json", {"nested": True}, {"nested": True}),
    ("file", "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f", "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f"),
]

BAD = [
    ("number", "twelve"),
    ("number", True),
    ("currency", "lots"),
    ("date", "31/31/2024"),
    ("datetime", "not a time"),
    ("boolean", "maybe"),
    ("email", "not-an-email"),
    ("phone", "call me"),
    ("url", "ftp://example.com"),
    ("address", {"planet": "Mars"}),
    ("geo_point", {"lat": 91, "lng": 0}),
    ("geo_point", "north"),
    ("user", "not-an-id"),
    ("relation", "nope"),
]


@pytest.mark.parametrize(("field_type", "raw", "stored"), GOOD)
def test_values_are_normalised_per_type(field_type, raw, stored):
    assert normalise_value(_spec(field_type), raw) == stored


@pytest.mark.parametrize(("field_type", "raw"), BAD)
def test_invalid_values_are_refused(field_type, raw):
    options = {"recordset_id": "0190f3a2-7c1e-7b7a-9d2f-1a2b3c4d5e6f"} if field_type == "relation" else {}
    with pytest.raises(FieldError):
        normalise_value(_spec(field_type, **options), raw)


def test_selects_match_value_or_label_and_refuse_others():
    single = _spec("single_select", choices=["lead", {"value": "lost", "label": "Lost deal"}])
    assert normalise_value(single, "LOST DEAL") == "lost"
    with pytest.raises(FieldError):
        normalise_value(single, "won")
    multi = _spec("multi_select", choices=["red", "green", "blue"])
    assert normalise_value(multi, "red, Blue, red") == ["red", "blue"]
    with pytest.raises(FieldError):
        normalise_value(multi, ["red", "purple"])


def test_number_bounds_and_empty_values():
    spec = _spec("number", min=0, max=10)
    with pytest.raises(FieldError, match="at most 10"):
        normalise_value(spec, 11)
    assert normalise_value(spec, "") is None
    assert normalise_value(_spec("multi_select", choices=["a"]), []) is None


def test_every_type_round_trips_through_the_api(client, owner, workspace, recordset):
    from narrative.identity.models import Member

    member = db.session.query(Member).filter_by(workspace_id=workspace.id, user_id=owner.id).one()
    from narrative.platform.storage import store_file

    stored = store_file(workspace_id=workspace.id, data=b"hello", filename="a.txt")
    db.session.commit()
    values = {
        "name": "Acme",
        "notes": "Long\ntext",
        "amount": 12.5,
        "price": 99.99,
        "rate": 12,
        "due": "2024-05-06",
        "seen_at": "2024-05-06T07:08:09Z",
        "active": True,
        "stage": "won",
        "labels": ["red", "blue"],
        "email": "a@acme.io",
        "phone": "+4930123456",
        "website": "https://acme.io",
        "address": {"street": "1 Main St", "city": "Berlin", "country": "DE"},
        "location": {"lat": 52.5, "lng": 13.4},
        "assignee": str(member.id),
        "attachment": str(stored.id),
        "extra": {"k": [1, "two"]},
    }
    assert {spec["type"] for spec in recordset.fields} == set(FIELD_TYPES) - {"relation"}
    response = client.post(
        "/api/v1/records",
        json={"recordset_id": str(recordset.id), "field_values": values},
        headers=auth_headers(owner),
    )
    assert response.status_code == 201, response.json
    record_id = response.json["id"]
    fetched = client.get(f"/api/v1/records/{record_id}", headers=auth_headers(owner)).json
    assert fetched["field_values"] == values
    assert (fetched["latitude"], fetched["longitude"]) == (52.5, 13.4)


def test_user_field_accepts_a_member_email_and_refuses_strangers(client, owner, workspace, recordset):
    from narrative.identity.models import Member

    member = db.session.query(Member).filter_by(workspace_id=workspace.id, user_id=owner.id).one()
    stranger = make_user()
    clean, errors = service.validate_values(recordset, {"name": "x", "assignee": owner.email.upper()})
    assert errors == [] and clean["assignee"] == str(member.id)
    _, errors = service.validate_values(recordset, {"name": "x", "assignee": stranger.email})
    assert errors == [{"field": "assignee", "message": f"{stranger.email} is not a member of this workspace"}]


def test_relation_field_checks_the_target_recordset(owner, workspace, recordset):
    companies = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Companies",
        fields=[{"name": "Name", "type": "text"}],
    )
    contacts = service.create_recordset(
        workspace_id=workspace.id,
        user_id=owner.id,
        name="Contacts",
        fields=[{"name": "Company", "type": "relation", "options": {"recordset_id": str(companies.id)}}],
    )
    acme = service.create_record(recordset=companies, values={"name": "Acme"}, user_id=owner.id)
    deal = service.create_record(recordset=recordset, values={"name": "Deal"}, user_id=owner.id)
    db.session.commit()
    clean, errors = service.validate_values(contacts, {"company": str(acme.id)})
    assert errors == [] and clean == {"company": str(acme.id)}
    _, errors = service.validate_values(contacts, {"company": str(deal.id)})
    assert errors[0]["field"] == "company" and "does not exist" in errors[0]["message"]


def test_api_reports_every_invalid_field(client, owner, recordset):
    response = client.post(
        "/api/v1/records",
        headers=auth_headers(owner),
        json={
            "recordset_id": str(recordset.id),
            "field_values": {"amount": "abc", "email": "nope", "bogus": 1},
        },
    )
    assert response.status_code == 422
    fields = {item["field"] for item in response.json["details"]}
    assert fields == {"amount", "email", "bogus", "name"}
