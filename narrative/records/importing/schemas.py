"""Request and response shapes of the import, export and geocoding endpoints."""

import marshmallow as ma
from flask_smorest.fields import Upload

from narrative.platform.pagination import page_args
from narrative.platform.schemas import Schema
from narrative.records.importing.service import EXPORT_FORMATS


class ImportUploadSchema(Schema):
    file = Upload(required=True, metadata={"description": "A CSV, XLSX, JSON or GeoJSON file"})


class FileUriSchema(Schema):
    file_uri = ma.fields.String(required=True, metadata={"description": "As returned by POST /import/upload"})


class ColumnSchema(Schema):
    name = ma.fields.String()
    type = ma.fields.String(
        metadata={
            "description": "Inferred type: number, currency, percent, date, datetime, "
            "boolean, email, url, phone, geo or text"
        }
    )
    samples = ma.fields.List(ma.fields.Raw())


class AnalysisSchema(Schema):
    file_uri = ma.fields.String()
    filename = ma.fields.String()
    size = ma.fields.Integer()
    format = ma.fields.String(metadata={"description": "csv, xlsx, json or geojson"})
    encoding = ma.fields.String(allow_none=True)
    delimiter = ma.fields.String(allow_none=True)
    headers = ma.fields.List(ma.fields.String())
    columns = ma.fields.List(ma.fields.Nested(ColumnSchema))
    inferred_types = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    row_count = ma.fields.Integer()
    sample_rows = ma.fields.List(ma.fields.Dict())


class SignedUploadRequestSchema(Schema):
    filename = ma.fields.String(load_default="upload.csv")


class SignedUploadSchema(Schema):
    upload_url = ma.fields.String(
        metadata={"description": "PUT the file's bytes here, no auth header needed"}
    )
    method = ma.fields.String()
    expires_in = ma.fields.Integer()


class ImportNewSchema(Schema):
    file_uri = ma.fields.String(required=True)
    schema = ma.fields.List(
        ma.fields.Raw(),
        load_default=None,
        metadata={"description": "Field specs {name, type, key?, source_column?}; default: the analysis"},
    )
    name = ma.fields.String(load_default=None)
    icon = ma.fields.String(load_default=None)
    description = ma.fields.String(load_default=None)


class ImportExistingSchema(Schema):
    file_uri = ma.fields.String(required=True)
    field_mappings = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.String(allow_none=True),
        load_default=None,
        metadata={"description": "File column -> field key or name; default: columns matched by name"},
    )


class ImportStartedSchema(Schema):
    job_id = ma.fields.String()
    recordset_id = ma.fields.String()
    status = ma.fields.String()
    stream_url = ma.fields.String()


class RecordsetExportRequestSchema(Schema):
    recordset_id = ma.fields.String(required=True)
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(EXPORT_FORMATS))


class GeocodeRequestSchema(Schema):
    recordset_id = ma.fields.String(required=True)
    address_fields = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1))


class RecordsJobStartedSchema(Schema):
    job_id = ma.fields.String()
    status = ma.fields.String()
    stream_url = ma.fields.String()


class ImportJobSchema(Schema):
    id = ma.fields.String()
    job_id = ma.fields.String()
    job_type = ma.fields.String()
    kind = ma.fields.String()
    status = ma.fields.String()
    progress = ma.fields.Integer()
    current_step = ma.fields.String(allow_none=True)
    message = ma.fields.String(allow_none=True)
    result = ma.fields.Raw(allow_none=True)
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.String()
    started_at = ma.fields.String(allow_none=True)
    finished_at = ma.fields.String(allow_none=True)
    recordset_id = ma.fields.String()
    rows_total = ma.fields.Integer(allow_none=True)
    rows_processed = ma.fields.Integer()
    rows_imported = ma.fields.Integer()
    rows_failed = ma.fields.Integer()
    validation_summary = ma.fields.Dict()
    error_report_url = ma.fields.String(allow_none=True)


class JobFilters(Schema):
    job_type = ma.fields.String(load_default=None, metadata={"description": "import or export"})
    status = ma.fields.String(
        load_default=None,
        metadata={"description": "pending, running, completed, failed, cancelled (or the upper-case states)"},
    )


class GeocodeJobFilters(Schema):
    status = ma.fields.String(load_default=None)


JobListArgs = page_args("page", base=JobFilters)
GeocodeJobListArgs = page_args("page", base=GeocodeJobFilters)


class ImportReportUrlSchema(Schema):
    url = ma.fields.String()
    error_report_url = ma.fields.String()
    expires_in = ma.fields.Integer()


class ImportCancelAllSchema(Schema):
    cancelled = ma.fields.Integer()
    job_ids = ma.fields.List(ma.fields.String())


class SignedQuerySchema(Schema):
    exp = ma.fields.String(required=True)
    sig = ma.fields.String(required=True)
