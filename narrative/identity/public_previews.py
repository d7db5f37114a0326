"""Screenshots and generated assets shown to people without an account (external reviewers).

The studio's public allow-list has `/screenshots` (static previews of shared resources) and
`/assets` (generated assets sent for review). Both serve a stored file *inline* to whoever holds a
signed link, like the download links of `narrative.platform.storage`: the signature over the file
id and expiry is the authority, so nothing is guessable and nothing else of a workspace is exposed.
Only files stored for that purpose are served (`purpose="screenshot"` / `purpose="asset"`), so a
download link of some other file cannot be replayed here.

    stored = store_file(workspace_id=ws.id, data=png, filename="hero.png", purpose=ASSET)
    link = preview_url(stored, expires_in=7 * 86400)    # /api/v1/assets?file_id=..&exp=..&sig=..
"""

from urllib.parse import parse_qs, urlencode, urlsplit

from narrative.extensions import db
from narrative.platform.errors import NotFound
from narrative.platform.storage import StoredFile, open_file, signed_download_url, verify_download
from narrative.platform.tenancy import all_workspaces

SCREENSHOT = "screenshot"
ASSET = "asset"
PREVIEW_PATHS = {SCREENSHOT: "/api/v1/screenshots", ASSET: "/api/v1/assets"}


def preview_url(stored_file, *, expires_in=7 * 86400):
    """The public link to a screenshot or asset (the file's purpose picks the route)."""
    path = PREVIEW_PATHS.get(stored_file.purpose)
    if path is None:
        raise ValueError(f"only files stored as {', '.join(PREVIEW_PATHS)} have preview links")
    query = parse_qs(urlsplit(signed_download_url(stored_file, expires_in=expires_in)).query)
    params = {"file_id": str(stored_file.id), "exp": query["exp"][0], "sig": query["sig"][0]}
    return f"{path}?{urlencode(params)}"


def open_preview(*, purpose, file_id, exp, sig):
    """(StoredFile, binary stream) for a valid link; 403/410 for a bad or old link, 404 if gone."""
    verify_download(file_id, exp=exp, sig=sig)
    with all_workspaces():  # a public link: the signature, not a caller, grants the file
        stored = db.session.get(StoredFile, file_id)
    if stored is None or stored.purpose != purpose:
        raise NotFound("This preview does not exist.")
    try:
        return stored, open_file(stored)
    except FileNotFoundError:
        raise NotFound("This preview's contents are no longer available.") from None
