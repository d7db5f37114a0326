"""Records and recordsets endpoints (core's Records, Recordsets, CRUD - Records, CRUD - Recordsets
and CRUD - Record Attachments sections). Routes are thin: access checks and a service call; the
request's unit of work commits (narrative.platform.unit_of_work)."""

import flask
import sqlalchemy as sa
from flask import Response, stream_with_context
from flask.views import MethodView

from narrative.extensions import db
from narrative.identity.access import current_user_id, require
from narrative.platform.api import Blueprint
from narrative.platform.errors import Forbidden, NotFound, ValidationFailed
from narrative.platform.jobs import enqueue_job
from narrative.platform.pagination import page_schema, paginate
from narrative.platform.tenancy import current_workspace_id, resolve_reference, tenant_select
from narrative.records import (
    access,
    geo,
    permissions,  # noqa: F401  (registers the permissions)
    pipeline,
    related,
    service,
    sharing,
)
from narrative.records.fields import slugify_key
from narrative.records.filters import (
    FilterError,
    compile_filter,
    compile_sorts,
    parse_json_argument,
    search_clause,
)
from narrative.records.models import ACTIVE, Record, Recordset, RecordView
from narrative.records.schemas import (
    AttachmentListSchema,
    AttachmentSchema,
    AttachmentUploadSchema,
    BulkDeleteResultSchema,
    BulkDeleteSchema,
    CommentListSchema,
    CommentSchema,
    CountSyncSchema,
    CrudRecordListArgs,
    DismissArgs,
    EnableMapSchema,
    GrantListSchema,
    GrantSchema,
    HistoryListSchema,
    MapBackfillStartedSchema,
    MapStreamArgs,
    PermissionsSchema,
    PipelineCreateSchema,
    PipelineLinkSchema,
    RecordCreateSchema,
    RecordListArgs,
    RecordReplaceSchema,
    RecordSchema,
    RecordsetCreateSchema,
    RecordsetListArgs,
    RecordsetReplaceSchema,
    RecordsetSchema,
    RecordsetUpdateSchema,
    RecordUpdateSchema,
    RelationshipCreateSchema,
    RelationshipListSchema,
    RelationshipSchema,
    ResyncSchema,
    SpatialFilterResultSchema,
    SpatialFilterSchema,
    TrashListArgs,
    ViewListSchema,
    ViewSchema,
    ViewUpdateSchema,
)

blp = Blueprint("records", __name__, description="Recordsets (typed tables) and their records")

# --- lookups -------------------------------------------------------------------------------------


def _with_count(recordset):
    recordset.record_count = service.count_records(recordset)
    return recordset


# --- recordsets ----------------------------------------------------------------------------------


def _list_recordsets(args, *, trashed=False):
    stmt = tenant_select(Recordset).where(access.visible_recordsets_clause())
    if trashed:
        stmt = stmt.where(Recordset.is_active.is_(False))
    else:
        stmt = stmt.where(Recordset.is_active.is_(args.get("is_active", True)))
    if args.get("search"):
        needle = args["search"].lower()
        stmt = stmt.where(
            sa.or_(sa.func.lower(Recordset.name).contains(needle), Recordset.slug.contains(needle))
        )
    if args.get("type"):
        stmt = stmt.where(Recordset.type == args["type"])
    return paginate(stmt, args, style="page", order_by=[Recordset.name, Recordset.created_at])


@blp.route("/api/v1/recordsets", methods=["GET"])
@blp.operation("core.recordsets.list")
@require("records.read")
@blp.arguments(RecordsetListArgs, location="query")
@blp.response(200, page_schema(RecordsetSchema, "page"))
def list_recordsets(args):
    """Recordsets the caller can see (admins: all; others: owned or granted), page/page_size"""
    return _list_recordsets(args)


@blp.route("/api/v1/crud/recordsets", methods=["GET"])
@blp.operation("core.crud-recordsets.list")
@require("records.read")
@blp.arguments(RecordsetListArgs, location="query")
@blp.response(200, page_schema(RecordsetSchema, "page"))
def crud_list_recordsets(args):
    """Recordsets of the workspace with their record counts, page/page_size"""
    return _list_recordsets(args)


@blp.route("/api/v1/recordsets/trash", methods=["GET"])
@blp.operation("core.recordsets.list-trash")
@require("recordsets.manage")
@blp.arguments(TrashListArgs, location="query")
@blp.response(200, page_schema(RecordsetSchema, "page"))
def list_trash(args):
    """Trashed recordsets (purged after 30 days)"""
    return _list_recordsets(args, trashed=True)


