"""Members: pagination and search, tours, profile and avatar, last-owner protection, offboarding."""

import io
import uuid

from narrative.extensions import db
from narrative.identity.members import ownership
from narrative.identity.models import ApiKey, Member, User
from tests.identity.factories import auth_headers, make_api_key, make_user, workspace_of
from tests.identity.workspace_helpers import event_types, member_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(64))


def team_led_by(client, owner, member):
    team = client.post(
        "/api/v1/teams", json={"name": "Ops", "lead_member_id": str(member.id)}, headers=auth_headers(owner)
    )
    assert team.status_code == 201, team.json
    return team.json


def test_members_list_pages_and_searches(client):
    owner = make_user(name="Zed Owner")
    workspace = workspace_of(owner)
    for name in ("Alice Archer", "Bob Baker", "Carla Cook", "Dan Dyer", "Erin Archer"):
        make_user(name=name, role="member", workspace=workspace)
    other = make_user(name="Alice Elsewhere")  # another workspace: never listed
    headers = auth_headers(owner)

    first = client.get("/api/v1/members", query_string={"page": 1, "page_size": 2}, headers=headers)
    assert first.status_code == 200
    assert first.json["total"] == 6 and first.json["pages"] == 3 and first.json["has_more"] is True
    assert [m["name"] for m in first.json["items"]] == ["Alice Archer", "Bob Baker"]
    last = client.get("/api/v1/members", query_string={"page": 3, "page_size": 2}, headers=headers)
    assert [m["name"] for m in last.json["items"]] == ["Erin Archer", "Zed Owner"] and last.json[
        "has_more"
    ] is False

    skipped = client.get("/api/v1/members", query_string={"skip": 4, "limit": 5}, headers=headers)
    assert skipped.json["skip"] == 4 and len(skipped.json["items"]) == 2

    by_name = client.get("/api/v1/members", query_string={"search": "archer"}, headers=headers)
    assert sorted(m["name"] for m in by_name.json["items"]) == ["Alice Archer", "Erin Archer"]
    by_email = client.get("/api/v1/members", query_string={"search": owner.email}, headers=headers)
    assert [m["user_id"] for m in by_email.json["items"]] == [str(owner.id)]
    assert other.email not in {
        m["email"] for m in client.get("/api/v1/members", headers=headers).json["items"]
    }

    too_big = client.get("/api/v1/members", query_string={"page_size": 500}, headers=headers)
    assert too_big.status_code == 422

    everyone = client.get("/api/v1/members/all", headers=headers)
    assert everyone.status_code == 200 and len(everyone.json) == 6
    assert set(everyone.json[0]) == {
        "id",
        "user_id",
        "email",
        "full_name",
        "display_name",
        "avatar_url",
        "role",
    }


def test_me_and_onboarding_tours(client):
    user = make_user()
    headers = auth_headers(user)
    me = client.get("/api/v1/members/me", headers=headers)
    assert me.status_code == 200 and me.json["role"] == "owner" and "members.manage" in me.json["permissions"]
    assert me.json["tours"] == {} and me.json["onboarding_completed"] is False

    client.post("/api/v1/members/me/tours", json={"tour_id": "welcome"}, headers=headers)
    done = client.post(
        "/api/v1/members/me/tours",
        json={"tour_id": "pipeline", "skipped": True, "completed": False},
        headers=headers,
    )
    assert done.status_code == 200
    tours = client.get("/api/v1/members/me/tours", headers=headers).json["tours"]
    assert tours["welcome"]["completed"] is True and tours["pipeline"]["skipped"] is True
    assert client.get("/api/v1/members/me", headers=headers).json["onboarding_completed"] is True

    one = client.delete("/api/v1/members/me/tours", json={"tour_id": "welcome"}, headers=headers)
    assert set(one.json["tours"]) == {"pipeline"}
    everything = client.delete("/api/v1/members/me/tours", headers=headers)
    assert everything.status_code == 200 and everything.json["tours"] == {}


def test_profile_update_rules(client):
    owner = make_user()
    workspace = workspace_of(owner)
    admin = make_user(role="admin", workspace=workspace)
    member = make_user(role="member", workspace=workspace)
    member_row = member_of(member, workspace)

    own = client.patch(
        f"/api/v1/members/{member_row.id}",
        json={"title": "Broker", "name": "Mia"},
        headers=auth_headers(member),
    )
    assert own.status_code == 200 and own.json["title"] == "Broker" and own.json["name"] == "Mia"
    self_promotion = client.patch(
        f"/api/v1/members/{member_row.id}", json={"role": "admin"}, headers=auth_headers(member)
    )
    assert self_promotion.status_code == 403

    promoted = client.patch(
        f"/api/v1/members/{member_row.id}", json={"role": "admin"}, headers=auth_headers(admin)
    )
    assert promoted.status_code == 200 and promoted.json["role"] == "admin"
    owner_row = member_of(owner, workspace)
    above = client.patch(
        f"/api/v1/members/{owner_row.id}", json={"role": "member"}, headers=auth_headers(admin)
    )
    assert above.status_code == 403
    to_owner = client.patch(
        f"/api/v1/members/{member_row.id}", json={"role": "owner"}, headers=auth_headers(admin)
    )
    assert to_owner.status_code == 403
    assert "member.updated" in event_types(workspace.id)


