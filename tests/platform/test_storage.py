"""File storage: generated paths, sniffed types, size caps, transactions and signed downloads."""

import gzip
import hashlib
import io
import uuid
import zipfile
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from narrative.extensions import db
from narrative.identity.models import Workspace
from narrative.platform import storage
from narrative.platform.storage import (
    PayloadTooLarge,
    StoredFile,
    UnsupportedMediaType,
    delete_file,
    open_file,
    signed_download_url,
    sniff_content_type,
    store_file,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n"


@pytest.fixture
def workspace(app):
    ws = Workspace(name="Acme", slug=f"acme-{uuid.uuid4().hex[:8]}")
    db.session.add(ws)
    db.session.commit()
    return ws


@pytest.fixture(autouse=True)
def upload_root(app, tmp_path, monkeypatch):
    """Each test stores into a folder of its own, so it can see exactly what was left behind."""
    root = tmp_path / "uploads"
    monkeypatch.setitem(app.config, "UPLOAD_DIR", str(root))
    app.extensions.pop("narrative_storage", None)
    yield root
    app.extensions.pop("narrative_storage", None)


def files_under(root):
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def office_document(folder):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}/document.xml", "<doc/>")
    return buffer.getvalue()


class SlowStream:
    """A file-like upload that hands out `total` bytes and remembers how many were read."""

    def __init__(self, total, first=b"plain text line\n"):
        self.remaining = total
        self.first = first
        self.read_so_far = 0

    def read(self, size=-1):
        size = self.remaining if size < 0 else min(size, self.remaining)
        chunk = (self.first * (size // len(self.first) + 1))[:size]
        self.remaining -= size
        self.read_so_far += size
        return chunk


def test_store_and_open_round_trip(workspace, upload_root):
    stored = store_file(workspace_id=workspace.id, data=PNG, filename="logo.png", purpose="logo")
    db.session.commit()
    assert stored.content_type == "image/png"
    assert stored.size == len(PNG)
    assert stored.sha256 == hashlib.sha256(PNG).hexdigest()
    assert stored.filename == "logo.png"
    assert stored.storage_key.startswith(f"{workspace.id}/")
    with open_file(stored) as f:
        assert f.read() == PNG
    assert (upload_root / stored.storage_key).read_bytes() == PNG


def test_file_objects_are_copied_in_chunks(workspace):
    data = b"line one\n" * 20000  # larger than the sniffing head and several chunks
    stored = store_file(workspace_id=workspace.id, data=io.BytesIO(data), filename="notes.txt")
    assert stored.size == len(data)
    assert stored.content_type == "text/plain"
    with open_file(stored) as f:
        assert hashlib.sha256(f.read()).hexdigest() == stored.sha256


def test_sniffed_type_wins_over_the_clients_claim(workspace):
    stored = store_file(workspace_id=workspace.id, data=PDF, filename="photo.png", content_type="image/png")
    assert stored.content_type == "application/pdf"
    assert stored.filename == "photo.png"  # kept for display only


def test_allowed_types_check_the_sniffed_type(workspace, upload_root):
    with pytest.raises(UnsupportedMediaType) as refused:
        store_file(
            workspace_id=workspace.id,
            data=b"<script>alert(1)</script>",
            filename="avatar.png",
            content_type="image/png",
            allowed_types={"image/*"},
        )
    assert refused.value.status == 415
    assert refused.value.code == "unsupported_media_type"
    assert "plain text" in refused.value.message
    assert files_under(upload_root) == []
    accepted = store_file(workspace_id=workspace.id, data=PNG, filename="a.png", allowed_types={"image/*"})
    assert accepted.content_type == "image/png"


def test_size_limit_stops_the_copy_and_leaves_nothing(workspace, upload_root):
    before = files_under(upload_root)
    stream = SlowStream(total=10 * 1024 * 1024)
    with pytest.raises(PayloadTooLarge) as refused:
        store_file(workspace_id=workspace.id, data=stream, filename="big.txt", max_bytes=200 * 1024)
    assert refused.value.status == 413
    assert refused.value.code == "payload_too_large"
    # The copy stopped at the cap instead of reading the whole upload.
    assert stream.read_so_far <= 200 * 1024 + storage.CHUNK_SIZE
    assert files_under(upload_root) == before
    assert db.session.scalar(db.select(db.func.count()).select_from(StoredFile)) == 0


def test_size_limit_smaller_than_the_sniffing_head(workspace, upload_root):
    with pytest.raises(PayloadTooLarge):
        store_file(workspace_id=workspace.id, data=b"x" * 101, filename="a.txt", max_bytes=100)
    assert store_file(workspace_id=workspace.id, data=b"x" * 100, filename="a.txt", max_bytes=100).size == 100
    assert files_under(upload_root) != []


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("../../../etc/passwd", "passwd"),
        ("..\\..\\windows\\win.ini", "win.ini"),
        ("/absolute/path/.bashrc", "bashrc"),
        ("..", "file"),
        ("evil\r\nname.txt", "evilname.txt"),
    ],
)
def test_filenames_never_reach_the_storage_path(workspace, upload_root, filename, shown):
    stored = store_file(workspace_id=workspace.id, data=b"hello", filename=filename)
    assert stored.filename == shown
    assert ".." not in stored.storage_key
    assert shown not in stored.storage_key
    path = (upload_root / stored.storage_key).resolve()
    assert path.is_relative_to(upload_root.resolve())
    assert path.read_bytes() == b"hello"


