"""Request and response shapes of the records and recordsets endpoints."""

import marshmallow as ma

from narrative.platform.pagination import PageArgs
from narrative.platform.schemas import Schema


class FieldSpecSchema(Schema):
    class Meta:
        unknown = ma.INCLUDE

    key = ma.fields.String()
    name = ma.fields.String(required=True)
    type = ma.fields.String(load_default="text")
    required = ma.fields.Boolean()
    description = ma.fields.String(allow_none=True)
    options = ma.fields.Dict()


class RecordsetSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    workspace_id = ma.fields.UUID(dump_only=True)
    slug = ma.fields.String()
    name = ma.fields.String()
    icon = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    type = ma.fields.String()
    fields = ma.fields.List(ma.fields.Dict())
    title_field = ma.fields.String(allow_none=True)
    default_view_id = ma.fields.UUID(allow_none=True)
    pipeline_id = ma.fields.UUID(allow_none=True)
    settings = ma.fields.Dict()
    is_active = ma.fields.Boolean()
    deleted_at = ma.fields.DateTime(allow_none=True)
    owner_id = ma.fields.UUID(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    record_count = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class RecordsetCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    slug = ma.fields.String(validate=ma.validate.Length(min=1, max=100))
    icon = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    type = ma.fields.String(load_default="standard")
    fields = ma.fields.List(ma.fields.Nested(FieldSpecSchema), load_default=list)
    title_field = ma.fields.String(allow_none=True)
    settings = ma.fields.Dict(load_default=dict)


class RecordsetUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    icon = ma.fields.String(allow_none=True)
    description = ma.fields.String(allow_none=True)
    type = ma.fields.String()
    fields = ma.fields.List(ma.fields.Nested(FieldSpecSchema))
    title_field = ma.fields.String(allow_none=True)
    settings = ma.fields.Dict()
    default_view_id = ma.fields.UUID(allow_none=True)
    is_active = ma.fields.Boolean()
    # A type change whose values cannot all be converted: clear those values instead of refusing.
    force = ma.fields.Boolean(load_default=False)


class RecordsetReplaceSchema(RecordsetUpdateSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    fields = ma.fields.List(ma.fields.Nested(FieldSpecSchema), required=True)


class RecordsetListArgs(PageArgs):
    search = ma.fields.String()
    type = ma.fields.String()
    is_active = ma.fields.Boolean()


class TrashListArgs(PageArgs):
    search = ma.fields.String()


class CountSyncSchema(Schema):
    updated = ma.fields.Integer()


class PermissionsSchema(Schema):
    level = ma.fields.String(allow_none=True)
    can_view = ma.fields.Boolean()
    can_create = ma.fields.Boolean()
    can_edit = ma.fields.Boolean()
    can_edit_own = ma.fields.Boolean()
    can_delete = ma.fields.Boolean()
    can_delete_own = ma.fields.Boolean()
    can_admin = ma.fields.Boolean()


class GrantSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    recordset_id = ma.fields.UUID(dump_only=True)
    member_id = ma.fields.UUID(allow_none=True)
    team_id = ma.fields.UUID(allow_none=True)
    level = ma.fields.String(load_default="view", validate=ma.validate.OneOf(["view", "edit", "admin"]))
    granted_by_id = ma.fields.UUID(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)


class GrantListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(GrantSchema))


class ViewSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    recordset_id = ma.fields.UUID(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    layout = ma.fields.String(validate=ma.validate.OneOf(["grid", "kanban", "map", "calendar", "gallery"]))
    filters = ma.fields.Raw(allow_none=True)
    sorts = ma.fields.List(ma.fields.Raw())
    visible_fields = ma.fields.List(ma.fields.String(), allow_none=True)
    group_by = ma.fields.String(allow_none=True)
    is_default = ma.fields.Boolean()
    created_by_id = ma.fields.UUID(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class ViewUpdateSchema(ViewSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))


class ViewListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(ViewSchema))


class PipelineLinkSchema(Schema):
    recordset_id = ma.fields.UUID()
    pipeline_id = ma.fields.UUID(allow_none=True)
    stage_field = ma.fields.String(allow_none=True)
    stages = ma.fields.List(ma.fields.Dict())


class PipelineCreateSchema(Schema):
    stage_field = ma.fields.String(required=True)


class EnableMapSchema(Schema):
    point_field = ma.fields.String()
    latitude_field = ma.fields.String()
    longitude_field = ma.fields.String()


class MapBackfillStartedSchema(Schema):
    job_id = ma.fields.String()
    status = ma.fields.String()
    mode = ma.fields.String()
    gis = ma.fields.Dict()


class ResyncSchema(Schema):
    updated = ma.fields.Integer()


# --- records -------------------------------------------------------------------------------------


class RecordSchema(Schema):
    id = ma.fields.UUID()
    workspace_id = ma.fields.UUID()
    recordset_id = ma.fields.UUID()
    field_values = ma.fields.Dict(attribute="values")
    status = ma.fields.String()
    tags = ma.fields.List(ma.fields.String())
    tool_statuses = ma.fields.Dict()
    external_id = ma.fields.String(allow_none=True)
    version = ma.fields.Integer()
    owner_id = ma.fields.UUID(allow_none=True)
    created_by_id = ma.fields.UUID(allow_none=True)
    updated_by_id = ma.fields.UUID(allow_none=True)
    latitude = ma.fields.Float(allow_none=True)
    longitude = ma.fields.Float(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class RecordCreateSchema(Schema):
    recordset_id = ma.fields.String(required=True)
    field_values = ma.fields.Dict(load_default=dict)
    tags = ma.fields.List(ma.fields.String(), load_default=list)
    owner_id = ma.fields.UUID(allow_none=True)
    external_id = ma.fields.String(allow_none=True)


class RecordUpdateSchema(Schema):
    field_values = ma.fields.Dict()
    tags = ma.fields.List(ma.fields.String())
    owner_id = ma.fields.UUID()


class RecordReplaceSchema(RecordUpdateSchema):
    field_values = ma.fields.Dict(required=True)


class RecordListArgs(PageArgs):
    class Meta:
        # Any other query argument named like a field is an equality filter (?stage=won).
        unknown = ma.INCLUDE

    recordset_id = ma.fields.String()
    search = ma.fields.String()
    status = ma.fields.String()
    tags = ma.fields.String()
    fields = ma.fields.String()
    filter = ma.fields.String(metadata={"description": "JSON filter (see the filter language)"})
    sort = ma.fields.String(metadata={"description": "JSON sorts, or comma-separated keys (-key descending)"})
    sort_by = ma.fields.String()
    sort_order = ma.fields.String(validate=ma.validate.OneOf(["asc", "desc"]))
    column_filters = ma.fields.String(
        metadata={"description": "JSON {field: value or [values]} (contains / in)"}
    )
    date_filters = ma.fields.String(metadata={"description": 'JSON {field: {"from": date, "to": date}}'})
    numeric_filters = ma.fields.String(metadata={"description": 'JSON {field: {"min": n, "max": n}}'})
    tool = ma.fields.String()
    exclude_recommendation = ma.fields.String()
    group_id = ma.fields.String(metadata={"description": "A saved view id: its filters and sorts apply"})
    view_id = ma.fields.String()


class CrudRecordListArgs(PageArgs):
    class Meta:
        unknown = ma.INCLUDE

    recordset_id = ma.fields.String()
    search = ma.fields.String()
    status = ma.fields.String()
    tags = ma.fields.String()
    filter = ma.fields.String()
    sort = ma.fields.String()


class BulkDeleteSchema(Schema):
    recordset_id = ma.fields.String(required=True)
    record_ids = ma.fields.List(ma.fields.String(), load_default=list)
    all = ma.fields.Boolean(load_default=False)


class BulkDeleteResultSchema(Schema):
    deleted = ma.fields.Integer()
    failed = ma.fields.List(ma.fields.Dict())


class SpatialFilterSchema(Schema):
    source_recordset_id = ma.fields.String(required=True)
    target_recordset_id = ma.fields.String(required=True)
    operation = ma.fields.String(
        load_default="WITHIN_DISTANCE",
        validate=ma.validate.OneOf(
            ["WITHIN_DISTANCE", "INTERSECTS", "WITHIN", "CONTAINS", "OUTSIDE", "DISJOINT"]
        ),
    )
    buffer_meters = ma.fields.Float(load_default=None, validate=ma.validate.Range(min=0))


class SpatialFilterResultSchema(Schema):
    record_ids = ma.fields.List(ma.fields.UUID())
    count = ma.fields.Integer()


class MapStreamArgs(Schema):
    recordset_id = ma.fields.String(required=True)
    bbox = ma.fields.String(metadata={"description": "min_lng,min_lat,max_lng,max_lat"})
    limit = ma.fields.Integer(validate=ma.validate.Range(min=1))
    fields = ma.fields.String()
    geometry_types = ma.fields.String()
    column_filters = ma.fields.String()
    numeric_filters = ma.fields.String()


class DismissArgs(Schema):
    tool = ma.fields.String(required=True)


class UserBriefSchema(Schema):
    id = ma.fields.UUID()
    name = ma.fields.String(allow_none=True)
    email = ma.fields.String()


class CommentSchema(Schema):
    id = ma.fields.UUID(dump_only=True)
    record_id = ma.fields.UUID(dump_only=True)
    user_id = ma.fields.UUID(dump_only=True, allow_none=True)
    user = ma.fields.Nested(UserBriefSchema, dump_only=True, allow_none=True)
    parent_id = ma.fields.UUID(allow_none=True)
    body = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20_000))
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class CommentListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(CommentSchema))


