"""Import, export and geocoding endpoints (catalog area "Recordset Import").

Uploads are analysed at once; imports, exports and geocoding run as jobs with live progress at
`.../jobs/{job_id}/stream`. The import and export job streams and the direct-upload PUT are beyond
the catalog (registered on `extra`, kept out of the OpenAPI document).
"""

import flask
from flask import request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from narrative.identity.access import current_user_id, require
from narrative.platform.api import Blueprint
from narrative.platform.errors import Forbidden
from narrative.platform.jobs import Job
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.sse import job_stream_response
from narrative.platform.storage import LinkExpired, verify_download
from narrative.platform.tenancy import all_workspaces, current_workspace_id, workspace_scope
from narrative.records.importing import service
from narrative.records.importing.schemas import (
    AnalysisSchema,
    FileUriSchema,
    GeocodeJobListArgs,
    GeocodeRequestSchema,
    ImportCancelAllSchema,
    ImportExistingSchema,
    ImportJobSchema,
    ImportNewSchema,
    ImportReportUrlSchema,
    ImportStartedSchema,
    ImportUploadSchema,
    JobListArgs,
    RecordsetExportRequestSchema,
    RecordsJobStartedSchema,
    SignedQuerySchema,
    SignedUploadRequestSchema,
    SignedUploadSchema,
)

blp = Blueprint("records_import", __name__, description="Imports, exports and geocoding of recordsets")
extra = flask.Blueprint("records_import_extra", __name__)

IMPORT_EXPORT = (service.IMPORT_KIND, service.EXPORT_KIND)
GEOCODE = (service.GEOCODE_KIND,)
DIRECT_UPLOAD_SECONDS = 3600
DIRECT_UPLOAD_SALT = "narrative.records.direct-upload"


def _started(job, stream_path, **extra_fields):
    return {
        "job_id": job.id,
        "status": job.status,
        "stream_url": stream_path.format(job_id=job.id),
        **extra_fields,
    }


# --- uploads -------------------------------------------------------------------------------------


@blp.route("/api/v1/import/upload", methods=["POST"])
@blp.operation("core.recordset-import.upload")
@require("records.write")
@blp.arguments(ImportUploadSchema, location="files")
@blp.response(200, AnalysisSchema)
def upload(files):
    """Upload a CSV/Excel/GeoJSON/JSON file and analyze its headers"""
    _, analysis = service.upload_file(
        workspace_id=current_workspace_id(), user_id=current_user_id(), upload=files["file"]
    )
    return analysis


@blp.route("/api/v1/import/upload/analyze", methods=["POST"])
@blp.operation("core.recordset-import.analyze-upload")
@require("records.read")
@blp.arguments(FileUriSchema)
@blp.response(200, AnalysisSchema)
def analyze_upload(payload):
    """Analyze headers/types for an already-uploaded file URI"""
    return service.analyze_file(service.stored_file_from_uri(payload["file_uri"]))


def _upload_serializer():
    return URLSafeTimedSerializer(flask.current_app.config["SECRET_KEY"], salt=DIRECT_UPLOAD_SALT)


@blp.route("/api/v1/import/upload/signed-url", methods=["POST"])
@blp.operation("core.recordset-import.upload-signed-url")
@require("records.write")
@blp.arguments(SignedUploadRequestSchema)
@blp.response(200, SignedUploadSchema)
def upload_signed_url(payload):
    """Create a signed URL for direct browser upload (PUT the bytes; the answer is the analysis)"""
    token = _upload_serializer().dumps(
        {"w": str(current_workspace_id()), "u": str(current_user_id()), "f": payload["filename"][:200]}
    )
    return {
        "upload_url": f"/api/v1/import/upload/direct/{token}",
        "method": "PUT",
        "expires_in": DIRECT_UPLOAD_SECONDS,
    }


@extra.route("/api/v1/import/upload/direct/<token>", methods=["PUT", "POST"])
def direct_upload(token):
    """The signed direct upload: the body is the file; no auth header, the token is the authority."""
    import uuid

    try:
        claims = _upload_serializer().loads(token, max_age=DIRECT_UPLOAD_SECONDS)
    except SignatureExpired:
        raise LinkExpired("This upload link has expired; ask for a new one.") from None
    except BadSignature:
        raise Forbidden("This upload link is not valid.", code="invalid_signature") from None

    class _Body:
        filename = claims["f"]
        read = request.stream.read

    # No caller: the signed token names the workspace the file is stored in.
    with workspace_scope(claims["w"]):
        _, analysis = service.upload_file(
            workspace_id=uuid.UUID(claims["w"]), user_id=uuid.UUID(claims["u"]), upload=_Body()
        )
        return AnalysisSchema().dump(analysis)