def _create_recordset(payload):
    recordset = service.create_recordset(
        workspace_id=current_workspace_id(), user_id=current_user_id(), **payload
    )
    return recordset


@blp.route("/api/v1/recordsets", methods=["POST"])
@blp.operation("core.recordsets.create")
@require("recordsets.manage")
@blp.arguments(RecordsetCreateSchema)
@blp.response(201, RecordsetSchema)
def create_recordset(payload):
    """Create a recordset (slug from the name when absent; fixed afterwards)"""
    return _create_recordset(payload)


@blp.route("/api/v1/crud/recordsets", methods=["POST"])
@blp.operation("core.crud-recordsets.create")
@require("recordsets.manage")
@blp.arguments(RecordsetCreateSchema)
@blp.response(201, RecordsetSchema)
def crud_create_recordset(payload):
    """Create a recordset"""
    return _create_recordset(payload)


@blp.route("/api/v1/crud/recordsets/sync-counts", methods=["POST"])
@blp.operation("core.crud-recordsets.sync-counts")
@require("recordsets.manage")
@blp.response(200, CountSyncSchema)
def sync_counts():
    """Recompute every recordset's record counter in one UPDATE"""
    updated = service.sync_record_counts(workspace_id=current_workspace_id())
    return {"updated": updated}


def _update_recordset(recordset, payload):
    access.check(recordset, "can_admin")
    force = payload.pop("force", False)
    fields = payload.pop("fields", None)
    if fields is not None:
        _apply_fields(recordset, fields, force=force)
    service.update_recordset(recordset, user_id=current_user_id(), changes=payload)
    return _with_count(recordset)


def _apply_fields(recordset, fields, *, force):
    """The full field list: changed fields migrate their data (force clears what cannot convert)."""
    current = {spec["key"]: spec for spec in recordset.fields}
    for spec in fields:
        key = spec.get("key")
        if key in current:
            service.update_field(recordset, key=key, changes=spec, user_id=current_user_id(), force=force)
    keys = {spec.get("key") for spec in fields}
    for key in list(current):
        if key not in keys:
            service.remove_field(recordset, key=key, user_id=current_user_id())
    for position, spec in enumerate(fields):
        if spec.get("key") not in current:
            service.add_field(recordset, spec=spec, user_id=current_user_id(), position=position)
    order = [spec.get("key") or slugify_key(spec.get("name")) for spec in fields]
    by_key = {spec["key"]: spec for spec in recordset.fields}
    recordset.fields = [by_key[key] for key in order if key in by_key] + [
        spec for spec in recordset.fields if spec["key"] not in order
    ]


@blp.route("/api/v1/recordsets/<recordset_slug>")
class RecordsetBySlug(MethodView):
    @blp.operation("core.recordsets.get")
    @require("records.read")
    @blp.response(200, RecordsetSchema)
    def get(self, recordset_slug):
        """One recordset with an accurate record count"""
        recordset = access.recordset_by_slug(recordset_slug)
        access.check(recordset, "can_view")
        return _with_count(recordset)

    @blp.operation("core.recordsets.update")
    @require("records.read")
    @blp.arguments(RecordsetUpdateSchema)
    @blp.response(200, RecordsetSchema)
    def patch(self, payload, recordset_slug):
        """Update a recordset (never its slug); field changes migrate the data"""
        return _update_recordset(access.recordset_by_slug(recordset_slug), payload)

    @blp.operation("core.recordsets.delete")
    @require("records.read")
    @blp.response(204)
    def delete(self, recordset_slug):
        """Move a recordset to the trash (restorable for 30 days)"""
        recordset = access.recordset_by_slug(recordset_slug)
        access.check(recordset, "can_admin")
        service.trash_recordset(recordset, user_id=current_user_id())