class HistorySchema(Schema):
    id = ma.fields.UUID()
    record_id = ma.fields.UUID()
    version = ma.fields.Integer()
    action = ma.fields.String()
    changes = ma.fields.Dict()
    field_values = ma.fields.Dict(attribute="values")
    user_id = ma.fields.UUID(allow_none=True)
    user = ma.fields.Nested(UserBriefSchema, allow_none=True)
    created_at = ma.fields.DateTime()


class HistoryListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(HistorySchema))


class RelationshipCreateSchema(Schema):
    target_record_id = ma.fields.String(required=True)
    relationship_type = ma.fields.String(
        load_default="related_to", validate=ma.validate.Length(min=1, max=60)
    )
    inverse_type = ma.fields.String(allow_none=True, validate=ma.validate.Length(min=1, max=60))
    details = ma.fields.Dict(load_default=dict)


class RelationshipSchema(Schema):
    id = ma.fields.UUID()
    source_record_id = ma.fields.UUID()
    target_record_id = ma.fields.UUID()
    relationship_type = ma.fields.String()
    inverse_type = ma.fields.String(allow_none=True)
    # Seen from the record the list is for: "outgoing" (it is the source) or "incoming".
    direction = ma.fields.String()
    type = ma.fields.String(metadata={"description": "The relationship as the listed record sees it"})
    related_record_id = ma.fields.UUID()
    related_recordset_id = ma.fields.UUID()
    details = ma.fields.Dict()
    created_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class RelationshipListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(RelationshipSchema))


class AttachmentSchema(Schema):
    id = ma.fields.UUID()
    record_id = ma.fields.UUID()
    file_id = ma.fields.UUID()
    filename = ma.fields.String(attribute="file.filename")
    content_type = ma.fields.String(attribute="file.content_type")
    size = ma.fields.Integer(attribute="file.size")
    download_url = ma.fields.String()
    uploaded_by_id = ma.fields.UUID(allow_none=True)
    created_at = ma.fields.DateTime()


class AttachmentListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(AttachmentSchema))


class AttachmentUploadSchema(Schema):
    # Checked in the view, after the record: another workspace's record is a 404 before anything.
    file = ma.fields.Raw(load_default=None, metadata={"type": "string", "format": "binary"})
