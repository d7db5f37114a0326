"""Imports, exports and geocoding of recordsets: uploads, starting jobs, reading and managing them.

Uploaded files are platform-stored files addressed by a `file_uri` (`narrative://files/<id>`) that
belongs to the workspace. Jobs are platform jobs (narrative.platform.jobs) of three kinds:
`records.import`, `records.export` (both listed at /import/jobs) and `records.geocode`.
"""

import re

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform import jobs as platform_jobs
from narrative.platform.errors import BadRequest, Conflict, NotFound, ValidationFailed
from narrative.platform.jobs import Job, enqueue_job
from narrative.platform.storage import StoredFile, open_file, signed_download_url, store_file
from narrative.platform.tenancy import find, get_or_404, resolve_reference
from narrative.records import service as records_service
from narrative.records.fields import FIELD_TYPES, slugify_key
from narrative.records.importing.analysis import analyze_stream
from narrative.records.importing.models import RecordImport
from narrative.records.models import Recordset

IMPORT_KIND = "records.import"
EXPORT_KIND = "records.export"
GEOCODE_KIND = "records.geocode"
JOB_TYPES = {"import": IMPORT_KIND, "export": EXPORT_KIND}
UPLOAD_TYPES = {
    "text/csv",
    "text/plain",
    "application/json",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/zip",
}
UPLOAD_PURPOSE = "records.import"
EXPORT_FORMATS = ("csv", "xlsx", "geojson")
REPORT_URL_SECONDS = 24 * 3600
# What clients of the seed send as a status filter, in the platform's words.
STATUS_ALIASES = {
    "pending": "QUEUED",
    "queued": "QUEUED",
    "running": "RUNNING",
    "processing": "RUNNING",
    "completed": "COMPLETED",
    "failed": "FAILED",
    "cancelled": "CANCELED",
    "canceled": "CANCELED",
}
# Inferred analysis types -> record field types.
FIELD_TYPE_OF = {"geo": "geo_point"}
FILE_URI = re.compile(r"^narrative://files/([0-9a-fA-F-]{36})$")


# --- uploads ------------------------------------------------------------------------------------


def file_uri(stored):
    return f"narrative://files/{stored.id}"


def upload_file(*, workspace_id, user_id, upload, max_bytes=None):
    """Store an uploaded import file (size and type checked while copying) and analyse it."""
    stored = store_file(
        workspace_id=workspace_id,
        data=upload,
        filename=getattr(upload, "filename", None) or "upload",
        max_bytes=max_bytes,
        allowed_types=UPLOAD_TYPES,
        owner_id=user_id,
        purpose=UPLOAD_PURPOSE,
    )
    return stored, analyze_file(stored)


def stored_file_from_uri(uri):
    """The workspace's stored file a `file_uri` names; 404 for another workspace's or a malformed one."""
    match = FILE_URI.match(str(uri or "").strip())
    stored = find(StoredFile, match.group(1)) if match else None
    if stored is None:
        raise NotFound("File not found; upload it with POST /api/v1/import/upload first.")
    return stored


def analyze_file(stored):
    from narrative.records.importing.readers import UnreadableFile

    try:
        with open_file(stored) as binary:
            analysis = analyze_stream(binary, filename=stored.filename)
    except UnreadableFile as exc:
        raise ValidationFailed(str(exc), details=[{"field": "file", "message": str(exc)}]) from None
    return {"file_uri": file_uri(stored), "filename": stored.filename, "size": stored.size, **analysis}


# --- imports ------------------------------------------------------------------------------------


def _unique_key(key, taken):
    """Two columns whose names slugify alike ("Name", "name ") get key, key_2, ..."""
    if not re.match(r"^[a-z]", key or ""):
        key = f"field_{key}" if key else "field"
    candidate, number = key[:110], 1
    while candidate in taken:
        number += 1
        candidate = f"{key[:110]}_{number}"
    return candidate


def _schema_from_analysis(analysis, schema):
    """Field specs (with the file column each comes from) from the client's schema or the analysis."""
    if not schema:
        schema = [{"name": c["name"], "type": c["type"]} for c in analysis["columns"]]
    specs, columns = [], []
    headers = set(analysis["headers"])
    for index, item in enumerate(schema):
        if isinstance(item, str):
            item = {"name": item}
        column = item.get("source_column") or item.get("column") or item.get("name")
        if column not in headers:
            raise ValidationFailed(
                f"The file has no column {column!r}.",
                details=[{"field": f"schema[{index}]", "message": "unknown column"}],
            )
        kind = FIELD_TYPE_OF.get(
            item.get("type"), item.get("type") or analysis["inferred_types"].get(column, "text")
        )
        if kind not in FIELD_TYPES:
            kind = "text"
        spec = {key: value for key, value in item.items() if key not in ("source_column", "column")}
        spec.update(name=item.get("name") or column, type=kind)
        spec["key"] = _unique_key(spec.get("key") or slugify_key(spec["name"]), {s["key"] for s in specs})
        specs.append(spec)
        columns.append(column)
    return specs, columns