@blp.route("/api/v1/crud/recordsets/<recordset_id>")
class RecordsetById(MethodView):
    @blp.operation("core.crud-recordsets.get")
    @require("records.read")
    @blp.response(200, RecordsetSchema)
    def get(self, recordset_id):
        """One recordset by id with its record count"""
        recordset = access.recordset_by_id(recordset_id)
        access.check(recordset, "can_view")
        return _with_count(recordset)

    @blp.operation("core.crud-recordsets.replace")
    @require("records.read")
    @blp.arguments(RecordsetReplaceSchema)
    @blp.response(200, RecordsetSchema)
    def put(self, payload, recordset_id):
        """Replace a recordset's settings and field list"""
        return _update_recordset(access.recordset_by_id(recordset_id), payload)

    @blp.operation("core.crud-recordsets.update")
    @require("records.read")
    @blp.arguments(RecordsetUpdateSchema)
    @blp.response(200, RecordsetSchema)
    def patch(self, payload, recordset_id):
        """Update a recordset (only the attributes sent)"""
        return _update_recordset(access.recordset_by_id(recordset_id), payload)

    @blp.operation("core.crud-recordsets.delete")
    @require("records.read")
    @blp.response(204)
    def delete(self, recordset_id):
        """Delete a recordset with all its records (no trash)"""
        recordset = access.recordset_by_id(recordset_id)
        access.check(recordset, "can_admin")
        service.delete_recordset_permanently(recordset, user_id=current_user_id())


@blp.route("/api/v1/recordsets/trash/<recordset_slug>/restore", methods=["POST"])
@blp.operation("core.recordsets.restore")
@require("recordsets.manage")
@blp.response(200, RecordsetSchema)
def restore_recordset(recordset_slug):
    """Bring a recordset back from the trash"""
    recordset = access.recordset_by_slug(recordset_slug, trashed=True)
    service.restore_recordset(recordset, user_id=current_user_id())
    return _with_count(recordset)


@blp.route("/api/v1/recordsets/trash/<recordset_slug>", methods=["DELETE"])
@blp.operation("core.recordsets.delete-permanently")
@require("recordsets.manage")
@blp.response(204)
def delete_permanently(recordset_slug):
    """Delete a trashed recordset and all its records for good"""
    recordset = access.recordset_by_slug(recordset_slug, trashed=True)
    service.delete_recordset_permanently(recordset, user_id=current_user_id())


@blp.route("/api/v1/recordsets/<recordset_slug>/permissions/me", methods=["GET"])
@blp.operation("core.recordsets.my-permissions")
@require()
@blp.response(200, PermissionsSchema)
def my_permissions(recordset_slug):
    """What the caller may do on this recordset"""
    recordset = access.recordset_by_slug(recordset_slug)
    return {"level": access.grant_level(recordset), **access.capabilities(recordset)}


# --- grants --------------------------------------------------------------------------------------


@blp.route("/api/v1/recordsets/<recordset_slug>/grants", methods=["GET"])
@blp.operation("core.recordsets.list-grants")
@require("records.read")
@blp.response(200, GrantListSchema)
def list_grants(recordset_slug):
    """Members and teams this recordset is shared with"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_admin")
    return {"items": sharing.list_grants(recordset)}


@blp.route("/api/v1/recordsets/<recordset_slug>/grants", methods=["POST"])
@blp.operation("core.recordsets.grant-access")
@require("records.read")
@blp.arguments(GrantSchema)
@blp.response(201, GrantSchema)
def grant_access(payload, recordset_slug):
    """Share the recordset with a member or a team (exactly one) at view, edit or admin level"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_admin")
    grant = sharing.grant_access(
        recordset,
        member_id=payload.get("member_id"),
        team_id=payload.get("team_id"),
        level=payload["level"],
        granted_by_id=current_user_id(),
    )
    return grant


@blp.route("/api/v1/recordsets/<recordset_slug>/grants/members/<member_id>", methods=["DELETE"])
@blp.operation("core.recordsets.revoke-member")
@require("records.read")
@blp.response(204)
def revoke_member(recordset_slug, member_id):
    """Stop sharing the recordset with a member"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_admin")
    sharing.revoke(recordset, member_id=member_id)


@blp.route("/api/v1/recordsets/<recordset_slug>/grants/teams/<team_id>", methods=["DELETE"])
@blp.operation("core.recordsets.revoke-team")
@require("records.read")
@blp.response(204)
def revoke_team(recordset_slug, team_id):
    """Stop sharing the recordset with a team"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_admin")
    sharing.revoke(recordset, team_id=team_id)


# --- views ---------------------------------------------------------------------------------------


@blp.route("/api/v1/recordsets/<recordset_slug>/views", methods=["GET"])
@blp.operation("core.recordsets.list-views")
@require("records.read")
@blp.response(200, ViewListSchema)
def list_views(recordset_slug):
    """Saved views of the recordset (filters, sorts, visible fields, grouping)"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_view")
    return {"items": sharing.list_views(recordset)}


@blp.route("/api/v1/recordsets/<recordset_slug>/views", methods=["POST"])
@blp.operation("core.recordsets.create-view")
@require("records.write")
@blp.arguments(ViewSchema)
@blp.response(201, ViewSchema)
def create_view(payload, recordset_slug):
    """Save a view; its filter uses the records filter language"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_edit")
    view = sharing.create_view(recordset, user_id=current_user_id(), settings=payload)
    return view


