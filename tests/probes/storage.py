"""Probe route for file storage: an upload endpoint that stores what it is sent."""

import uuid

from flask import request

from narrative.extensions import db
from narrative.platform.api import Blueprint
from narrative.platform.storage import signed_download_url, store_file
from narrative.platform.tenancy import all_workspaces_for_this_request

blp = Blueprint("probe_storage", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)


@blp.route("/_probe/files", methods=["POST"])
def upload():
    """Store the multipart `file` in the workspace named by the query; answer its signed link."""
    upload = request.files["file"]
    allowed = request.args.get("allowed")
    stored = store_file(
        workspace_id=uuid.UUID(request.args["workspace_id"]),
        data=upload,
        filename=upload.filename,
        content_type=upload.mimetype,
        max_bytes=request.args.get("max_bytes", type=int),
        allowed_types=set(allowed.split(",")) if allowed else None,
    )
    db.session.commit()
    return {
        "id": str(stored.id),
        "content_type": stored.content_type,
        "url": signed_download_url(stored),
    }, 201