def test_deactivated_member_loses_access_at_once(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    headers = auth_headers(member)
    assert client.get("/api/v1/members", headers=headers).status_code == 200
    row = member_of(member, workspace)
    off = client.patch(
        f"/api/v1/members/{row.id}", json={"status": "deactivated"}, headers=auth_headers(owner)
    )
    assert off.status_code == 200 and off.json["status"] == "deactivated"
    assert client.get("/api/v1/members", headers=headers).status_code == 403
    on = client.patch(f"/api/v1/members/{row.id}", json={"status": "active"}, headers=auth_headers(owner))
    assert on.json["status"] == "active"
    assert client.get("/api/v1/members", headers=headers).status_code == 200


def test_the_last_owner_cannot_be_removed_demoted_or_deactivated(client):
    owner = make_user()
    workspace = workspace_of(owner)
    row = member_of(owner, workspace)
    headers = auth_headers(owner)
    for response in (
        client.delete(f"/api/v1/members/{row.id}", headers=headers),
        client.patch(f"/api/v1/members/{row.id}", json={"role": "admin"}, headers=headers),
        client.patch(f"/api/v1/members/{row.id}", json={"status": "deactivated"}, headers=headers),
    ):
        assert response.status_code == 409 and response.json["error"] == "last_owner"
        assert "at least one active owner" in response.json["message"]
    assert (
        client.get(f"/api/v1/members/{row.id}/deletion-info", headers=headers).json["is_last_owner"] is True
    )

    second = make_user(role="owner", workspace=workspace)
    demoted = client.patch(f"/api/v1/members/{row.id}", json={"role": "admin"}, headers=auth_headers(second))
    assert demoted.status_code == 200 and demoted.json["role"] == "admin"


def test_permanent_delete_is_refused_until_everything_is_reassigned(client):
    owner = make_user()
    workspace = workspace_of(owner)
    leaving = make_user(role="admin", workspace=workspace)
    leaving_row = member_of(leaving, workspace)
    team_led_by(client, owner, leaving_row)
    make_api_key(leaving, name="Zapier")
    headers = auth_headers(owner)

    owned = client.get(f"/api/v1/members/{leaving_row.id}/owned-items", headers=headers).json
    counts = {item["kind"]: item["count"] for item in owned["items"]}
    assert counts["teams_led"] == 1 and counts["api_keys"] == 1 and owned["total"] == 2
    info = client.get(f"/api/v1/members/{leaving_row.id}/deletion-info", headers=headers).json
    assert info["workspace_count"] == 1 and info["can_delete_user"] is False and info["must_reassign"] is True

    refused = client.delete(f"/api/v1/members/{leaving_row.id}/permanent", headers=headers)
    assert refused.status_code == 409 and refused.json["error"] == "owned_items_remain"
    assert {item["kind"] for item in refused.json["owned_items"]} == {"teams_led", "api_keys"}
    assert db.session.get(User, leaving.id) is not None

    owner_row = member_of(owner, workspace)
    moved = client.post(
        f"/api/v1/members/{leaving_row.id}/reassign",
        json={"to_member_id": str(owner_row.id)},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.json["moved"] == {"api_keys": 1, "teams_led": 1}
    assert db.session.scalar(db.select(ApiKey.user_id).filter_by(name="Zapier")) == owner.id
    assert (
        client.get(f"/api/v1/members/{leaving_row.id}/deletion-info", headers=headers).json["can_delete_user"]
        is True
    )

    deleted = client.delete(f"/api/v1/members/{leaving_row.id}/permanent", headers=headers)
    assert deleted.status_code == 204
    db.session.expire_all()
    assert db.session.get(User, leaving.id) is None
    assert "member.items_reassigned" in event_types(workspace.id) and "member.deleted" in event_types(
        workspace.id
    )


def test_permanent_delete_needs_the_user_to_be_in_this_workspace_alone(client):
    owner = make_user()
    workspace = workspace_of(owner)
    shared = make_user(role="member", workspace=workspace)
    db.session.add(
        Member(workspace_id=workspace_of(make_user()).id, user_id=shared.id, role="member", status="active")
    )
    db.session.commit()
    row = member_of(shared, workspace)
    info = client.get(f"/api/v1/members/{row.id}/deletion-info", headers=auth_headers(owner)).json
    assert info["workspace_count"] == 2 and info["can_delete_user"] is False
    refused = client.delete(f"/api/v1/members/{row.id}/permanent", headers=auth_headers(owner))
    assert refused.status_code == 409


def test_soft_remove_keeps_the_record_and_ends_access(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    row = member_of(member, workspace)
    removed = client.delete(f"/api/v1/members/{row.id}", headers=auth_headers(owner))
    assert removed.status_code == 204
    db.session.expire_all()
    kept = db.session.get(Member, row.id)
    assert kept.status == "deactivated" and kept.removed_at is not None
    assert client.get("/api/v1/members/me", headers=auth_headers(member, workspace)).status_code == 403
    listed = client.get("/api/v1/members", headers=auth_headers(owner)).json["items"]
    assert str(row.id) not in {m["id"] for m in listed}
    assert "member.removed" in event_types(workspace.id)


def test_add_member_directly(client):
    owner = make_user()
    workspace = workspace_of(owner)
    existing = make_user(email="known@example.com")
    added = client.post(
        "/api/v1/members", json={"email": "known@example.com", "role": "viewer"}, headers=auth_headers(owner)
    )
    assert added.status_code == 201 and added.json["status"] == "active" and added.json["role"] == "viewer"
    assert member_of(existing, workspace).status == "active"
    again = client.post("/api/v1/members", json={"email": "known@example.com"}, headers=auth_headers(owner))
    assert again.status_code == 409
    new = client.post("/api/v1/members", json={"email": "new@example.com"}, headers=auth_headers(owner))
    assert new.status_code == 201 and new.json["status"] == "invited"


def test_avatar_upload_images_only(client):
    owner = make_user()
    workspace = workspace_of(owner)
    member = make_user(role="member", workspace=workspace)
    row = member_of(member, workspace)
    uploaded = client.post(
        f"/api/v1/members/{row.id}/avatar",
        data={"file": (io.BytesIO(PNG), "me.png")},
        headers=auth_headers(member),
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 200, uploaded.json
    assert "/download" in uploaded.json["avatar_url"]
    text = client.post(
        f"/api/v1/members/{row.id}/avatar",
        data={"file": (io.BytesIO(b"just some text"), "me.png")},
        headers=auth_headers(owner),
        content_type="multipart/form-data",
    )
    assert text.status_code == 415
    owner_row = member_of(owner, workspace)
    not_yours = client.post(
        f"/api/v1/members/{owner_row.id}/avatar",
        data={"file": (io.BytesIO(PNG), "x.png")},
        headers=auth_headers(member),
        content_type="multipart/form-data",
    )
    assert not_yours.status_code == 403


def test_another_workspaces_member_is_404(client):
    owner = make_user()
    stranger = make_user()
    theirs = member_of(stranger, workspace_of(stranger))
    headers = auth_headers(owner)
    for response in (
        client.get(f"/api/v1/members/{theirs.id}", headers=headers),
        client.patch(f"/api/v1/members/{theirs.id}", json={"title": "x"}, headers=headers),
        client.delete(f"/api/v1/members/{theirs.id}", headers=headers),
        client.delete(f"/api/v1/members/{theirs.id}/permanent", headers=headers),
        client.get(f"/api/v1/members/{theirs.id}/owned-items", headers=headers),
        client.get(f"/api/v1/members/{uuid.uuid4()}", headers=headers),
        client.get("/api/v1/members/not-a-uuid", headers=headers),
    ):
        assert response.status_code == 404
    own = member_of(owner, workspace_of(owner))
    # In the payload, another workspace's member and a random id are the same 422 naming the field.
    for to_member_id in (theirs.id, uuid.uuid4()):
        cross = client.post(
            f"/api/v1/members/{own.id}/reassign", json={"to_member_id": str(to_member_id)}, headers=headers
        )
        assert cross.status_code == 422
        assert [d["field"] for d in cross.json["details"]] == ["to_member_id"]


def test_the_registry_takes_new_kinds(app):
    calls = []

    def count(*, workspace_id, member):
        return 3

    def move(*, workspace_id, from_member, to_member):
        calls.append((from_member, to_member))
        return 3

    ownership.register_owned_items("test_widgets", count, move, description="Widgets")
    try:
        owner = make_user()
        workspace = workspace_of(owner)
        row = member_of(owner, workspace)
        items = {i["kind"]: i for i in ownership.owned_items(workspace_id=workspace.id, member=row)}
        assert items["test_widgets"] == {"kind": "test_widgets", "description": "Widgets", "count": 3}
        other = member_of(make_user(role="member", workspace=workspace), workspace)
        assert ownership.reassign_all(
            workspace_id=workspace.id, from_member=row, to_member=other, kinds=["test_widgets"]
        ) == {"test_widgets": 3}
        assert calls == [(row, other)]
    finally:
        ownership._kinds.pop("test_widgets", None)