@blp.route("/api/v1/recordsets/<recordset_slug>/views/<view_id>")
class ViewItem(MethodView):
    @blp.operation("core.recordsets.update-view")
    @require("records.write")
    @blp.arguments(ViewUpdateSchema)
    @blp.response(200, ViewSchema)
    def patch(self, payload, recordset_slug, view_id):
        """Change a saved view"""
        recordset = access.recordset_by_slug(recordset_slug)
        access.check(recordset, "can_edit")
        view = sharing.update_view(recordset, sharing.get_view(recordset, view_id), changes=payload)
        return view

    @blp.operation("core.recordsets.delete-view")
    @require("records.write")
    @blp.response(204)
    def delete(self, recordset_slug, view_id):
        """Delete a saved view"""
        recordset = access.recordset_by_slug(recordset_slug)
        access.check(recordset, "can_edit")
        sharing.delete_view(recordset, sharing.get_view(recordset, view_id))


# --- pipeline, map -------------------------------------------------------------------------------


@blp.route("/api/v1/recordsets/<recordset_id>/pipeline", methods=["GET"])
@blp.operation("core.recordsets.get-pipeline")
@require("records.read")
@blp.response(200, PipelineLinkSchema)
def get_pipeline(recordset_id):
    """The recordset's pipeline: stages with their record counts"""
    recordset = access.recordset_by_id(recordset_id)
    access.check(recordset, "can_view")
    return pipeline.pipeline_summary(recordset)


@blp.route("/api/v1/recordsets/<recordset_id>/pipeline", methods=["POST"])
@blp.operation("core.recordsets.create-pipeline")
@require("records.read")
@blp.arguments(PipelineCreateSchema)
@blp.response(201, PipelineLinkSchema)
def create_pipeline(payload, recordset_id):
    """Make a single-select field the recordset's pipeline stages"""
    recordset = access.recordset_by_id(recordset_id)
    access.check(recordset, "can_admin")
    summary = pipeline.create_pipeline(recordset, stage_field=payload["stage_field"])
    return summary


@blp.route("/api/v1/recordsets/<recordset_id>/enable-map", methods=["POST"])
@blp.operation("core.recordsets.enable-map")
@require("records.read")
@blp.arguments(EnableMapSchema)
@blp.response(200, MapBackfillStartedSchema)
def enable_map(payload, recordset_id):
    """Store the GIS field mapping, switch the recordset to map mode and backfill coordinates (job)"""
    recordset = access.recordset_by_id(recordset_id)
    access.check(recordset, "can_admin")
    gis = _checked_gis_mapping(recordset, payload)
    recordset.settings = {**(recordset.settings or {}), "gis": gis, "mode": "MAP"}
    job = enqueue_job(
        "records.map_backfill",
        geo.backfill_coordinates_job,
        str(recordset.id),
        workspace_id=recordset.workspace_id,
        user_id=current_user_id(),
        description=f"Place the records of {recordset.name} on the map",
    )
    return {"job_id": job.id, "status": job.status, "mode": "MAP", "gis": gis}


def _checked_gis_mapping(recordset, payload):
    gis = {key: value for key, value in payload.items() if value}
    if not gis:
        point = next((spec["key"] for spec in recordset.fields if spec["type"] == "geo_point"), None)
        if point is None:
            raise ValidationFailed(
                "Name a point field, or a latitude and a longitude field.",
                details=[{"field": "point_field", "message": "required (no geo_point field to default to)"}],
            )
        gis = {"point_field": point}
    if "point_field" not in gis and not ("latitude_field" in gis and "longitude_field" in gis):
        raise ValidationFailed(
            "Give both latitude_field and longitude_field.",
            details=[{"field": "longitude_field", "message": "required"}],
        )
    for key in gis.values():
        if recordset.field(key) is None:
            raise ValidationFailed(
                f"{key!r} is not a field of this recordset.",
                details=[{"field": key, "message": "unknown field"}],
            )
    return gis