def test_local_storage_refuses_keys_that_leave_its_root(tmp_path):
    backend = storage.LocalStorage(tmp_path)
    for key in ("../outside", "a/../../b", "/etc/passwd", "a//b", ""):
        with pytest.raises(ValueError):
            backend.path_for(key)


def test_rolled_back_upload_removes_its_bytes(workspace, upload_root):
    before = files_under(upload_root)
    stored = store_file(workspace_id=workspace.id, data=b"draft", filename="draft.txt")
    assert (upload_root / stored.storage_key).exists()
    db.session.rollback()
    assert files_under(upload_root) == before


def test_upload_abandoned_without_commit_removes_its_bytes(workspace, upload_root):
    stored = store_file(workspace_id=workspace.id, data=b"draft", filename="draft.txt")
    path = upload_root / stored.storage_key
    db.session.close()  # what the end of a failed request does
    assert not path.exists()


def test_committed_upload_survives_the_session(workspace, upload_root):
    key = store_file(workspace_id=workspace.id, data=b"final", filename="final.txt").storage_key
    db.session.commit()
    db.session.close()
    assert (upload_root / key).read_bytes() == b"final"


def test_delete_removes_bytes_only_when_committed(workspace, upload_root):
    stored = store_file(workspace_id=workspace.id, data=b"keep me", filename="k.txt")
    db.session.commit()
    path = upload_root / stored.storage_key
    delete_file(stored)
    db.session.rollback()
    assert path.exists()  # the deletion was undone, so the bytes stay
    stored = db.session.get(StoredFile, stored.id)
    delete_file(stored)
    db.session.commit()
    assert not path.exists()
    assert db.session.get(StoredFile, stored.id) is None


