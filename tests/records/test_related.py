"""Comments, relationships (both directions) and attachments (upload, signed download, delete)."""

import io

from narrative.extensions import db
from narrative.records import service
from tests.identity.factories import auth_headers


def _record(recordset, owner, name):
    record = service.create_record(recordset=recordset, values={"name": name}, user_id=owner.id)
    db.session.commit()
    return record


def test_relationships_are_listed_from_both_ends(client, owner, recordset):
    headers = auth_headers(owner)
    parent, child = _record(recordset, owner, "Parent"), _record(recordset, owner, "Child")
    created = client.post(
        f"/api/v1/records/{parent.id}/relationships",
        headers=headers,
        json={"target_record_id": str(child.id), "relationship_type": "parent_of"},
    )
    assert created.status_code == 201, created.json
    assert created.json["inverse_type"] == "child_of"
    again = client.post(
        f"/api/v1/records/{parent.id}/relationships",
        headers=headers,
        json={"target_record_id": str(child.id), "relationship_type": "parent_of"},
    )
    assert again.status_code == 409
    itself = client.post(
        f"/api/v1/records/{parent.id}/relationships",
        headers=headers,
        json={"target_record_id": str(parent.id)},
    )
    assert itself.status_code == 422

    from_parent = client.get(f"/api/v1/records/{parent.id}/relationships", headers=headers).json["items"]
    from_child = client.get(f"/api/v1/records/{child.id}/relationships", headers=headers).json["items"]
    assert [(i["direction"], i["type"], i["related_record_id"]) for i in from_parent] == [
        ("outgoing", "parent_of", str(child.id))
    ]
    assert [(i["direction"], i["type"], i["related_record_id"]) for i in from_child] == [
        ("incoming", "child_of", str(parent.id))
    ]
    # A deleted record drops out of the other's relationships.
    client.delete(f"/api/v1/records/{child.id}", headers=headers)
    assert client.get(f"/api/v1/records/{parent.id}/relationships", headers=headers).json["items"] == []


def test_comments(client, owner, recordset):
    headers = auth_headers(owner)
    record = _record(recordset, owner, "Acme")
    first = client.post(
        f"/api/v1/records/{record.id}/comments", headers=headers, json={"body": "Called them"}
    )
    assert first.status_code == 201 and first.json["user"]["email"] == owner.email
    reply = client.post(
        f"/api/v1/records/{record.id}/comments",
        headers=headers,
        json={"body": "And?", "parent_id": first.json["id"]},
    )
    assert reply.status_code == 201
    assert (
        client.post(f"/api/v1/records/{record.id}/comments", headers=headers, json={"body": ""}).status_code
        == 422
    )
    items = client.get(f"/api/v1/records/{record.id}/comments", headers=headers).json["items"]
    assert [item["body"] for item in items] == ["Called them", "And?"]
    assert items[1]["parent_id"] == first.json["id"]


def test_attachments_upload_download_delete(client, owner, recordset):
    headers = auth_headers(owner)
    record = _record(recordset, owner, "Acme")
    uploaded = client.post(
        f"/api/v1/crud/records/{record.id}/attachments",
        headers=headers,
        data={"file": (io.BytesIO(b"name,amount\nacme,1\n"), "deal.csv")},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 201, uploaded.json
    assert uploaded.json["filename"] == "deal.csv" and uploaded.json["size"] == 19
    listed = client.get(f"/api/v1/crud/records/{record.id}/attachments", headers=headers).json["items"]
    assert [item["id"] for item in listed] == [uploaded.json["id"]]
    download = client.get(listed[0]["download_url"])
    assert download.status_code == 200 and download.data == b"name,amount\nacme,1\n"
    tampered = client.get(listed[0]["download_url"].replace("sig=", "sig=0"))
    assert tampered.status_code in (403, 404, 410)
    missing = client.post(
        f"/api/v1/crud/records/{record.id}/attachments",
        headers=headers,
        data={},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422
    deleted = client.delete(
        f"/api/v1/crud/records/{record.id}/attachments/{uploaded.json['id']}", headers=headers
    )
    assert deleted.status_code == 204
    assert client.get(f"/api/v1/crud/records/{record.id}/attachments", headers=headers).json["items"] == []
    assert client.get(listed[0]["download_url"]).status_code == 404