@blp.route("/api/v1/recordsets/<recordset_slug>/resync-promoted", methods=["POST"])
@blp.operation("core.recordsets.resync-promoted")
@require("records.read")
@blp.response(200, ResyncSchema)
def resync_promoted(recordset_slug):
    """Recompute the promoted columns (coordinates) of every record from its values"""
    recordset = access.recordset_by_slug(recordset_slug)
    access.check(recordset, "can_admin")
    updated = geo.resync_coordinates(recordset)
    return {"updated": updated}


# --- records: listing ----------------------------------------------------------------------------

LIST_ARGUMENTS = set(RecordListArgs().fields) | {"view_id"}
PAGE_ARGUMENTS = {"page", "page_size"}


def _json_object(args, name):
    value = parse_json_argument(args.get(name), name=name)
    if value is not None and not isinstance(value, dict):
        raise FilterError(f"{name} must be a JSON object", where=name)
    return value or {}


def _list_filters(recordset, args):
    """The list arguments as one filter-language expression (all of them combined with and)."""
    parts, view = [], None
    name = "view_id" if args.get("view_id") else "group_id"
    if args.get(name) and recordset is not None:
        view = resolve_reference(RecordView, args[name], field=name)
        if view.recordset_id != recordset.id:
            raise ValidationFailed(details=[{"field": name, "message": "is a view of another recordset"}])
        if view.filters:
            parts.append(view.filters)
    if args.get("filter"):
        parts.append(parse_json_argument(args["filter"]))
    for key, value in _json_object(args, "column_filters").items():
        if isinstance(value, list):
            parts.append({"field": key, "op": "in", "value": value})
        else:
            parts.append({"field": key, "op": "contains", "value": value})
    for name, low, high in (("date_filters", "from", "to"), ("numeric_filters", "min", "max")):
        for key, bounds in _json_object(args, name).items():
            if not isinstance(bounds, dict):
                raise FilterError(f"{name}.{key} must be an object with {low}/{high}", where=name)
            if bounds.get(low) is not None:
                parts.append({"field": key, "op": "gte", "value": bounds[low]})
            if bounds.get(high) is not None:
                parts.append({"field": key, "op": "lte", "value": bounds[high]})
    if args.get("tags"):
        parts.append(
            {
                "field": "tags",
                "op": "in",
                "value": [tag.strip() for tag in args["tags"].split(",") if tag.strip()],
            }
        )
    # Any other query argument named like a field: equality (?stage=won). Read from the request:
    # the argument parser drops names it does not declare.
    extras = flask.request.args.items() if flask.has_request_context() and args.get("_from_request") else ()
    for key, value in extras:
        if key in LIST_ARGUMENTS or key.startswith("_") or key in PAGE_ARGUMENTS:
            continue
        if recordset is None or recordset.field(key) is None:
            raise FilterError(f"unknown query argument or field {key!r}", where=key)
        parts.append({"field": key, "op": "equals", "value": value})
    return parts, view


def _list_sorts(args, view):
    if args.get("sort"):
        text = args["sort"]
        return (
            parse_json_argument(text, name="sort")
            if text.strip()[:1] in "[{"
            else [s for s in text.split(",") if s]
        )
    if args.get("sort_by"):
        return [{"field": args["sort_by"], "direction": args.get("sort_order") or "asc"}]
    return (view.sorts or []) if view is not None else []


def _tool_status(tool):
    if db.session.get_bind().dialect.name == "postgresql":
        return Record.tool_statuses.op("->>")(tool)
    return sa.func.json_extract(Record.tool_statuses, f'$."{tool}"')


def _records_query(args):
    recordset = access.recordset_by_id_or_slug(args["recordset_id"]) if args.get("recordset_id") else None
    if recordset is not None:
        access.check(recordset, "can_view")
        stmt = sa.select(Record).where(Record.recordset_id == recordset.id)
    else:
        visible = sa.select(Recordset.id).where(
            Recordset.is_active.is_(True), access.visible_recordsets_clause()
        )
        stmt = tenant_select(Record).where(Record.recordset_id.in_(visible))
    status = (args.get("status") or ACTIVE).lower()
    if status != "all":
        stmt = stmt.where(Record.status == status)
    parts, view = _list_filters(recordset, args)
    clause = compile_filter(recordset, parts)
    if clause is not None:
        stmt = stmt.where(clause)
    found = search_clause(recordset, args.get("search"))
    if found is not None:
        stmt = stmt.where(found)
    if args.get("tool"):
        tool_status = _tool_status(args["tool"])
        stmt = stmt.where(tool_status.is_not(None))
        if args.get("exclude_recommendation"):
            stmt = stmt.where(tool_status != args["exclude_recommendation"])
    order = compile_sorts(recordset, _list_sorts(args, view))
    return stmt, [*order, Record.created_at.desc()]