# --- imports, exports, geocoding -------------------------------------------------------------------


@blp.route("/api/v1/import", methods=["POST"])
@blp.operation("core.recordset-import.create-recordset-and-import")
@require("recordsets.manage")
@blp.arguments(ImportNewSchema)
@blp.response(200, ImportStartedSchema)
def create_recordset_and_import(payload):
    """Create a recordset and start async import from the uploaded file"""
    recordset, job, _ = service.start_import_into_new_recordset(
        workspace_id=current_workspace_id(),
        user_id=current_user_id(),
        uri=payload["file_uri"],
        schema=payload["schema"],
        name=payload["name"],
        icon=payload["icon"],
        description=payload["description"],
    )
    return _started(job, "/api/v1/import/jobs/{job_id}/stream", recordset_id=str(recordset.id))


@blp.route("/api/v1/import/recordsets/<recordset_id>", methods=["POST"])
@blp.operation("core.recordset-import.import-into-recordset")
@require("records.write")
@blp.arguments(ImportExistingSchema)
@blp.response(200, ImportStartedSchema)
def import_into_recordset(payload, recordset_id):
    """Import records from an uploaded file into an existing recordset"""
    recordset, job, _ = service.start_import_into_recordset(
        workspace_id=current_workspace_id(),
        user_id=current_user_id(),
        recordset_id=recordset_id,
        uri=payload["file_uri"],
        field_mappings=payload["field_mappings"],
    )
    return _started(job, "/api/v1/import/jobs/{job_id}/stream", recordset_id=str(recordset.id))


@blp.route("/api/v1/export/jobs", methods=["POST"])
@blp.operation("core.recordset-import.create-export")
@require("records.read")
@blp.arguments(RecordsetExportRequestSchema)
@blp.response(200, RecordsJobStartedSchema)
def create_export(payload):
    """Create an export job for a recordset (CSV, XLSX or GeoJSON)"""
    job = service.start_export(
        workspace_id=current_workspace_id(),
        user_id=current_user_id(),
        recordset_id=payload["recordset_id"],
        file_format=payload["format"],
    )
    return _started(job, "/api/v1/import/jobs/{job_id}/stream")


@blp.route("/api/v1/geocode/jobs", methods=["POST"])
@blp.operation("core.recordset-import.start-geocode")
@require("records.write")
@blp.arguments(GeocodeRequestSchema)
@blp.response(200, RecordsJobStartedSchema)
def start_geocode(payload):
    """Start an async geocoding job for a recordset"""
    job = service.start_geocoding(
        workspace_id=current_workspace_id(),
        user_id=current_user_id(),
        recordset_id=payload["recordset_id"],
        address_fields=payload["address_fields"],
    )
    return _started(job, "/api/v1/geocode/jobs/{job_id}/stream")


# --- jobs ------------------------------------------------------------------------------------------


def _list(args, kinds):
    status = args.pop("status", None)
    args.pop("job_type", None)
    query = service.jobs_query(kinds=kinds, status=status)
    page = paginate(query, args, style="page", order_by=[Job.created_at.desc()])
    page.items = [service.job_details(job) for job in page.items]
    return page


@blp.route("/api/v1/import/jobs")
@blp.operation("core.recordset-import.list-jobs")
@require("records.read")
@blp.arguments(JobListArgs, location="query")
@blp.response(200, page_schema(ImportJobSchema, "page"))
def list_jobs(args):
    """List all import/export jobs for the current workspace, newest first"""
    return _list(args, service.kinds_for(args.get("job_type")))


@blp.route("/api/v1/geocode/jobs")
@blp.operation("core.recordset-import.list-geocode-jobs")
@require("records.read")
@blp.arguments(GeocodeJobListArgs, location="query")
@blp.response(200, page_schema(ImportJobSchema, "page"))
def list_geocode_jobs(args):
    """List geocoding jobs for the current workspace"""
    return _list(args, GEOCODE)


def _job(job_id, kinds=IMPORT_EXPORT):
    return service.get_workspace_job(job_id, kinds=kinds)


