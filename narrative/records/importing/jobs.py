"""RQ job functions: import a stored file into a recordset, export a recordset, geocode its records.

The import streams the file (never whole in memory) in chunks of CHUNK_ROWS rows; each chunk's
records, its row errors and the import's checkpoint (`rows_committed`) commit in one transaction
(`JobProgress.checkpoint`), so a re-run after a failure or a killed worker skips the rows already
committed and neither loses nor duplicates any. The job runner commits the rest (the error report,
the notification) when the function returns. On PostgreSQL the job validates the next chunk while a writer thread stores
the previous one on its own connection (the two halves take about the same time). Progress is
reported at least once a second.
"""

import contextlib
import csv
import gc
import io
import json
import operator
import queue
import re
import tempfile
import threading
import time
import uuid

import sqlalchemy as sa
from flask import current_app

from narrative.extensions import db
from narrative.platform.email import send_email
from narrative.platform.jobs import current_progress
from narrative.platform.storage import StoredFile, delete_file, open_file, store_file
from narrative.platform.tenancy import workspace_scope
from narrative.records import service as records_service
from narrative.records.fields import NUMERIC_TYPES, REFERENCE_TYPES
from narrative.records.importing import geocoding, readers
from narrative.records.importing.models import RecordImport, RecordImportError
from narrative.records.models import Record, Recordset

CHUNK_ROWS = 2000
DECIMAL_COMMA = re.compile(r"-?\d+,\d+")
THOUSANDS = re.compile(r"-?\d{1,3}(,\d{3})+")
REPORT_EVERY_SECONDS = 0.5
REPORT_COLUMNS = ("row_number", "column", "value", "reason")
MAX_REPORTED_VALUE = 1000


class _Ticker:
    """Reports progress when asked and, between those reports, at least every REPORT_EVERY_SECONDS."""

    def __init__(self, progress):
        self.progress = progress
        self.last = 0.0

    def due(self):
        return time.monotonic() - self.last >= REPORT_EVERY_SECONDS

    def report(self, **kwargs):
        self.last = time.monotonic()
        self.progress.report(**kwargs)


# --- import -----------------------------------------------------------------------------------------


def import_file(import_id):
    """Import (or resume importing) the file of RecordImport `import_id` into its recordset."""
    progress = current_progress()
    record_import = db.session.get(RecordImport, uuid.UUID(import_id))
    recordset = db.session.get(Recordset, record_import.recordset_id)
    stored = db.session.get(StoredFile, record_import.file_id)
    filename = stored.filename
    ticker = _Ticker(progress)
    resume_after = record_import.rows_committed
    total = record_import.rows_total or 0
    ticker.report(progress=_percent(resume_after, total), step="importing", data=_counts(record_import))

    def tick(rows_validated):
        if ticker.due():
            ticker.report(step="importing", data={**_counts(record_import), "rows_validated": rows_validated})

    with (
        open_file(stored) as binary,
        _chunk_committer(record_import, recordset, progress, tick) as committer,
    ):
        head = binary.read(readers.HEAD_BYTES)
        binary.seek(0)
        fmt = readers.detect_format(filename, head)
        chunk = []
        for number, values in readers.iter_rows(binary, fmt):
            if number <= resume_after:
                if ticker.due():
                    ticker.report(step="resuming", message=f"Skipping {resume_after} rows already imported")
                continue
            chunk.append((number, values))
            if len(chunk) >= CHUNK_ROWS:
                committer.add(chunk)
                chunk = []
                progress.check_cancelled()
                counts = committer.counts()
                ticker.report(
                    progress=_percent(counts["rows_processed"], total), step="importing", data=counts
                )
            elif ticker.due():
                ticker.report(step="importing", data=committer.counts())
        if chunk:
            committer.add(chunk)

    db.session.expire_all()  # the writer thread moved the checkpoint and the counts
    ticker.report(progress=99, step="writing error report", data=_counts(record_import))
    report_url = _write_error_report(record_import, filename)
    _tell_the_importer(record_import, recordset, report_url)
    return {**_counts(record_import), "recordset_id": str(recordset.id), "error_report_url": report_url}


