"""Request and response shapes of the activity feed endpoints."""

import marshmallow as ma

from narrative.activity.jobs import FORMATS
from narrative.platform.pagination import OffsetPageArgs, page_args
from narrative.platform.schemas import Schema


class FeedFilters(Schema):
    types = ma.fields.String(
        load_default=None, metadata={"description": "Comma-separated object or event types"}
    )
    search = ma.fields.String(load_default=None)
    start_date = ma.fields.DateTime(
        load_default=None, metadata={"description": "ISO date or datetime (from)"}
    )
    end_date = ma.fields.DateTime(
        load_default=None, metadata={"description": "ISO date or datetime (before)"}
    )
    scope = ma.fields.String(load_default="all", validate=ma.validate.OneOf(("all", "mine")))
    user_ids = ma.fields.String(load_default=None)
    team_ids = ma.fields.String(load_default=None)
    object_type = ma.fields.String(load_default=None)
    object_id = ma.fields.String(load_default=None)


FeedArgs = page_args("offset", default_limit=20, max_limit=100, base=FeedFilters)


class ActivitySchema(Schema):
    id = ma.fields.UUID()
    actor_id = ma.fields.UUID()
    user_id = ma.fields.UUID()
    actor_name = ma.fields.String(allow_none=True)
    actor_email = ma.fields.String(allow_none=True)
    type = ma.fields.String()
    event_type = ma.fields.String()
    verb = ma.fields.String()
    object_type = ma.fields.String()
    object_id = ma.fields.String(allow_none=True)
    summary = ma.fields.String()
    description = ma.fields.String()
    data = ma.fields.Dict()
    workspace_id = ma.fields.UUID()
    timestamp = ma.fields.DateTime()
    created_at = ma.fields.DateTime()


class ExportRequestSchema(FeedFilters):
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(FORMATS))


class ExportStartedSchema(Schema):
    job_id = ma.fields.String()
    status = ma.fields.String()
    stream_url = ma.fields.String()


class ExportJobSchema(Schema):
    id = ma.fields.String()
    job_id = ma.fields.String()
    kind = ma.fields.String()
    status = ma.fields.String()
    progress = ma.fields.Integer()
    current_step = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    result = ma.fields.Raw(allow_none=True)
    output_data = ma.fields.Dict(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.String(allow_none=True)
    started_at = ma.fields.String(allow_none=True)
    finished_at = ma.fields.String(allow_none=True)


class ExportJobListArgs(OffsetPageArgs):
    pass


class DownloadUrlSchema(Schema):
    download_url = ma.fields.String()
    url = ma.fields.String()
    expires_in = ma.fields.Integer()
    filename = ma.fields.String()