@blp.route("/api/v1/import/jobs/<job_id>")
@blp.operation("core.recordset-import.get-job")
@require("records.read")
@blp.response(200, ImportJobSchema)
def get_job(job_id):
    """Get detailed information about a specific import/export job"""
    return service.job_details(_job(job_id))


@blp.route("/api/v1/import/<job_id>/status")
@blp.operation("core.recordset-import.legacy-job-status")
@require("records.read")
@blp.response(200, ImportJobSchema)
def legacy_job_status(job_id):
    """Get the status of an import job (legacy endpoint; /import/jobs/{job_id} has more)"""
    return service.job_details(_job(job_id))


@blp.route("/api/v1/geocode/jobs/<job_id>")
@blp.operation("core.recordset-import.get-geocode-job")
@require("records.read")
@blp.response(200, ImportJobSchema)
def get_geocode_job(job_id):
    """Get the status of a geocoding job"""
    return service.job_details(_job(job_id, GEOCODE))


@blp.route("/api/v1/geocode/jobs/<job_id>/stream")
@blp.operation("core.recordset-import.geocode-job-stream")
@require("records.read")
@blp.response(200, description="Server-Sent Events: progress frames until the job ends")
def geocode_job_stream(job_id):
    """Stream geocoding job progress via Server-Sent Events (SSE)"""
    return job_stream_response(_job(job_id, GEOCODE), last_event_id=request.headers.get("Last-Event-ID"))


@extra.route("/api/v1/import/jobs/<job_id>/stream")
@require("records.read")
def import_job_stream(job_id):
    """Progress of an import or export job as Server-Sent Events, closing when it ends."""
    return job_stream_response(_job(job_id), last_event_id=request.headers.get("Last-Event-ID"))


@extra.route("/api/v1/export/jobs/<job_id>/stream")
@require("records.read")
def export_job_stream(job_id):
    return job_stream_response(_job(job_id), last_event_id=request.headers.get("Last-Event-ID"))


@blp.route("/api/v1/import/jobs/<job_id>/report-url")
@blp.operation("core.recordset-import.error-report-url")
@require("records.read")
@blp.response(200, ImportReportUrlSchema)
def error_report_url(job_id):
    """Get a fresh signed URL for downloading the job's error report"""
    url = service.error_report_url(service.import_for_job(_job(job_id)))
    if url is None:
        from narrative.platform.errors import NotFound

        raise NotFound("This job has no error report.")
    return {"url": url, "error_report_url": url, "expires_in": service.REPORT_URL_SECONDS}


@blp.route("/api/v1/import/error-reports/<job_id>")
@blp.operation("core.recordset-import.download-error-report")
@require(public=True)
@blp.arguments(SignedQuerySchema, location="query")
@blp.response(200, description="The error report CSV: row_number, column, value, reason")
def download_error_report(args, job_id):
    """Public endpoint to download an import error report (signed, expiring link)"""
    from narrative.files.routes import download

    with all_workspaces():  # a public link: its signature, checked next, grants the report
        stored = service.report_file_for_job(job_id)
    verify_download(stored.id, exp=args["exp"], sig=args["sig"])
    return download(stored.id)


@blp.route("/api/v1/import/jobs/cancel-all", methods=["POST"])
@blp.operation("core.recordset-import.cancel-all-jobs")
@require("records.write")
@blp.response(200, ImportCancelAllSchema)
def cancel_all_jobs():
    """Cancel all active (pending/queued/running/processing) import/export jobs"""
    job_ids = service.cancel_all(kinds=IMPORT_EXPORT)
    return {"cancelled": len(job_ids), "job_ids": job_ids}


@blp.route("/api/v1/import/jobs/<job_id>/cancel", methods=["POST"])
@blp.operation("core.recordset-import.cancel-job")
@require("records.write")
@blp.response(200, ImportJobSchema)
def cancel_job(job_id):
    """Cancel a queued or running import/export job"""
    from narrative.platform.jobs import cancel_job as cancel

    job = cancel(_job(job_id))
    return service.job_details(job)


@blp.route("/api/v1/import/jobs/<job_id>", methods=["DELETE"])
@blp.operation("core.recordset-import.delete-job")
@require("records.write")
@blp.response(204)
def delete_job(job_id):
    """Delete a completed/failed/cancelled job from history"""
    service.delete_job(_job(job_id))