def _only_fields(page, fields):
    """`fields=a,b`: only those field values in each item."""
    if fields:
        keys = {key.strip() for key in fields.split(",") if key.strip()}
        for record in page.items:
            db.session.expunge(record)  # a trimmed copy for the response, never written back
            record.values = {key: value for key, value in record.values.items() if key in keys}
    return page


def _list_records(args):
    args = {**args, "_from_request": True}
    fields = args.pop("fields", None)
    stmt, order = _records_query(args)
    return _only_fields(paginate(stmt, args, style="page", order_by=order), fields)


@blp.route("/api/v1/records", methods=["GET"])
@blp.operation("core.records.list")
@require("records.read")
@blp.arguments(RecordListArgs, location="query")
@blp.response(200, page_schema(RecordSchema, "page"))
def list_records(args):
    """Records of one recordset (or of every recordset the caller can see), filtered with the
    records filter language (`filter` JSON, `field=value`, column/date/numeric filters), sorted,
    page/page_size"""
    return _list_records(args)


@blp.route("/api/v1/crud/records", methods=["GET"])
@blp.operation("core.crud-records.list")
@require("records.read")
@blp.arguments(CrudRecordListArgs, location="query")
@blp.response(200, page_schema(RecordSchema, "page"))
def crud_list_records(args):
    """Records of the workspace (recordset_id, search, status, tags, filter), page/page_size"""
    return _list_records(args)


@blp.route("/api/v1/records/map-stream", methods=["GET"])
@blp.operation("core.records.map-stream")
@require("records.read")
@blp.arguments(MapStreamArgs, location="query")
@blp.alt_response(
    200,
    description='NDJSON: one feature per line, then {"__meta__": {count, truncated}}',
    content_type="application/x-ndjson",
    success=True,
)
def map_stream(args):
    """Stream the recordset's records with a geometry as NDJSON, optionally inside a bbox"""
    recordset = access.recordset_by_id_or_slug(args["recordset_id"])
    access.check(recordset, "can_view")
    stmt = sa.select(Record).where(Record.recordset_id == recordset.id, Record.status == ACTIVE)
    parts, _ = _list_filters(
        recordset, {key: args[key] for key in ("column_filters", "numeric_filters") if key in args}
    )
    clause = compile_filter(recordset, parts)
    if clause is not None:
        stmt = stmt.where(clause)
    if args.get("bbox"):
        west, south, east, north = geo.parse_bbox(args["bbox"])
        stmt = stmt.where(Record.latitude.between(south, north), Record.longitude.between(west, east))
    elif not geo.geometry_field(recordset):
        stmt = stmt.where(Record.latitude.is_not(None))
    fields = [key.strip() for key in (args.get("fields") or "").split(",") if key.strip()]
    types = (args.get("geometry_types") or "").split(",")
    lines = geo.map_features(
        recordset, stmt.order_by(Record.id), fields=fields, geometry_types=types, limit=args.get("limit")
    )
    return Response(stream_with_context(lines), mimetype="application/x-ndjson")


@blp.route("/api/v1/records/spatial-filter", methods=["POST"])
@blp.operation("core.records.spatial-filter")
@require("records.read")
@blp.arguments(SpatialFilterSchema)
@blp.response(200, SpatialFilterResultSchema)
def spatial_filter(payload):
    """Ids of the target recordset's records that match the source recordset's geometries"""
    source = access.recordset_by_id_or_slug(payload["source_recordset_id"])
    target = access.recordset_by_id_or_slug(payload["target_recordset_id"])
    access.check(source, "can_view")
    access.check(target, "can_view")
    ids = geo.spatial_filter(
        source=source,
        target=target,
        operation=payload["operation"],
        buffer_meters=payload.get("buffer_meters"),
    )
    return {"record_ids": ids, "count": len(ids)}


# --- records: writes -----------------------------------------------------------------------------


def _create_record(payload):
    recordset = access.recordset_by_id_or_slug(payload["recordset_id"])
    access.check(recordset, "can_create")
    record = service.create_record(
        recordset=recordset,
        values=payload.get("field_values") or {},
        user_id=current_user_id(),
        owner_id=payload.get("owner_id"),
        tags=payload.get("tags"),
        external_id=payload.get("external_id"),
    )
    return record


