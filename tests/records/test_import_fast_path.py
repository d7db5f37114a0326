"""The import's fast path gives the same results as the general one: compiled normalisers against
`normalise_value`, their JSON against json.dumps, and records written in bulk (COPY on PostgreSQL,
executemany on SQLite) against records created one by one — values, coordinates and history."""

import io
import json
import uuid

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.records import service
from narrative.records.fields import (
    FieldError,
    compile_normaliser,
    json_encoder,
    normalise_spec,
    normalise_value,
)
from narrative.records.models import Record, RecordHistory
from tests.records.test_import_jobs import records_of, start_new_import
from workers.worker import run_jobs_in_process

SAMPLES = {
    "text": ["Ann", "  padded  ", "", "   ", "x" * 10_001, 12, 4.0, True, ["a", "b"], None],
    "long_text": ["line one\nline two", "  ", "é" * 20, 3.5],
    "number": [
        "12",
        "-0",
        "007",
        "1,500",
        "1_000",
        " 42 ",
        "12.50",
        "12.00",
        "-0.00",
        "3.14159",
        "1.2345678",
        "123456789012345",
        "1234567890123456",
        "9007199254740993",
        "1e3",
        "(12.50)",
        "nan",
        "inf",
        "",
        "abc",
        "١٢",
        5,
        2.5,
        1e20,
        True,
        "0.1",
        "99999999.999999",
    ],
    "currency": ["1234.56", "1234.567", "12.5", "$12", "€4.25", "12.005", "-3.10", "12.00"],
    "percent": ["45", "45%", "12.5", "0.125"],
    "date": [
        "2024-01-02",
        "2024-13-45",
        "2024-02-30",
        "0000-01-01",
        "0999-01-01",
        "2024/01/02",
        "02.01.2024",
        "2024-01-02T10:00:00",
        "not a date",
        "20240102",
    ],
    "datetime": [
        "2024-05-01T10:22:00",
        "2024-05-01T10:22:00Z",
        "2024-05-01 10:22",
        "2024-05-01T25:00:00",
        "0999-05-01T10:22:00",
        "2024-05-01T10:22:00+02:00",
        "2024-05-01T10:22:00.5",
        "nope",
    ],
    "boolean": ["true", "FALSE", " yes ", "x", "0", "maybe", 1, 0, 2, True],
    "email": [
        "ann@example.com",
        "Ann@Example.COM",
        "mailto:bo@example.org",
        "nope",
        "a@b",
        "x" * 320 + "@e.com",
    ],
    "phone": [
        "+1 555 0123",
        "0044 20 7946 0958",
        "555-0123",
        "12",
        "+1 (555) 012-3456",
        "call me",
        "555 0123 ext 4",
        "1234567890123456",
        5550123.0,
    ],
    "url": [
        "https://example.com/p/1",
        "example.com",
        "http://a.b?x=1#y",
        "ftp://example.com",
        "https://localhost",
        "https://exa mple.com",
        "HTTPS://EXAMPLE.COM",
        "https://example.com:8080/x",
    ],
    "geo_point": [
        "48.85, 2.35",
        "48.85,2.35",
        "-33.9;18.4",
        "91, 0",
        "0, 181",
        "1 2",
        "a, b",
        "48.85",
        {"lat": 1, "lng": 2},
        [3, 4],
    ],
}


@pytest.mark.parametrize("field_type", sorted(SAMPLES))
def test_compiled_normalisers_match_normalise_value(field_type):
    options = {"max_length": 10_000} if field_type == "text" else {}
    for spec in (
        normalise_spec({"name": "f", "type": field_type, "options": options}),
        *(
            [normalise_spec({"name": "f", "type": field_type, "options": {"precision": 1}})]
            if field_type in ("number", "currency", "percent")
            else []
        ),
    ):
        compiled = compile_normaliser(spec)
        for value in SAMPLES[field_type]:
            try:
                expected = ("ok", normalise_value(spec, value))
            except FieldError as exc:
                expected = ("error", str(exc))
            try:
                got = ("ok", compiled(value))
            except FieldError as exc:
                got = ("error", str(exc))
            assert got == expected and type(got[1]) is type(expected[1]), (spec["options"], value)
            if got[0] == "ok" and got[1] is not None:
                assert json.loads(json_encoder(spec)(got[1])) == got[1]


def test_single_select_matches_value_or_label_like_the_general_path():
    spec = normalise_spec(
        {
            "name": "Stage",
            "type": "single_select",
            "options": {"choices": ["lead", {"value": "lost", "label": "Lost deal"}]},
        }
    )
    compiled = compile_normaliser(spec)
    for value in ("lead", "LEAD", "lost deal", "Lost", "won"):
        try:
            expected = normalise_value(spec, value)
        except FieldError as exc:
            with pytest.raises(FieldError, match=str(exc)[:10]):
                compiled(value)
        else:
            assert compiled(value) == expected


