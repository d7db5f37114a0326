"""Imports as jobs through the API: a messy CSV, error reports behind signed links, resuming a
killed import without duplicates, progress streams, exports, geocoding, and job management."""

import csv
import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.email import EmailMessage
from narrative.platform.jobs import Job
from narrative.records.importing import jobs as import_jobs
from narrative.records.importing.models import RecordImport, RecordImportError
from narrative.records.models import Record, Recordset
from workers.worker import run_jobs_in_process

MESSY_CSV = (
    "\ufeffName;Joined;Amount;Email\n"
    '"Ann\nSmith";2024-01-02;"1,5";ann@example.com\n'
    "Bob;not a date;2;bob@example.org\n"
    "Cé;2024-03-04;3;ce@example.io\n"
    "Dan;2024-13-45;4,25;dan@example.com\n"
    "Eve;2024-05-07;lots;eve@example.com\n"
    "Fay;2024-05-08;6;fay@example.com\n"
    "Gus;2024-05-09;7;gus@example.com\n"
    "Hal;2024-05-10;8;hal@example.com\n"
    "Ida;2024-05-11;9;ida@example.com\n"
    "Jo;2024-05-12;10;jo@example.com\n"
)


def upload(client, content, filename="people.csv"):
    data = content.encode("utf-8") if isinstance(content, str) else content
    response = client.post(
        "/api/v1/import/upload",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def start_new_import(client, content, **extra):
    analysis = upload(client, content)
    response = client.post("/api/v1/import", json={"file_uri": analysis["file_uri"], **extra})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def records_of(recordset_id):
    db.session.expire_all()
    return db.session.scalars(
        sa.select(Record).where(Record.recordset_id == uuid.UUID(str(recordset_id)))
    ).all()


def test_upload_analyses_the_file(auth_client):
    analysis = upload(auth_client, MESSY_CSV)
    assert analysis["file_uri"].startswith("narrative://files/")
    assert analysis["delimiter"] == ";" and analysis["encoding"] == "utf-8-sig"
    assert analysis["row_count"] == 10
    assert analysis["inferred_types"] == {
        "Name": "text",
        "Joined": "date",
        "Amount": "number",
        "Email": "email",
    }
    again = auth_client.post("/api/v1/import/upload/analyze", json={"file_uri": analysis["file_uri"]})
    assert again.get_json()["headers"] == analysis["headers"]


def test_upload_refuses_other_file_types_and_other_workspaces_files(auth_client, app):
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    response = auth_client.post(
        "/api/v1/import/upload", data={"file": (io.BytesIO(png), "x.png")}, content_type="multipart/form-data"
    )
    assert response.status_code == 415
    from tests.identity.factories import auth_headers, make_user

    stranger = make_user()
    uri = upload(auth_client, MESSY_CSV)["file_uri"]
    response = app.test_client().post(
        "/api/v1/import/upload/analyze", json={"file_uri": uri}, headers=auth_headers(stranger)
    )
    assert response.status_code == 404


def test_messy_csv_imports_good_rows_and_reports_bad_ones_exactly(auth_client, app):
    started = start_new_import(auth_client, MESSY_CSV)
    run_jobs_in_process(app)

    job = auth_client.get(f"/api/v1/import/jobs/{started['job_id']}").get_json()
    assert job["status"] == "COMPLETED" and job["progress"] == 100
    assert (job["rows_imported"], job["rows_failed"], job["rows_processed"]) == (7, 3, 10)
    names = sorted(r.values["name"] for r in records_of(started["recordset_id"]))
    assert names == ["Ann\nSmith", "Cé", "Fay", "Gus", "Hal", "Ida", "Jo"]
    ann = next(r for r in records_of(started["recordset_id"]) if r.values["name"] == "Ann\nSmith")
    assert ann.values["amount"] == 1.5 and ann.values["joined"] == "2024-01-02"

    report = app.test_client().get(job["error_report_url"])  # no auth header: the link is the authority
    assert report.status_code == 200
    rows = list(csv.reader(io.StringIO(report.get_data(as_text=True))))
    assert rows[0] == ["row_number", "column", "value", "reason"]
    assert [(r[0], r[1], r[2]) for r in rows[1:]] == [
        ("2", "Joined", "not a date"),
        ("4", "Joined", "2024-13-45"),
        ("5", "Amount", "lots"),
    ]
    assert all(r[3] for r in rows[1:])

    legacy = auth_client.get(f"/api/v1/import/{started['job_id']}/status").get_json()
    assert legacy["status"] == "COMPLETED"
    mail = db.session.scalars(sa.select(EmailMessage)).all()
    assert any(
        "7 records imported, 3 rows rejected" in m.text_body
        for m in mail
        if m.kind == "records.import_completed"
    )


def test_error_report_links_expire_and_refuse_tampering(auth_client, app, monkeypatch):
    started = start_new_import(auth_client, MESSY_CSV)
    run_jobs_in_process(app)
    url = auth_client.get(f"/api/v1/import/jobs/{started['job_id']}/report-url").get_json()["url"]
    public = app.test_client()
    assert public.get(url).status_code == 200
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    tampered_sig = f"{parts.path}?exp={query['exp']}&sig={query['sig'][:-2]}xx"
    assert public.get(tampered_sig).status_code == 403
    later_exp = f"{parts.path}?exp={int(query['exp']) + 3600}&sig={query['sig']}"
    assert public.get(later_exp).status_code == 403
    other = start_new_import(auth_client, MESSY_CSV)
    run_jobs_in_process(app)
    other_path = f"/api/v1/import/error-reports/{other['job_id']}?exp={query['exp']}&sig={query['sig']}"
    assert public.get(other_path).status_code == 403  # a link for one report opens no other
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 25 * 3600)
    assert public.get(url).status_code == 410
    monkeypatch.setattr(time, "time", real_time)
    fresh = auth_client.get(f"/api/v1/import/jobs/{started['job_id']}/report-url").get_json()["url"]
    assert public.get(fresh).status_code == 200


