"""GET /api/v1/files/<id>/download: streams a stored file to whoever holds a valid signed link.

Links come from `narrative.platform.storage.signed_download_url`; catalog endpoints that offer a
download return or redirect to one. No login is needed: the HMAC signature over the file id,
the expiry and the optional filename is the authority. A tampered link answers 403
`invalid_signature`, an expired one 410 `link_expired` (the signature is checked first, so an
edited expiry is a 403).
"""

from urllib.parse import quote

from flask import Blueprint, Response, request
from werkzeug.wsgi import wrap_file

from narrative.extensions import db
from narrative.platform.errors import NotFound
from narrative.platform.storage import StoredFile, open_file, verify_download
from narrative.platform.tenancy import all_workspaces

downloads = Blueprint("files", __name__)


def content_disposition(filename):
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 `filename*`."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@downloads.get("/api/v1/files/<uuid:file_id>/download")
def download(file_id):
    """Stream one stored file as an attachment."""
    filename = request.args.get("filename")
    verify_download(file_id, exp=request.args.get("exp"), sig=request.args.get("sig"), filename=filename)
    with all_workspaces():  # a public link: the signature, not a caller, grants the file
        stored = db.session.get(StoredFile, file_id)
    if stored is None:
        raise NotFound("This file no longer exists.")
    try:
        stream = open_file(stored)
    except FileNotFoundError:
        raise NotFound("This file's contents are no longer available.") from None
    response = Response(
        wrap_file(request.environ, stream), mimetype=stored.content_type, direct_passthrough=True
    )
    response.content_length = stored.size
    response.headers["Content-Disposition"] = content_disposition(filename or stored.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly in a browser, the file still cannot run script or load anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["ETag"] = f'"{stored.sha256}"'
    return response