def _percent(done, total):
    return min(98, done * 100 // total) if total else 0


def _counts(record_import):
    return {
        "rows_total": record_import.rows_total,
        "rows_processed": record_import.rows_committed,
        "rows_imported": record_import.rows_imported,
        "rows_failed": record_import.rows_failed,
    }


def _chunk_committer(record_import, recordset, progress, tick):
    """How chunks get committed: by a writer thread on PostgreSQL, else in turn by the job.

    Reference fields (members, relations, files) are validated with queries, so their chunks are
    prepared and written in one transaction, in turn.
    """
    types = {spec["key"]: spec["type"] for spec in recordset.fields}
    references = any(types.get(key) in REFERENCE_TYPES for key in record_import.field_mappings.values())
    if db.session.get_bind().dialect.name == "postgresql" and not references:
        return _PipelinedChunks(record_import, recordset, progress)
    return _InlineChunks(record_import, recordset, progress, tick)


class _InlineChunks(contextlib.AbstractContextManager):
    """Each chunk validated, written and committed in turn, in the job's session."""

    def __init__(self, record_import, recordset, progress, tick):
        self.record_import, self.recordset = record_import, recordset
        self.progress, self.tick = progress, tick

    def add(self, chunk):
        record_import = self.record_import
        prepared = _prepare_chunk(record_import.field_mappings, record_import.user_id, self.recordset, chunk)
        _commit_chunk(record_import, prepared, self.progress, self.tick)

    def counts(self):
        return _counts(self.record_import)

    def __exit__(self, *exc_info):
        return None


class _PipelinedChunks(contextlib.AbstractContextManager):
    """Chunks validated here and committed, in order, by a writer thread on its own connection, so
    the database stores one chunk while the next is validated. Each commit still carries its
    checkpoint: a failure (here or in the writer) or a kill loses and duplicates nothing. At most
    one chunk waits, which keeps memory flat."""

    def __init__(self, record_import, recordset, progress):
        self.mappings, self.user_id = dict(record_import.field_mappings), record_import.user_id
        import_id, workspace_id = record_import.id, record_import.workspace_id
        self._progress = progress
        self._latest = _counts(record_import)
        # From here the job's thread only validates: it keeps the recordset as loaded and gives its
        # connection back instead of sitting idle in a transaction while the writer works. The
        # writer's commits are read back at the end, in a new transaction.
        self.recordset = recordset
        db.session.refresh(recordset)
        db.session.expunge(recordset)
        progress.checkpoint()
        self._chunks = queue.Queue(maxsize=1)
        self._error = None
        self._writer = threading.Thread(
            target=self._write_chunks,
            args=(current_app._get_current_object(), workspace_id, import_id),
            name="import-writer",
            daemon=True,
        )
        self._writer.start()

    def add(self, chunk):
        prepared = _prepare_chunk(self.mappings, self.user_id, self.recordset, chunk)
        self._raise_writer_error()
        self._chunks.put(prepared)

    def counts(self):
        return dict(self._latest)

    def __exit__(self, *exc_info):
        self._chunks.put(None)
        self._writer.join()
        if exc_info[0] is None:
            self._raise_writer_error()

    def _raise_writer_error(self):
        if self._error is not None:
            raise self._error

    def _write_chunks(self, app, workspace_id, import_id):
        # A thread starts with no workspace in scope: the job's is set again here. Its session is
        # its own (a new app context); `checkpoint` commits that session, chunk by chunk.
        with app.app_context(), workspace_scope(workspace_id):
            try:
                record_import = db.session.get(RecordImport, import_id)
                while (prepared := self._chunks.get()) is not None:
                    _commit_chunk(record_import, prepared, self._progress)
                    self._latest = _counts(record_import)
            except BaseException as exc:  # handed to the job's thread, which fails the job with it
                db.session.rollback()
                self._error = exc
                while self._chunks.get() is not None:  # let the job's thread finish its puts
                    pass
            finally:
                db.session.remove()


class _PreparedChunk:
    """A chunk's validated rows (`records`), its rows already known to be bad, and where it ends."""

    def __init__(self, *, last_row, records, rows, column_of, error_rows, failed_rows):
        self.last_row, self.records, self.rows, self.column_of = last_row, records, rows, column_of
        self.error_rows, self.failed_rows = error_rows, failed_rows


def _prepare_chunk(mappings, user_id, recordset, chunk):
    """Validate and encode a chunk's rows ({file column: field key} `mappings`), one column per
    mapped field; nothing is written yet."""
    column_of = {key: column for column, key in mappings.items()}
    numeric = {spec["key"] for spec in recordset.fields if spec["type"] in NUMERIC_TYPES}
    rows, error_rows, failed_rows = [], [], set()
    for number, values in chunk:
        if "__extra__" in values:
            extra = "|".join(values["__extra__"])
            error_rows.append((number, None, extra, "the row has more cells than the header"))
            failed_rows.add(number)
        else:
            rows.append((number, values))
    columns = {}
    dicts = [values for _, values in rows]
    for column, key in mappings.items():
        cells = _column(dicts, column)
        columns[key] = [_decimal_comma(cell) for cell in cells] if key in numeric else cells
    with _collector_paused():
        records = records_service.prepare_records_from_columns(
            recordset=recordset, columns=columns, count=len(rows), user_id=user_id
        )
    return _PreparedChunk(
        last_row=chunk[-1][0],
        records=records,
        rows=rows,
        column_of=column_of,
        error_rows=error_rows,
        failed_rows=failed_rows,
    )


def _commit_chunk(record_import, prepared, progress, tick=None):
    """Insert a prepared chunk's valid rows, record its bad ones and move the checkpoint, in one
    transaction of the current session (`record_import` belongs to it), committed by
    `progress.checkpoint()`: a later failure keeps the chunks already done. `tick(row)` (progress)
    runs between blocks of rows when writing them takes long (reference fields)."""
    first = prepared.rows[0][0] - 1 if prepared.rows else prepared.last_row
    # No pause of the garbage collector here: writing makes few objects, and in the writer thread a
    # pause would overlap the job thread's and could keep collection off for the whole import.
    created, errors = records_service.write_prepared_records(
        prepared.records, progress=None if tick is None else lambda done: tick(first + done)
    )
    failed_rows = set(prepared.failed_rows)
    error_rows = [_error(record_import, *error) for error in prepared.error_rows]
    for error in errors:
        number, values = prepared.rows[error["row"]]
        column = prepared.column_of.get(error.get("field"), error.get("field"))
        error_rows.append(_error(record_import, number, column, values.get(column), error["message"]))
        failed_rows.add(number)
    db.session.add_all(error_rows)
    record_import.rows_committed = prepared.last_row
    record_import.rows_imported += created
    record_import.rows_failed += len(failed_rows)
    progress.checkpoint()
    db.session.expire_all()  # keeps the session small over millions of rows


@contextlib.contextmanager
def _collector_paused():
    """No cyclic garbage collection while a chunk is converted: its tens of thousands of new
    objects (freed by reference counting) would otherwise trigger collections that walk every
    live object, for nothing (about 15 % of the worker's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _column(rows, column):
    """The cells of one column (None where a row lacks it: short spreadsheet rows, JSON objects)."""
    try:
        return list(map(operator.itemgetter(column), rows))
    except KeyError:
        return [values.get(column) for values in rows]


def _decimal_comma(value):
    """ "4,25" from a European file is 4.25; "1,500" stays a thousands-grouped 1500."""
    if (
        value.__class__ is str
        and "," in value
        and DECIMAL_COMMA.fullmatch(value.strip())
        and not THOUSANDS.fullmatch(value.strip())
    ):
        return value.strip().replace(",", ".")
    return value


def _error(record_import, number, column, value, reason):
    text = None if value is None else str(value)[:MAX_REPORTED_VALUE]
    return RecordImportError(
        import_id=record_import.id, row_number=number, column=column, value=text, reason=reason
    )


def _write_error_report(record_import, source_name):
    """The error report CSV (row number, column, value, reason) as a stored file; its signed link."""
    from narrative.records.importing.service import error_report_url

    if record_import.report_file_id is not None:
        old = db.session.get(StoredFile, record_import.report_file_id)
        if old is not None:
            delete_file(old)
        record_import.report_file_id = None
    if not record_import.rows_failed:
        return None
    query = (
        sa.select(
            RecordImportError.row_number,
            RecordImportError.column,
            RecordImportError.value,
            RecordImportError.reason,
        )
        .where(RecordImportError.import_id == record_import.id)
        .order_by(RecordImportError.row_number, RecordImportError.id)
    )
    with tempfile.TemporaryFile() as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow(REPORT_COLUMNS)
        for row in db.session.execute(query.execution_options(yield_per=1000)):
            writer.writerow(["" if cell is None else cell for cell in row])
        text.flush()
        out.seek(0)
        stored = store_file(
            workspace_id=record_import.workspace_id,
            data=out,
            filename=f"errors-{source_name.rsplit('.', 1)[0]}.csv",
            owner_id=record_import.user_id,
            purpose="records.import_errors",
        )
        text.detach()
    record_import.report_file_id = stored.id
    return error_report_url(record_import)


def _tell_the_importer(record_import, recordset, report_url):
    """An in-app notification and an email (through the outbox) when the import is done."""
    from narrative.identity.models import User
    from narrative.notifications.service import notify

    title = f"Import into {recordset.name} finished"
    body = f"{record_import.rows_imported} records imported, {record_import.rows_failed} rows rejected."
    if report_url:
        body += " The error report lists every rejected row."
    if record_import.user_id is None:
        return
    notify(
        workspace_id=record_import.workspace_id,
        event_type="records.import_completed",
        title=title,
        body=body,
        data={
            "recordset_id": str(recordset.id),
            "job_id": record_import.job_id,
            "error_report_url": report_url,
        },
        user_ids=[record_import.user_id],
    )
    user = db.session.get(User, record_import.user_id)
    if user is not None and user.email:
        from narrative.identity.auth_service import public_url

        text = body
        if report_url:
            text += f"\n\nError report (link valid for 24 hours): {public_url(report_url)}"
        send_email(
            to=user.email,
            subject=title,
            text=text,
            workspace_id=record_import.workspace_id,
            kind="records.import_completed",
        )


# --- export -----------------------------------------------------------------------------------------


def _record_batches(recordset_id):
    last_id = None
    while True:
        query = sa.select(Record).where(Record.recordset_id == recordset_id, Record.status == "active")
        if last_id is not None:
            query = query.where(Record.id > last_id)
        batch = db.session.scalars(query.order_by(Record.id).limit(CHUNK_ROWS)).all()
        if not batch:
            return
        last_id = batch[-1].id
        yield batch
        db.session.expire_all()


def _cell(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def export_recordset(recordset_id, file_format="csv"):
    """Write the recordset's active records as CSV, XLSX or GeoJSON; the result has a signed link."""
    from narrative.platform.storage import signed_download_url

    progress = current_progress()
    ticker = _Ticker(progress)
    recordset = db.session.get(Recordset, uuid.UUID(recordset_id))
    fields = list(recordset.fields)
    keys, names = [f["key"] for f in fields], [f["name"] for f in fields]
    total = db.session.scalar(
        sa.select(sa.func.count()).where(Record.recordset_id == recordset.id, Record.status == "active")
    )
    written = 0
    ticker.report(progress=0, step="exporting", data={"rows_total": total, "rows_written": 0})
    with tempfile.TemporaryFile() as out:
        writer = _EXPORT_WRITERS[file_format](out, names)
        for batch in _record_batches(recordset.id):
            progress.check_cancelled()
            for record in batch:
                writer.write(record, [_cell(record.values.get(key)) for key in keys], keys)
            written += len(batch)
            ticker.report(
                progress=min(99, written * 100 // max(total, 1)),
                step="exporting",
                data={"rows_total": total, "rows_written": written},
            )
        writer.close()
        out.seek(0)
        stored = store_file(
            workspace_id=recordset.workspace_id,
            data=out,
            filename=f"{recordset.slug}.{file_format}",
            purpose="records.export",
        )
    return {
        "rows_written": written,
        "format": file_format,
        "file_id": str(stored.id),
        "download_url": signed_download_url(stored, expires_in=24 * 3600),
    }


class _CsvExport:
    def __init__(self, out, names):
        self.text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        self.writer = csv.writer(self.text)
        self.writer.writerow(["id", *names])

    def write(self, record, cells, keys):
        self.writer.writerow([str(record.id), *("" if c is None else c for c in cells)])

    def close(self):
        self.text.flush()
        self.text.detach()


class _XlsxExport:
    def __init__(self, out, names):
        import openpyxl

        self.out = out
        self.workbook = openpyxl.Workbook(write_only=True)
        self.sheet = self.workbook.create_sheet("Records")
        self.sheet.append(["id", *names])

    def write(self, record, cells, keys):
        self.sheet.append([str(record.id), *cells])

    def close(self):
        self.workbook.save(self.out)


class _GeoJsonExport:
    def __init__(self, out, names):
        self.text = io.TextIOWrapper(out, encoding="utf-8")
        self.text.write('{"type": "FeatureCollection", "features": [')
        self.first = True

    def write(self, record, cells, keys):
        geometry = None
        if record.latitude is not None and record.longitude is not None:
            geometry = {"type": "Point", "coordinates": [record.longitude, record.latitude]}
        feature = {
            "type": "Feature",
            "id": str(record.id),
            "geometry": geometry,
            "properties": {key: record.values.get(key) for key in keys},
        }
        self.text.write(("" if self.first else ",") + json.dumps(feature, default=str))
        self.first = False

    def close(self):
        self.text.write("]}")
        self.text.flush()
        self.text.detach()


_EXPORT_WRITERS = {"csv": _CsvExport, "xlsx": _XlsxExport, "geojson": _GeoJsonExport}


# --- geocoding --------------------------------------------------------------------------------------


def address_of(values, address_fields):
    """The address text of a record from its chosen fields (address values use their parts)."""
    parts = []
    for key in address_fields:
        value = values.get(key)
        if isinstance(value, dict):
            value = value.get("formatted") or ", ".join(
                str(value[p]) for p in ("street", "city", "state", "postal_code", "country") if value.get(p)
            )
        if value not in (None, ""):
            parts.append(str(value))
    return ", ".join(parts)


def geocode_recordset(recordset_id, address_fields):
    """Geocode the recordset's records that have no coordinates yet; store latitude and longitude."""
    progress = current_progress()
    ticker = _Ticker(progress)
    recordset = db.session.get(Recordset, uuid.UUID(recordset_id))
    point_key = next((f["key"] for f in recordset.fields if f["type"] == "geo_point"), None)
    geocoder = geocoding.get_geocoder()
    missing = sa.and_(
        Record.recordset_id == recordset.id, Record.status == "active", Record.latitude.is_(None)
    )
    total = db.session.scalar(sa.select(sa.func.count()).where(missing))
    done = found = 0
    last_id = None
    ticker.report(progress=0, step="geocoding", data={"total": total, "geocoded": 0, "not_found": 0})
    while True:
        query = sa.select(Record).where(missing).order_by(Record.id).limit(100)
        if last_id is not None:
            query = query.where(Record.id > last_id)
        batch = db.session.scalars(query).all()
        if not batch:
            break
        for record in batch:
            result = geocoding.geocode(address_of(record.values, address_fields), geocoder=geocoder)
            done += 1
            if result is not None:
                found += 1
                record.latitude, record.longitude = result.latitude, result.longitude
                if point_key and not record.values.get(point_key):
                    record.values = {
                        **record.values,
                        point_key: {"lat": result.latitude, "lng": result.longitude},
                    }
            if ticker.due():
                ticker.report(
                    progress=min(99, done * 100 // max(total, 1)),
                    step="geocoding",
                    data={"total": total, "geocoded": found, "not_found": done - found},
                )
        last_id = batch[-1].id
        progress.checkpoint()  # a cancelled or failed job keeps the batches already geocoded
        progress.check_cancelled()
        ticker.report(
            progress=min(99, done * 100 // max(total, 1)),
            step="geocoding",
            data={"total": total, "geocoded": found, "not_found": done - found},
        )
    return {"total": total, "geocoded": found, "not_found": done - found}