def big_csv(rows, bad_every=7):
    lines = ["id,label,score,day"]
    for i in range(1, rows + 1):
        day = "not-a-day" if i % bad_every == 0 else f"2024-01-{i % 28 + 1:02d}"
        lines.append(f"{i},item {i},{i * 2},{day}")
    return "\n".join(lines) + "\n"


def test_killed_import_resumes_without_losing_or_duplicating_rows(auth_client, app, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 10)
    real_commit = import_jobs._commit_chunk
    calls = {"n": 0}

    def dies_after_three_chunks(*args, **kwargs):
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        calls["n"] += 1
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(import_jobs, "_commit_chunk", dies_after_three_chunks)
    started = start_new_import(auth_client, big_csv(95))
    run_jobs_in_process(app)
    first = db.session.get(Job, started["job_id"])
    assert first.status == "FAILED"
    record_import = db.session.scalar(sa.select(RecordImport).where(RecordImport.job_id == first.id))
    assert record_import.rows_committed == 30 and len(records_of(started["recordset_id"])) == 26

    monkeypatch.setattr(import_jobs, "_commit_chunk", real_commit)
    from narrative.records.importing.service import queue_import_job

    rerun = queue_import_job(record_import)
    db.session.commit()
    run_jobs_in_process(app)
    db.session.expire_all()
    assert db.session.get(Job, rerun.id).status == "COMPLETED"
    ids = sorted(int(r.values["id"]) for r in records_of(started["recordset_id"]))
    assert ids == [i for i in range(1, 96) if i % 7 != 0]  # every good row exactly once
    errors = db.session.scalars(
        sa.select(RecordImportError.row_number).order_by(RecordImportError.row_number)
    ).all()
    assert errors == [i for i in range(1, 96) if i % 7 == 0]  # every bad row exactly once
    assert db.session.get(Recordset, record_import.recordset_id).record_count == len(ids)


def test_import_cancelled_midway_keeps_whole_chunks_only(auth_client, app, monkeypatch):
    """Cancelling while chunks are validated and written (by the writer thread on PostgreSQL)
    stops the import between chunks: what was committed is whole chunks with their checkpoint."""
    from narrative.platform.jobs import cancel_job

    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 10)
    real_prepare = import_jobs._prepare_chunk
    prepared = {"n": 0}

    def cancel_after_three_chunks(*args, **kwargs):
        prepared["n"] += 1
        if prepared["n"] == 3:
            cancel_job(db.session.get(Job, started["job_id"]))
            db.session.commit()
        return real_prepare(*args, **kwargs)

    monkeypatch.setattr(import_jobs, "_prepare_chunk", cancel_after_three_chunks)
    started = start_new_import(auth_client, big_csv(95))
    run_jobs_in_process(app)
    db.session.expire_all()
    assert db.session.get(Job, started["job_id"]).status == "CANCELED"
    record_import = db.session.scalar(sa.select(RecordImport).where(RecordImport.job_id == started["job_id"]))
    assert record_import.rows_committed == 30
    ids = sorted(int(r.values["id"]) for r in records_of(started["recordset_id"]))
    assert ids == [i for i in range(1, 31) if i % 7 != 0]
    assert record_import.rows_imported == len(ids) and record_import.rows_failed == 30 - len(ids)