def _map_settings(columns, specs):
    """Latitude/longitude columns (a GeoJSON file's points, or a CSV's) place the records on the map."""
    keys = {
        column.strip().lower(): spec["key"]
        for column, spec in zip(columns, specs, strict=True)
        if spec["type"] in ("number", "text")
    }
    latitude = keys.get("latitude") or keys.get("lat")
    longitude = keys.get("longitude") or keys.get("lng") or keys.get("lon")
    if latitude and longitude:
        return {"gis": {"latitude_field": latitude, "longitude_field": longitude}}
    return None


def start_import_into_new_recordset(
    *, workspace_id, user_id, uri, schema=None, name=None, icon=None, description=None
):
    """Create the recordset from the schema (or the analysis) and queue the import job."""
    stored = stored_file_from_uri(uri)
    analysis = analyze_file(stored)
    specs, columns = _schema_from_analysis(analysis, schema)
    if not specs:
        raise BadRequest("The file has no columns to import.")
    recordset = records_service.create_recordset(
        workspace_id=workspace_id,
        user_id=user_id,
        name=name or re.sub(r"\.[A-Za-z0-9]+$", "", stored.filename) or "Import",
        fields=specs,
        icon=icon,
        description=description,
        settings=_map_settings(columns, specs),
    )
    mappings = {column: spec["key"] for column, spec in zip(columns, recordset.fields, strict=True)}
    job, record_import = _queue_import(recordset, stored, mappings, analysis["row_count"], user_id)
    return recordset, job, record_import


def start_import_into_recordset(*, workspace_id, user_id, recordset_id, uri, field_mappings=None):
    """Queue an import into an existing recordset; columns map to fields by `field_mappings` or by name."""
    recordset = get_or_404(Recordset, recordset_id)
    stored = stored_file_from_uri(uri)
    analysis = analyze_file(stored)
    by_name = {spec["key"]: spec["key"] for spec in recordset.fields}
    by_name.update({spec["name"].strip().lower(): spec["key"] for spec in recordset.fields})
    if field_mappings:
        mappings, details = {}, []
        for column, target in field_mappings.items():
            if not target:
                continue  # an unmapped column is skipped
            key = by_name.get(str(target)) or by_name.get(str(target).strip().lower())
            if column not in analysis["headers"]:
                details.append(
                    {"field": f"field_mappings.{column}", "message": "is not a column of the file"}
                )
            elif key is None:
                details.append({"field": f"field_mappings.{column}", "message": f"{target!r} is not a field"})
            else:
                mappings[column] = key
        if details:
            raise ValidationFailed("Some field mappings do not match.", details=details)
    else:
        mappings = {
            h: by_name[h.strip().lower()] for h in analysis["headers"] if h.strip().lower() in by_name
        }
    if not mappings:
        raise ValidationFailed(
            "No column of the file maps to a field of this recordset.",
            details=[{"field": "field_mappings", "message": "maps no column"}],
        )
    job, record_import = _queue_import(recordset, stored, mappings, analysis["row_count"], user_id)
    return recordset, job, record_import


def _queue_import(recordset, stored, mappings, rows_total, user_id):
    record_import = RecordImport(
        workspace_id=recordset.workspace_id,
        recordset_id=recordset.id,
        file_id=stored.id,
        user_id=user_id,
        field_mappings=mappings,
        rows_total=rows_total,
    )
    db.session.add(record_import)
    db.session.flush()
    job = queue_import_job(record_import)
    return job, record_import


def queue_import_job(record_import):
    """A job for the import; a re-run of a failed one resumes after its last committed chunk."""
    job = enqueue_job(
        IMPORT_KIND,
        "narrative.records.importing.jobs.import_file",
        str(record_import.id),
        workspace_id=record_import.workspace_id,
        user_id=record_import.user_id,
        timeout=6 * 3600,
        description=f"Import into recordset {record_import.recordset_id}",
    )
    record_import.job_id = job.id
    return job


def import_for_job(job):
    return db.session.scalar(sa.select(RecordImport).where(RecordImport.job_id == job.id))


def error_report_url(record_import, *, expires_in=REPORT_URL_SECONDS):
    """A signed, expiring link to the import's error report (None when it has no report).

    The link's signature is the platform storage signature of the report file; the route at
    /import/error-reports/{job_id} checks it against the file the job's import points to.
    """
    if record_import is None or record_import.report_file_id is None:
        return None
    stored = db.session.get(StoredFile, record_import.report_file_id)
    if stored is None:
        return None
    file_url = signed_download_url(stored, expires_in=expires_in)
    return f"/api/v1/import/error-reports/{record_import.job_id}?" + file_url.split("?", 1)[1]


