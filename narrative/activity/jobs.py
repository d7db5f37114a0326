"""The activity export job: the feed's rows (with its filters) as CSV or JSON lines, with progress."""

import csv
import io
import json
import tempfile
import uuid
from datetime import datetime

import sqlalchemy as sa

from narrative.activity import service
from narrative.activity.models import Activity
from narrative.extensions import db
from narrative.platform.jobs import current_progress
from narrative.platform.storage import store_file

EXPORT_KIND = "activity.export"
CHUNK = 1000
COLUMNS = ("id", "created_at", "actor_id", "event_type", "object_type", "verb", "object_id", "summary")
FORMATS = ("csv", "jsonl")


def _row_values(row):
    return {
        "id": str(row.id),
        "created_at": row.created_at.isoformat(),
        "actor_id": str(row.actor_id),
        "event_type": row.event_type,
        "object_type": row.object_type,
        "verb": row.verb,
        "object_id": row.object_id or "",
        "summary": row.summary,
    }


def export_activity(*, workspace_id, user_id, filters, file_format="csv"):
    """Write the matching rows, oldest first, in chunks (keyset by id), reporting progress."""
    progress = current_progress()
    workspace_id, user_id = uuid.UUID(workspace_id), uuid.UUID(user_id)
    query = service.feed_query(user_id=user_id, filters=filters)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    progress.report(progress=0, step="exporting", data={"rows_total": total, "rows_written": 0})
    written = 0
    last_id = None
    with tempfile.TemporaryFile() as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.DictWriter(text, fieldnames=COLUMNS) if file_format == "csv" else None
        if writer:
            writer.writeheader()
        while True:
            progress.check_cancelled()
            chunk_query = query.order_by(Activity.id).limit(CHUNK)
            if last_id is not None:
                chunk_query = chunk_query.where(Activity.id > last_id)
            rows = db.session.scalars(chunk_query).all()
            if not rows:
                break
            for row in rows:
                values = _row_values(row)
                if writer:
                    writer.writerow(values)
                else:
                    text.write(json.dumps(values) + "\n")
            written += len(rows)
            last_id = rows[-1].id
            db.session.expire_all()  # keep memory flat over large exports
            progress.report(
                progress=min(99, written * 100 // max(total, 1)),
                step="exporting",
                data={"rows_total": total, "rows_written": written},
            )
        text.flush()
        out.seek(0)
        extension = "csv" if file_format == "csv" else "jsonl"
        stored = store_file(
            workspace_id=workspace_id,
            data=out,
            filename=f"activity-export.{extension}",
            owner_id=user_id,
            purpose=EXPORT_KIND,
            max_bytes=2 * 1024 * 1024 * 1024,
        )
        text.detach()
    return {"file_id": str(stored.id), "rows": written, "format": file_format, "filename": stored.filename}


def run_export(workspace_id, user_id, filters, file_format):
    """The RQ entry point (positional arguments from the route; dates arrive as ISO strings)."""
    filters = dict(filters)
    for key in ("start_date", "end_date"):
        if filters.get(key):
            filters[key] = datetime.fromisoformat(filters[key])
    return export_activity(
        workspace_id=workspace_id, user_id=user_id, filters=filters, file_format=file_format
    )