def test_pipelined_import_holds_no_transaction_while_validating(auth_client, app, monkeypatch):
    """On PostgreSQL the writer thread stores chunks on its own connection; the job's thread gives
    its connection back instead of sitting idle in a transaction for the whole import."""
    if db.session.get_bind().dialect.name != "postgresql":
        pytest.skip("chunks are written by a writer thread on PostgreSQL only")
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 10)
    real_prepare = import_jobs._prepare_chunk
    in_transaction = []

    def prepare_and_look(*args, **kwargs):
        prepared = real_prepare(*args, **kwargs)
        in_transaction.append(db.session().in_transaction())
        return prepared

    monkeypatch.setattr(import_jobs, "_prepare_chunk", prepare_and_look)
    started = start_new_import(auth_client, big_csv(95))
    run_jobs_in_process(app)
    db.session.expire_all()
    assert db.session.get(Job, started["job_id"]).status == "COMPLETED"
    assert in_transaction == [False] * 10


def sse_frames(response):
    frames = []
    for block in response.get_data(as_text=True).split("\n\n"):
        for line in block.splitlines():
            if line.startswith("data:"):
                frames.append(json.loads(line[5:]))
    return frames


def test_import_progress_stream_reaches_100_and_closes(auth_client, app, monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 10)
    started = start_new_import(auth_client, big_csv(60))
    run_jobs_in_process(app)
    response = auth_client.get(f"/api/v1/import/jobs/{started['job_id']}/stream")
    assert response.mimetype == "text/event-stream"
    frames = sse_frames(response)
    progress = [f["progress"] for f in frames]
    assert progress == sorted(progress) and progress[-1] == 100
    assert frames[-1]["status"] == "COMPLETED"
    assert any(f.get("rows_processed") == 30 for f in frames)


def test_import_into_existing_recordset_with_field_mappings(auth_client, app):
    from narrative.records import service as records_service

    recordset = records_service.create_recordset(
        workspace_id=auth_client.workspace.id,
        user_id=auth_client.user.id,
        name="People",
        fields=[{"name": "Full name", "type": "text", "required": True}, {"name": "Mail", "type": "email"}],
    )
    db.session.commit()
    uri = upload(auth_client, "who,contact,ignored\nAnn,ann@example.com,x\n,bad@example.com,y\nBo,nope,z\n")[
        "file_uri"
    ]
    response = auth_client.post(
        f"/api/v1/import/recordsets/{recordset.id}",
        json={"file_uri": uri, "field_mappings": {"who": "full_name", "contact": "Mail"}},
    )
    assert response.status_code == 200, response.get_json()
    run_jobs_in_process(app)
    job = auth_client.get(f"/api/v1/import/jobs/{response.get_json()['job_id']}").get_json()
    assert (job["rows_imported"], job["rows_failed"]) == (1, 2)
    assert [r.values for r in records_of(recordset.id)] == [{"full_name": "Ann", "mail": "ann@example.com"}]
    bad = auth_client.post(
        f"/api/v1/import/recordsets/{recordset.id}",
        json={"file_uri": uri, "field_mappings": {"who": "no_such_field"}},
    )
    assert bad.status_code == 422


def test_jobs_list_filters_cancel_and_delete(auth_client, app):
    first = start_new_import(auth_client, MESSY_CSV)
    second = start_new_import(auth_client, MESSY_CSV)
    export = auth_client.post("/api/v1/export/jobs", json={"recordset_id": first["recordset_id"]}).get_json()
    listing = auth_client.get("/api/v1/import/jobs?page=1&page_size=2").get_json()
    assert listing["total"] == 3 and listing["pages"] == 2 and len(listing["items"]) == 2
    assert listing["items"][0]["job_id"] == export["job_id"]  # newest first
    only_exports = auth_client.get("/api/v1/import/jobs?job_type=export").get_json()
    assert [j["job_id"] for j in only_exports["items"]] == [export["job_id"]]

    assert auth_client.delete(f"/api/v1/import/jobs/{first['job_id']}").status_code == 409
    cancel = auth_client.post(f"/api/v1/import/jobs/{first['job_id']}/cancel")
    assert cancel.get_json()["status"] == "CANCELED"
    cancelled_all = auth_client.post("/api/v1/import/jobs/cancel-all").get_json()
    assert sorted(cancelled_all["job_ids"]) == sorted([second["job_id"], export["job_id"]])
    pending = auth_client.get("/api/v1/import/jobs?status=pending").get_json()
    assert pending["total"] == 0
    assert auth_client.get("/api/v1/import/jobs?status=cancelled").get_json()["total"] == 3
    assert auth_client.delete(f"/api/v1/import/jobs/{first['job_id']}").status_code == 204
    assert auth_client.get(f"/api/v1/import/jobs/{first['job_id']}").status_code == 404


