"""The activity feed: events with an actor become rows; filters, stats; exports with progress."""

import csv
import io
import json
import uuid
from datetime import timedelta

import sqlalchemy as sa

from narrative.activity.models import Activity
from narrative.extensions import db
from narrative.identity.models import Member, Team, TeamMember
from narrative.platform.events import emit
from narrative.platform.models import new_id, utcnow
from tests.identity.factories import auth_headers, make_user, workspace_of
from workers.worker import run_jobs_in_process


def add_rows(workspace_id, actor_id, count, *, object_type="record", start=None):
    start = start or utcnow() - timedelta(days=1)
    rows = [
        {
            "id": new_id(),
            "workspace_id": workspace_id,
            "actor_id": actor_id,
            "event_type": f"{object_type}.created",
            "object_type": object_type,
            "verb": "created",
            "object_id": str(i),
            "summary": f"{object_type.capitalize()} created: item {i}",
            "data": {},
            "created_at": start + timedelta(seconds=i),
        }
        for i in range(count)
    ]
    db.session.execute(sa.insert(Activity), rows)
    db.session.commit()
    return rows


def test_events_with_an_actor_become_activity(app, auth_client):
    workspace_id, user_id = auth_client.workspace.id, auth_client.user.id
    emit("probe.note.added", {"text": "Call the supplier back"}, workspace_id=workspace_id, actor_id=user_id)
    emit("probe.note.added", {"text": "system did this"}, workspace_id=workspace_id)  # no actor: not activity
    db.session.commit()
    run_jobs_in_process(app)
    (item,) = auth_client.get("/api/v1/activity/feed").get_json()["items"]
    assert item["actor_id"] == str(user_id) and item["actor_email"] == auth_client.user.email
    assert (item["object_type"], item["verb"]) == ("probe_note", "added")
    assert item["summary"] == "Probe note added: Call the supplier back"


def test_feed_filters_paginate_and_stay_in_the_workspace(client, auth_client):
    me, ws = auth_client.user.id, auth_client.workspace.id
    colleague = make_user(role="member", workspace=auth_client.workspace)
    other = colleague.id
    add_rows(ws, me, 5, object_type="record")
    add_rows(ws, other, 3, object_type="goal", start=utcnow() - timedelta(days=10))
    feed = lambda q="": auth_client.get("/api/v1/activity/feed" + q).get_json()  # noqa: E731
    assert feed()["total"] == 8 and feed()["limit"] == 20
    assert feed("?types=goal")["total"] == 3
    assert feed("?scope=mine")["total"] == 5
    assert feed(f"?user_ids={other}")["total"] == 3
    membership = db.session.scalar(
        sa.select(Member).where(Member.user_id == other, Member.workspace_id == ws)
    )
    assert feed(f"?user_ids={membership.id},{me}")["total"] == 8  # a member id names its user too
    assert feed("?search=item%204")["total"] == 1
    since = (utcnow() - timedelta(days=3)).date().isoformat()
    assert feed(f"?start_date={since}T00:00:00")["total"] == 5
    page = feed("?limit=3&offset=3")
    assert len(page["items"]) == 3 and page["has_more"] is True
    times = [i["created_at"] for i in feed()["items"]]
    assert times == sorted(times, reverse=True)
    assert auth_client.get("/api/v1/activity/feed?limit=101").status_code == 422
    assert client.get("/api/v1/activity/feed", headers=auth_headers(make_user())).get_json()["total"] == 0
    stats = auth_client.get("/api/v1/activity/stats").get_json()
    assert stats["by_type"] == {"record": 5, "goal": 3} and stats["total"] == 8
    assert sum(day["count"] for day in stats["by_day"]) == 8


def stream_frames(response):
    return [
        json.loads(line[6:])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]