def test_unknown_backend_is_a_provider_error(app, monkeypatch):
    monkeypatch.setitem(app.config, "STORAGE_BACKEND", "s3")
    app.extensions.pop("narrative_storage", None)
    with pytest.raises(storage.ProviderNotConfigured) as refused:
        storage.get_storage()
    assert "STORAGE_BACKEND" in refused.value.message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (PDF, "application/pdf"),
        (gzip.compress(b"hello"), "application/gzip"),
        (office_document("word"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (office_document("xl"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (office_document("other"), "application/zip"),
        (b'{"a": [1, 2]}', "application/json"),
        (b"name,email\nAda,ada@example.com\nBob,bob@example.com\n", "text/csv"),
        ("Grüße aus Köln\n".encode(), "text/plain"),
        (b"<html><script>alert(1)</script></html>", "text/plain"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', "text/plain"),
        (b"{not json", "text/plain"),
        (b"\x00\x01\x02binary", "application/octet-stream"),
        (b"", "application/octet-stream"),
    ],
)
def test_content_sniffing(data, expected):
    assert sniff_content_type(data) == expected


def test_text_cut_inside_a_character_is_still_text():
    head = ("é" * 10).encode()[:-1]
    assert sniff_content_type(head, complete=False) == "text/plain"


# --- signed downloads ---------------------------------------------------------------------------


@pytest.fixture
def stored_pdf(workspace):
    stored = store_file(workspace_id=workspace.id, data=PDF, filename="Rapport annuel é.pdf")
    db.session.commit()
    return stored


def with_params(url, **changes):
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    params.update(changes)
    return f"{parts.path}?{urlencode(params)}"


def test_signed_url_downloads_the_file(client, stored_pdf):
    url = signed_download_url(stored_pdf)
    assert url.startswith(f"/api/v1/files/{stored_pdf.id}/download?exp=")
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == PDF
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Length"] == str(len(PDF))
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''Rapport%20annuel%20%C3%A9.pdf" in disposition
    assert 'filename="Rapport annuel _.pdf"' in disposition


def test_signed_filename_override(client, stored_pdf):
    url = signed_download_url(stored_pdf, filename="report.pdf")
    response = client.get(url)
    assert response.status_code == 200
    assert "filename*=UTF-8''report.pdf" in response.headers["Content-Disposition"]
    assert client.get(with_params(url, filename="other.exe")).status_code == 403


@pytest.mark.parametrize("change", ["sig", "exp", "id", "missing"])
def test_tampered_links_are_refused(client, stored_pdf, workspace, change):
    url = signed_download_url(stored_pdf)
    if change == "sig":
        sig = parse_qs(urlsplit(url).query)["sig"][0]
        url = with_params(url, sig=("A" if sig[0] != "A" else "B") + sig[1:])
    elif change == "exp":
        url = with_params(url, exp=str(int(parse_qs(urlsplit(url).query)["exp"][0]) + 86400))
    elif change == "id":
        other = store_file(workspace_id=workspace.id, data=b"secret", filename="other.txt")
        db.session.commit()
        url = url.replace(str(stored_pdf.id), str(other.id))
    else:
        url = urlsplit(url).path
    response = client.get(url)
    assert response.status_code == 403
    body = response.get_json()
    assert body["error"] == "invalid_signature"
    assert body["request_id"]


def test_expired_links_are_gone(client, stored_pdf, monkeypatch):
    url = signed_download_url(stored_pdf, expires_in=60)
    real_time = storage.time.time
    monkeypatch.setattr(storage.time, "time", lambda: real_time() + 61)
    response = client.get(url)
    assert response.status_code == 410
    assert response.get_json()["error"] == "link_expired"


def test_link_to_a_deleted_file_is_not_found(client, stored_pdf):
    url = signed_download_url(stored_pdf)
    delete_file(stored_pdf)
    db.session.commit()
    assert client.get(url).status_code == 404


def test_download_route_is_not_in_the_openapi_document(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert not any(path.startswith("/api/v1/files/") for path in paths)


# --- through an HTTP upload ---------------------------------------------------------------------


def upload(client, workspace, data, filename, **params):
    query = urlencode({"workspace_id": str(workspace.id), **params})
    return client.post(
        f"/_probe/files?{query}",
        data={"file": (io.BytesIO(data), filename, "image/png")},
        content_type="multipart/form-data",
    )


def test_upload_then_download_over_http(client, workspace):
    response = upload(client, workspace, PNG, "../../me.png", allowed="image/png")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == "image/png"
    assert client.get(body["url"]).data == PNG


def test_upload_refusals_use_the_error_format(client, workspace, upload_root):
    refused = upload(client, workspace, PDF, "fake.png", allowed="image/png,image/jpeg")
    assert refused.status_code == 415
    assert refused.get_json()["error"] == "unsupported_media_type"
    assert "PDF" in refused.get_json()["message"]
    too_big = upload(client, workspace, PNG, "big.png", max_bytes=10)
    assert too_big.status_code == 413
    assert too_big.get_json()["error"] == "payload_too_large"
    assert files_under(upload_root) == []