@blp.route("/api/v1/records", methods=["POST"])
@blp.operation("core.records.create")
@require("records.write")
@blp.arguments(RecordCreateSchema)
@blp.response(201, RecordSchema)
def create_record(payload):
    """Create a record; field_values are validated per field type"""
    return _create_record(payload)


@blp.route("/api/v1/crud/records", methods=["POST"])
@blp.operation("core.crud-records.create")
@require("records.write")
@blp.arguments(RecordCreateSchema)
@blp.response(201, RecordSchema)
def crud_create_record(payload):
    """Create a record in the current workspace"""
    return _create_record(payload)


@blp.route("/api/v1/records/bulk-delete", methods=["POST"])
@blp.operation("core.records.bulk-delete")
@require("records.delete")
@blp.arguments(BulkDeleteSchema)
@blp.response(200, BulkDeleteResultSchema)
def bulk_delete(payload):
    """Delete the listed records (each checked), or all of a recordset's records with all=true"""
    recordset = access.recordset_by_id_or_slug(payload["recordset_id"])
    if payload["all"]:
        access.check(recordset, "can_delete")
        deleted = service.delete_records(recordset=recordset, all_records=True, user_id=current_user_id())
        return {"deleted": deleted, "failed": []}
    access.check(recordset, "can_view")
    allowed, failed = [], []
    for record_id in payload["record_ids"]:
        try:
            record = service.get_record(record_id)
            if record.recordset_id != recordset.id:
                raise NotFound("Record not found.")
            access.check(recordset, "can_delete", record=record)
            allowed.append(record)
        except (NotFound, Forbidden) as exc:
            failed.append({"record_id": record_id, "error": exc.code, "message": exc.message})
    deleted = service.delete_records(recordset=recordset, records=allowed, user_id=current_user_id())
    return {"deleted": deleted, "failed": failed}


def _update_record(record_id, payload, *, replace):
    record = access.record_or_404(record_id, "can_edit")
    service.update_record(
        record,
        values=payload.get("field_values") or {},
        user_id=current_user_id(),
        replace=replace,
        tags=payload.get("tags"),
        owner_id=payload.get("owner_id"),
    )
    return record


def _delete_record(record_id):
    record = access.record_or_404(record_id, "can_delete")
    service.delete_record(record, user_id=current_user_id())


@blp.route("/api/v1/records/<record_id>")
class RecordItem(MethodView):
    @blp.operation("core.records.get")
    @require("records.read")
    @blp.response(200, RecordSchema)
    def get(self, record_id):
        """One record"""
        return access.record_or_404(record_id)

    @blp.operation("core.records.update")
    @require("records.write")
    @blp.arguments(RecordUpdateSchema)
    @blp.response(200, RecordSchema)
    def patch(self, payload, record_id):
        """Change the fields sent; every change is a new version in the history"""
        return _update_record(record_id, payload, replace=False)

    @blp.operation("core.records.delete")
    @require("records.write")
    @blp.response(204)
    def delete(self, record_id):
        """Delete a record (soft: status deleted, kept in history)"""
        _delete_record(record_id)


@blp.route("/api/v1/crud/records/<record_id>")
class CrudRecordItem(MethodView):
    @blp.operation("core.crud-records.get")
    @require("records.read")
    @blp.response(200, RecordSchema)
    def get(self, record_id):
        """One record"""
        return access.record_or_404(record_id)

    @blp.operation("core.crud-records.replace")
    @require("records.write")
    @blp.arguments(RecordReplaceSchema)
    @blp.response(200, RecordSchema)
    def put(self, payload, record_id):
        """Replace all of a record's field values (a new version)"""
        return _update_record(record_id, payload, replace=True)

    @blp.operation("core.crud-records.update")
    @require("records.write")
    @blp.arguments(RecordUpdateSchema)
    @blp.response(200, RecordSchema)
    def patch(self, payload, record_id):
        """Change only the fields sent"""
        return _update_record(record_id, payload, replace=False)

    @blp.operation("core.crud-records.delete")
    @require("records.write")
    @blp.response(204)
    def delete(self, record_id):
        """Delete a record (soft)"""
        _delete_record(record_id)