FIELDS = [
    {"name": "Name", "type": "text", "required": True},
    {"name": "Notes", "type": "long_text"},
    {"name": "Amount", "type": "currency"},
    {"name": "Share", "type": "percent"},
    {"name": "Joined", "type": "date"},
    {"name": "Seen", "type": "datetime"},
    {"name": "Active", "type": "boolean"},
    {"name": "Email", "type": "email"},
    {"name": "Website", "type": "url"},
    {"name": "Location", "type": "geo_point"},
    {"name": "Labels", "type": "multi_select", "options": {"choices": ["red", "green"]}},
]
CSV = (
    "Name,Notes,Amount,Share,Joined,Seen,Active,Email,Website,Location,Labels\n"
    'Ann,"back\\slash ""quoted""\ttab",1234.5,45,2024-01-02,2024-05-01T10:00:00,true,ann@Example.com,'
    'example.com,"48.85, 2.35","red,green"\n'
    "Bo,,7,,2024-02-03,,no,,,,\n"
    'Cy,é ü 😀,"1,5",12.5%,02.03.2024,2024-05-01 10:22,1,cy@example.org,https://x.io/a?b=c,-33.9;18.4,green\n'
    ",no name,1,1,2024-01-01,,,,,,\n"
    "Di,bad date,1,1,2024-13-01,,,,,,\n"
)


def test_bulk_written_import_equals_records_created_one_by_one(auth_client, app):
    started = start_new_import(auth_client, CSV, schema=FIELDS)
    run_jobs_in_process(app)
    job = auth_client.get(f"/api/v1/import/jobs/{started['job_id']}").get_json()
    assert (job["rows_imported"], job["rows_failed"]) == (3, 2)
    imported = {r.values["name"]: r for r in records_of(started["recordset_id"])}

    recordset = db.session.get(service.Recordset, uuid.UUID(started["recordset_id"]))
    reference = service.create_recordset(
        workspace_id=recordset.workspace_id,
        user_id=auth_client.user.id,
        name="Reference",
        fields=recordset.fields,
    )
    import csv

    for row in list(csv.DictReader(io.StringIO(CSV)))[:3]:
        cells = {k: ("1.5" if v == "1,5" else v) for k, v in row.items()}  # the import reads "1,5" as 1.5
        service.create_record(recordset=reference, values=cells, user_id=auth_client.user.id)
    db.session.commit()
    by_one = {r.values["name"]: r for r in records_of(reference.id)}

    assert set(imported) == set(by_one) == {"Ann", "Bo", "Cy"}
    for name, record in imported.items():
        other = by_one[name]
        assert record.values == other.values
        assert list(record.values) == list(other.values) or db.engine.dialect.name == "postgresql"
        assert (record.latitude, record.longitude) == (other.latitude, other.longitude)
        assert (record.status, record.version, record.tags, record.tool_statuses) == ("active", 1, [], {})
        assert record.owner_id == record.created_by_id == record.updated_by_id == auth_client.user.id
        assert record.created_at.tzinfo is not None and record.external_id is None
        assert isinstance(record.id, uuid.UUID) and record.id.version == 7
        history = db.session.scalars(
            sa.select(RecordHistory).where(RecordHistory.record_id == record.id)
        ).all()
        expected = db.session.scalars(
            sa.select(RecordHistory).where(RecordHistory.record_id == other.id)
        ).all()
        assert [(h.action, h.version, h.changes, h.values, h.user_id) for h in history] == [
            (h.action, h.version, h.changes, h.values, h.user_id) for h in expected
        ]
        assert history[0].created_at == record.created_at
    assert imported["Ann"].values["notes"] == 'back\\slash "quoted"\ttab'
    assert db.session.get(service.Recordset, recordset.id).record_count == 3
    filtered = db.session.scalars(service.query_records(recordset, {"active": True})).all()
    assert sorted(r.values["name"] for r in filtered) == ["Ann", "Cy"]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Record)) == 6


def test_bulk_create_resolves_references_and_reports_unknown_ones(owner, recordset):
    rows = [
        {"Name": "mine", "Assignee": owner.email.upper()},
        {"Name": "stranger", "Assignee": "nobody@example.com"},
        {"Name": "bad file", "Attachment": "not-a-uuid"},
        {"name": "plain", "amount": "1,234.5", "labels": "red; blue"},
    ]
    created, errors = service.create_records_bulk(
        recordset=recordset, rows=rows, user_id=owner.id, batch_size=3
    )
    db.session.commit()
    assert created == 2
    assert [(e["row"], e["field"]) for e in errors] == [(1, "assignee"), (2, "attachment")]
    by_name = {r.values["name"]: r.values for r in records_of(recordset.id)}
    member_id = by_name["mine"]["assignee"]
    assert uuid.UUID(member_id) and "@" not in member_id
    assert by_name["plain"] == {"name": "plain", "amount": 1234.5, "labels": ["red", "blue"]}