@pytest.mark.parametrize("file_format", ["csv", "xlsx", "geojson"])
def test_export_writes_a_signed_download(auth_client, app, file_format):
    started = start_new_import(auth_client, MESSY_CSV)
    run_jobs_in_process(app)
    export = auth_client.post(
        "/api/v1/export/jobs", json={"recordset_id": started["recordset_id"], "format": file_format}
    ).get_json()
    run_jobs_in_process(app)
    job = auth_client.get(f"/api/v1/import/jobs/{export['job_id']}").get_json()
    assert job["status"] == "COMPLETED" and job["result"]["rows_written"] == 7
    download = app.test_client().get(job["result"]["download_url"])
    assert download.status_code == 200
    body = download.get_data()
    if file_format == "csv":
        assert body.decode().splitlines()[0] == "id,Name,Joined,Amount,Email"
    elif file_format == "geojson":
        assert len(json.loads(body)["features"]) == 7
    else:
        assert body[:2] == b"PK"


def test_geocoding_job_stores_coordinates_and_streams_progress(auth_client, app):
    from narrative.records import service as records_service

    recordset = records_service.create_recordset(
        workspace_id=auth_client.workspace.id,
        user_id=auth_client.user.id,
        name="Offices",
        fields=[{"name": "City", "type": "text"}, {"name": "Country", "type": "text"}],
    )
    for city, country in [
        ("Paris", "France"),
        ("Berlin", "Germany"),
        ("Qwxyzzy Nowhereville", ""),
        ("Austin, TX 78701", ""),
    ]:
        records_service.create_record(
            recordset=recordset, values={"city": city, "country": country}, user_id=auth_client.user.id
        )
    db.session.commit()
    started = auth_client.post(
        "/api/v1/geocode/jobs",
        json={"recordset_id": str(recordset.id), "address_fields": ["city", "Country"]},
    ).get_json()
    run_jobs_in_process(app)
    job = auth_client.get(f"/api/v1/geocode/jobs/{started['job_id']}").get_json()
    assert job["status"] == "COMPLETED"
    assert job["result"] == {"total": 4, "geocoded": 3, "not_found": 1}
    placed = {
        r.values["city"]: (round(r.latitude), round(r.longitude))
        for r in records_of(recordset.id)
        if r.latitude
    }
    assert placed == {"Paris": (49, 2), "Berlin": (53, 13), "Austin, TX 78701": (30, -98)}
    frames = sse_frames(auth_client.get(f"/api/v1/geocode/jobs/{started['job_id']}/stream"))
    assert frames[-1]["progress"] == 100 and frames[-1]["status"] == "COMPLETED"
    listing = auth_client.get("/api/v1/geocode/jobs").get_json()
    assert [j["job_id"] for j in listing["items"]] == [started["job_id"]]


def test_direct_upload_through_a_signed_url(auth_client, app):
    signed = auth_client.post("/api/v1/import/upload/signed-url", json={"filename": "people.csv"}).get_json()
    public = app.test_client()
    response = public.put(signed["upload_url"], data=MESSY_CSV.encode())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["row_count"] == 10
    assert public.put(signed["upload_url"][:-3] + "abc", data=b"a,b\n1,2\n").status_code == 403


def test_geojson_import_places_records_on_the_map(auth_client, app):
    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [2.35, 48.85]},
                "properties": {"name": "Paris"},
            },
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [13.4, 52.52]},
                "properties": {"name": "Berlin"},
            },
        ],
    }
    analysis = upload(auth_client, json.dumps(collection), filename="places.geojson")
    assert analysis["format"] == "geojson"
    started = auth_client.post("/api/v1/import", json={"file_uri": analysis["file_uri"]}).get_json()
    run_jobs_in_process(app)
    placed = {r.values["name"]: (r.latitude, r.longitude) for r in records_of(started["recordset_id"])}
    assert placed == {"Paris": (48.85, 2.35), "Berlin": (52.52, 13.4)}