def test_an_export_of_ten_thousand_rows_streams_progress_and_downloads_exactly_them(app, client, auth_client):
    ws, me = auth_client.workspace.id, auth_client.user.id
    rows = add_rows(ws, me, 10_000)
    add_rows(uuid.UUID(str(make_user_workspace())), me, 5)  # another workspace's rows stay out

    started = auth_client.post("/api/v1/activity/export", json={"format": "csv"}).get_json()
    job_id = started["job_id"]
    run_jobs_in_process(app)

    frames = stream_frames(auth_client.get(f"/api/v1/activity/export/jobs/{job_id}/stream"))
    written = [f["rows_written"] for f in frames if "rows_written" in f]
    assert written[0] == 0 and written[-1] == 10_000 and written == sorted(written) and len(written) >= 10
    assert frames[-1]["status"] == "COMPLETED"

    job = auth_client.get(f"/api/v1/activity/export/jobs/{job_id}").get_json()
    assert job["status"] == "COMPLETED" and job["output_data"]["rows"] == 10_000
    listed = auth_client.get("/api/v1/activity/export/jobs").get_json()
    assert [j["id"] for j in listed["items"]] == [job_id]

    link = auth_client.get(f"/api/v1/activity/export/jobs/{job_id}/download-url").get_json()
    downloaded = client.get(link["download_url"])  # no credentials: the signature authorises
    assert downloaded.status_code == 200
    exported = list(csv.DictReader(io.StringIO(downloaded.get_data(as_text=True))))
    assert len(exported) == 10_000
    assert {r["id"] for r in exported} == {str(r["id"]) for r in rows}

    tampered = link["download_url"].replace("sig=", "sig=x")
    assert client.get(tampered).status_code == 403
    direct = auth_client.get(f"/api/v1/activity/export/jobs/{job_id}/download")
    assert direct.get_data(as_text=True) == downloaded.get_data(as_text=True)


def make_user_workspace():
    return workspace_of(make_user()).id


def test_a_json_lines_export_with_filters(app, client, auth_client):
    ws, me = auth_client.workspace.id, auth_client.user.id
    add_rows(ws, me, 4, object_type="record")
    add_rows(ws, me, 2, object_type="goal")
    job_id = auth_client.post(
        "/api/v1/activity/export", json={"format": "jsonl", "types": "goal"}
    ).get_json()["job_id"]
    assert auth_client.get(f"/api/v1/activity/export/jobs/{job_id}/download-url").status_code == 409
    run_jobs_in_process(app)
    body = auth_client.get(f"/api/v1/activity/export/jobs/{job_id}/download").get_data(as_text=True)
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line["object_type"] for line in lines] == ["goal", "goal"]
    stranger = auth_headers(make_user())
    assert client.get(f"/api/v1/activity/export/jobs/{job_id}", headers=stranger).status_code == 404


def test_people_and_teams_named_in_filters_must_be_this_workspaces(app, client, auth_client):
    stranger = make_user()
    far_team = Team(workspace_id=workspace_of(stranger).id, name="Far team")
    db.session.add(far_team)
    db.session.commit()
    for query, field in (
        (f"user_ids={stranger.id}", "user_ids"),
        (f"user_ids={auth_client.user.id},{uuid.uuid4()}", "user_ids"),
        ("user_ids=not-an-id", "user_ids"),
        (f"team_ids={far_team.id}", "team_ids"),
        (f"team_ids={uuid.uuid4()}", "team_ids"),
    ):
        refused = auth_client.get(f"/api/v1/activity/feed?{query}")
        assert refused.status_code == 422 and refused.get_json()["details"][0]["field"] == field, query
    # The workspace's own team filters to its members' activity.
    ws = auth_client.workspace.id
    colleague = make_user(role="member", workspace=auth_client.workspace)
    membership = db.session.scalar(
        sa.select(Member).where(Member.user_id == colleague.id, Member.workspace_id == ws)
    )
    team = Team(workspace_id=ws, name="Sales")
    db.session.add(team)
    db.session.flush()
    db.session.add(TeamMember(workspace_id=ws, team_id=team.id, member_id=membership.id))
    add_rows(ws, colleague.id, 2)
    add_rows(ws, auth_client.user.id, 3)
    assert auth_client.get(f"/api/v1/activity/feed?team_ids={team.id}").get_json()["total"] == 2

    export = auth_client.post("/api/v1/activity/export", json={"user_ids": str(stranger.id)})
    assert export.status_code == 422 and export.get_json()["details"][0]["field"] == "user_ids"
    assert auth_client.get("/api/v1/activity/export/jobs").get_json()["total"] == 0  # no job was started