@blp.route("/api/v1/records/<record_id>/dismiss", methods=["POST"])
@blp.operation("core.records.dismiss")
@require("records.write")
@blp.arguments(DismissArgs, location="query")
@blp.response(200, RecordSchema)
def dismiss(args, record_id):
    """Clear the record's status for a tool (the record stays)"""
    record = access.record_or_404(record_id, "can_edit")
    statuses = dict(record.tool_statuses or {})
    if statuses.pop(args["tool"], None) is not None:
        record.tool_statuses = statuses
    return record


# --- comments, history, relationships ------------------------------------------------------------


@blp.route("/api/v1/records/<record_id>/comments", methods=["GET"])
@blp.operation("core.records.list-comments")
@require("records.read")
@blp.response(200, CommentListSchema)
def list_comments(record_id):
    """Comments on a record, oldest first"""
    return {"items": related.list_comments(access.record_or_404(record_id))}


@blp.route("/api/v1/records/<record_id>/comments", methods=["POST"])
@blp.operation("core.records.create-comment")
@require("records.write")
@blp.arguments(CommentSchema)
@blp.response(201, CommentSchema)
def create_comment(payload, record_id):
    """Comment on a record"""
    record = access.record_or_404(record_id)
    comment = related.add_comment(
        record, user_id=current_user_id(), body=payload["body"], parent_id=payload.get("parent_id")
    )
    return comment


@blp.route("/api/v1/records/<record_id>/history", methods=["GET"])
@blp.operation("core.records.list-history")
@require("records.read")
@blp.response(200, HistoryListSchema)
def list_history(record_id):
    """Every version of a record, newest first: who changed which field from what to what"""
    return {"items": related.list_history(access.record_or_404(record_id))}


@blp.route("/api/v1/records/<record_id>/history/<history_id>/restore", methods=["POST"])
@blp.operation("core.records.restore-version")
@require("records.write")
@blp.response(200, RecordSchema)
def restore_version(record_id, history_id):
    """A new version with the values of an earlier one (history is appended to)"""
    record = service.get_record(record_id, include_deleted=True)
    access.check(record.recordset, "can_edit", record=record)
    service.restore_version(record, history_id=history_id, user_id=current_user_id())
    return record


@blp.route("/api/v1/records/<record_id>/relationships", methods=["GET"])
@blp.operation("core.records.list-relationships")
@require("records.read")
@blp.response(200, RelationshipListSchema)
def list_relationships(record_id):
    """Relationships of a record in both directions, as this record sees them"""
    return {"items": related.list_relationships(access.record_or_404(record_id))}


@blp.route("/api/v1/records/<record_id>/relationships", methods=["POST"])
@blp.operation("core.records.create-relationship")
@require("records.write")
@blp.arguments(RelationshipCreateSchema)
@blp.response(201, RelationshipSchema)
def create_relationship(payload, record_id):
    """Relate this record to another (typed; the other record lists it as incoming)"""
    record = access.record_or_404(record_id, "can_edit")
    link, target = related.add_relationship(record, user_id=current_user_id(), **payload)
    access.check(target.recordset, "can_view")
    return link


# --- attachments ---------------------------------------------------------------------------------


@blp.route("/api/v1/crud/records/<record_id>/attachments", methods=["GET"])
@blp.operation("core.crud-record-attachments.list")
@require("records.read")
@blp.response(200, AttachmentListSchema)
def list_attachments(record_id):
    """Files attached to a record, each with a signed download URL"""
    return {"items": related.list_attachments(access.record_or_404(record_id))}


@blp.route("/api/v1/crud/records/<record_id>/attachments", methods=["POST"])
@blp.operation("core.crud-record-attachments.upload")
@require("records.write")
@blp.arguments(AttachmentUploadSchema, location="files")
@blp.response(201, AttachmentSchema)
def upload_attachment(files, record_id):
    """Attach a file (multipart/form-data, part "file") to a record"""
    record = access.record_or_404(record_id, "can_edit")
    upload = files.get("file")
    if upload is None:
        raise ValidationFailed(
            'Send the file as the multipart part "file".', details=[{"field": "file", "message": "required"}]
        )
    attachment = related.attach_file(
        record, upload=upload.stream, filename=upload.filename, user_id=current_user_id()
    )
    return attachment


@blp.route("/api/v1/crud/records/<record_id>/attachments/<attachment_id>", methods=["DELETE"])
@blp.operation("core.crud-record-attachments.delete")
@require("records.write")
@blp.response(204)
def delete_attachment(record_id, attachment_id):
    """Remove an attachment and its file"""
    record = access.record_or_404(record_id, "can_edit")
    related.remove_attachment(related.get_attachment(record, attachment_id))
