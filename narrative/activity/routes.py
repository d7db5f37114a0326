"""Activity feed endpoints: the feed, its stats, and exports as jobs with signed downloads."""

import uuid

import flask
import sqlalchemy as sa
from flask import Response

from narrative.activity import jobs, service
from narrative.activity.schemas import (
    ActivitySchema,
    DownloadUrlSchema,
    ExportJobListArgs,
    ExportJobSchema,
    ExportRequestSchema,
    ExportStartedSchema,
    FeedArgs,
)
from narrative.extensions import db
from narrative.identity.access import current_user, require
from narrative.identity.permissions import register_permissions
from narrative.platform.api import Blueprint
from narrative.platform.errors import Conflict, NotFound
from narrative.platform.jobs import Job, enqueue_job, get_job, job_to_dict
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.sse import job_stream_response
from narrative.platform.storage import StoredFile, open_file, signed_download_url
from narrative.platform.tenancy import current_workspace_id

register_permissions("activity", {"activity.read": "View the workspace's activity feed and export it"})

blp = Blueprint("activity", __name__, description="The activity feed: who did what, when")
DOWNLOAD_LINK_SECONDS = 3600


@blp.route("/api/v1/activity/feed")
@blp.operation("core.activity.feed")
@require("activity.read")
@blp.arguments(FeedArgs, location="query")
@blp.response(200, page_schema(ActivitySchema, "offset"))
def feed(args):
    """The workspace's activity, newest first (types, search, dates, scope, user_ids, team_ids)"""
    page_keys = {"limit": args.pop("limit"), "offset": args.pop("offset")}
    stmt = service.feed_query(user_id=current_user().id, filters=args)
    page = paginate(
        stmt,
        page_keys,
        style="offset",
        max_limit=100,
        default_limit=20,
        order_by=[service.Activity.created_at.desc()],
    )
    actors = service.actors_of(page.items)
    page.items = [service.activity_dict(row, actors) for row in page.items]
    return page


@blp.route("/api/v1/activity/stats")
@blp.operation("core.activity.stats")
@require("activity.read")
def stats():
    """Counts by type and by day (last 30 days), total and most active people"""
    return service.stats()


def _export_job(job_id):
    job = get_job(job_id)
    if job.kind != jobs.EXPORT_KIND or job.user_id != current_user().id:
        raise NotFound("Job not found.")
    return job


def _job_body(job):
    body = job_to_dict(job)
    body["job_id"] = job.id
    output = None
    if job.status == "COMPLETED" and job.result:
        output = {**job.result, "download_url": _signed_url(job)}
    body["output_data"] = output
    return body


def _stored_file(job):
    if job.status != "COMPLETED" or not job.result:
        raise Conflict("The export is not finished yet.", code="export_not_ready")
    return db.session.get(StoredFile, uuid.UUID(job.result["file_id"]))


def _signed_url(job):
    return signed_download_url(_stored_file(job), expires_in=DOWNLOAD_LINK_SECONDS)


@blp.route("/api/v1/activity/export", methods=["POST"])
@blp.operation("core.activity.start-export")
@require("activity.read")
@blp.arguments(ExportRequestSchema)
@blp.response(200, ExportStartedSchema)
def start_export(payload):
    """Start exporting the (filtered) feed as CSV or JSON lines; returns the job id at once"""
    file_format = payload.pop("format")
    filters = {
        k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in payload.items() if v is not None
    }
    workspace_id, user = current_workspace_id(), current_user()
    service.feed_query(user_id=user.id, filters=payload)  # the people and teams it names are checked now
    job = enqueue_job(
        jobs.EXPORT_KIND,
        "narrative.activity.jobs.run_export",
        str(workspace_id),
        str(user.id),
        filters,
        file_format,
        workspace_id=workspace_id,
        user_id=user.id,
        queue="low",
        timeout=1800,
    )
    return {
        "job_id": job.id,
        "status": job.status,
        "stream_url": f"/api/v1/activity/export/jobs/{job.id}/stream",
    }


@blp.route("/api/v1/activity/export/jobs")
@blp.operation("core.activity.list-export-jobs")
@require("activity.read")
@blp.arguments(ExportJobListArgs, location="query")
@blp.response(200, page_schema(ExportJobSchema, "offset"))
def list_export_jobs(args):
    """Your activity exports, newest first"""
    stmt = sa.select(Job).where(Job.user_id == current_user().id, Job.kind == jobs.EXPORT_KIND)
    page = paginate(stmt, args, style="offset", order_by=[Job.created_at.desc()])
    page.items = [_job_body(job) for job in page.items]
    return page


@blp.route("/api/v1/activity/export/jobs/<job_id>")
@blp.operation("core.activity.get-export-job")
@require("activity.read")
@blp.response(200, ExportJobSchema)
def get_export_job(job_id):
    """An export's status; output_data holds the download URL once it is complete"""
    return _job_body(_export_job(job_id))


# Beyond the catalog (kept out of the OpenAPI document, which lists catalog entries only).
extra = flask.Blueprint("activity_extra", __name__)


@extra.route("/api/v1/activity/export/jobs/<job_id>/stream")
@require("activity.read")
def stream_export_job(job_id):
    """Progress of an export as Server-Sent Events (rows_written / rows_total), closing when it ends"""
    return job_stream_response(_export_job(job_id))


@blp.route("/api/v1/activity/export/jobs/<job_id>/download-url")
@blp.operation("core.activity.get-export-download-url")
@require("activity.read")
@blp.response(200, DownloadUrlSchema)
def get_download_url(job_id):
    """A signed link to the export file, valid for an hour, usable without logging in"""
    job = _export_job(job_id)
    url = _signed_url(job)
    return {
        "download_url": url,
        "url": url,
        "expires_in": DOWNLOAD_LINK_SECONDS,
        "filename": job.result["filename"],
    }


@blp.route("/api/v1/activity/export/jobs/<job_id>/download")
@blp.operation("core.activity.download-export")
@require("activity.read")
@blp.response(200, description="The export file (CSV or JSON lines)")
def download(job_id):
    """Download the export file directly"""
    stored = _stored_file(_export_job(job_id))
    handle = open_file(stored)
    mimetype = "text/csv" if stored.filename.endswith(".csv") else "application/x-ndjson"
    return Response(
        iter(lambda: handle.read(64 * 1024), b""),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{stored.filename}"'},
    )