def report_file_for_job(job_id):
    """The report file of a job's import, in any workspace: for the signed download route, inside
    its `all_workspaces()` (the link's signature, checked next, is the authority)."""
    record_import = db.session.scalar(sa.select(RecordImport).where(RecordImport.job_id == job_id))
    if record_import is None or record_import.report_file_id is None:
        raise NotFound("This job has no error report.")
    stored = db.session.get(StoredFile, record_import.report_file_id)
    if stored is None:
        raise NotFound("This job has no error report.")
    return stored


# --- exports and geocoding ------------------------------------------------------------------------


def start_export(*, workspace_id, user_id, recordset_id, file_format="csv"):
    recordset = resolve_reference(Recordset, recordset_id, field="recordset_id")
    if file_format not in EXPORT_FORMATS:
        raise ValidationFailed(
            "Unknown export format.", details=[{"field": "format", "message": "csv, xlsx or geojson"}]
        )
    return enqueue_job(
        EXPORT_KIND,
        "narrative.records.importing.jobs.export_recordset",
        str(recordset.id),
        file_format,
        workspace_id=workspace_id,
        user_id=user_id,
        timeout=3 * 3600,
        description=f"Export of recordset {recordset.id} as {file_format}",
    )


def start_geocoding(*, workspace_id, user_id, recordset_id, address_fields):
    recordset = resolve_reference(Recordset, recordset_id, field="recordset_id")
    keys = {spec["key"] for spec in recordset.fields}
    names = {spec["name"].strip().lower(): spec["key"] for spec in recordset.fields}
    resolved, details = [], []
    for index, name in enumerate(address_fields or []):
        key = name if name in keys else names.get(str(name).strip().lower())
        if key is None:
            details.append({"field": f"address_fields[{index}]", "message": f"{name!r} is not a field"})
        resolved.append(key)
    if not address_fields or details:
        raise ValidationFailed(
            "Name the fields that hold the address.",
            details=details or [{"field": "address_fields", "message": "is required"}],
        )
    return enqueue_job(
        GEOCODE_KIND,
        "narrative.records.importing.jobs.geocode_recordset",
        str(recordset.id),
        resolved,
        workspace_id=workspace_id,
        user_id=user_id,
        timeout=6 * 3600,
        description=f"Geocoding of recordset {recordset.id}",
    )


# --- listing and managing jobs --------------------------------------------------------------------


def normalise_status(status):
    if not status:
        return None
    value = STATUS_ALIASES.get(status.strip().lower())
    if value is None:
        raise ValidationFailed("Unknown status.", details=[{"field": "status", "message": "unknown status"}])
    return value


def jobs_query(*, kinds, status=None):
    query = sa.select(Job).where(Job.kind.in_(kinds))
    if status:
        query = query.where(Job.status == normalise_status(status))
    return query


def kinds_for(job_type):
    if not job_type:
        return tuple(JOB_TYPES.values())
    kind = JOB_TYPES.get(job_type.strip().lower())
    if kind is None:
        raise ValidationFailed(
            "Unknown job type.", details=[{"field": "job_type", "message": "import or export"}]
        )
    return (kind,)


def get_workspace_job(job_id, *, kinds):
    job = platform_jobs.get_job(job_id)
    if job.kind not in kinds:
        raise NotFound("Job not found.")
    return job


def cancel_all(*, kinds):
    active = db.session.scalars(
        sa.select(Job).where(Job.kind.in_(kinds), Job.status.in_(platform_jobs.ACTIVE_STATUSES))
    ).all()
    for job in active:
        platform_jobs.cancel_job(job)
    return [job.id for job in active]


def delete_job(job):
    if not job.is_terminal:
        raise Conflict(
            "Only completed, failed or cancelled jobs can be deleted; cancel it first.", code="job_active"
        )
    record_import = import_for_job(job)
    if record_import is not None:
        record_import.job_id = None  # the import's rows and report stay; only the history entry goes
    db.session.delete(job)


def job_details(job):
    """The job as the API shows it, with the import's counts and a fresh report link for imports."""
    body = platform_jobs.job_to_dict(job)
    body["job_id"] = job.id
    body["job_type"] = {IMPORT_KIND: "import", EXPORT_KIND: "export", GEOCODE_KIND: "geocode"}.get(
        job.kind, job.kind
    )
    record_import = import_for_job(job) if job.kind == IMPORT_KIND else None
    if record_import is not None:
        body.update(
            recordset_id=str(record_import.recordset_id),
            rows_total=record_import.rows_total,
            rows_processed=record_import.rows_committed,
            rows_imported=record_import.rows_imported,
            rows_failed=record_import.rows_failed,
            validation_summary={
                "valid_rows": record_import.rows_imported,
                "invalid_rows": record_import.rows_failed,
            },
            error_report_url=error_report_url(record_import),
        )
    return body
