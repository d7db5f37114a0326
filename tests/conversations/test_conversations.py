"""The conversation store through its three families: CRUD, pagination, sharing, folders, files, isolation."""

import io
import uuid

from tests.identity.factories import auth_headers, make_user, workspace_of


def _create(client, headers, **body):
    response = client.post("/api/v1/chat/conversations", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def _say(client, headers, conversation_id, content, **extra):
    response = client.post(
        f"/api/v1/chat/conversations/{conversation_id}/messages",
        json={"content": content, **extra},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    return response.json


def test_create_list_update_delete_with_skip_limit_pagination(client):
    owner = make_user()
    headers = auth_headers(owner)
    ids = [_create(client, headers, title=f"Chat {n}")["id"] for n in range(3)]

    page = client.get("/api/v1/chat/conversations?skip=0&limit=2", headers=headers).json
    assert page["total"] == 3 and len(page["items"]) == 2 and page["has_more"] is True
    rest = client.get("/api/v1/chat/conversations?skip=2&limit=2", headers=headers).json
    assert {c["id"] for c in page["items"] + rest["items"]} == set(ids)

    updated = client.patch(
        f"/api/v1/chat/conversations/{ids[0]}",
        json={"title": "Roof quotes", "is_pinned": True},
        headers=headers,
    )
    assert updated.status_code == 200 and updated.json["title"] == "Roof quotes"
    pinned = client.get("/api/v1/chat/conversations?pinned_only=true", headers=headers).json
    assert [c["id"] for c in pinned["items"]] == [ids[0]]

    assert client.delete(f"/api/v1/chat/conversations/{ids[1]}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/chat/conversations/{ids[1]}", headers=headers).status_code == 404
    assert client.get("/api/v1/chat/conversations", headers=headers).json["total"] == 2


def test_first_message_titles_the_conversation_and_history_reads_the_same_in_every_family(client):
    owner = make_user()
    headers = auth_headers(owner)
    conversation = _create(client, headers)
    _say(
        client, headers, conversation["id"], "Compare the roofing quotes from Acme and Bolt for the warehouse"
    )
    _say(client, headers, conversation["id"], "A generated image", role="assistant")

    core = client.get(f"/api/v1/chat/conversations/{conversation['id']}/messages", headers=headers).json[
        "items"
    ]
    assistant = client.get(f"/api/conversations/{conversation['id']}/messages", headers=headers).json["items"]
    detail = client.get(f"/api/conversations/{conversation['id']}", headers=headers).json
    core_detail = client.get(f"/api/v1/chat/conversations/{conversation['id']}", headers=headers).json

    assert [m["role"] for m in core] == ["user", "assistant"]
    assert core == assistant == detail["messages"] == core_detail["messages"]
    assert detail["title"] == "Compare Roofing Quotes Acme Bolt Warehouse"
    assert core[1]["parent_id"] == core[0]["id"]


def test_assistant_messages_paginate_by_cursor(client):
    headers = auth_headers(make_user())
    conversation = _create(client, headers)
    for n in range(5):
        _say(client, headers, conversation["id"], f"message number {n}")
    first = client.get(f"/api/conversations/{conversation['id']}/messages?limit=3", headers=headers).json
    second = client.get(
        f"/api/conversations/{conversation['id']}/messages?limit=3&cursor={first['next_cursor']}",
        headers=headers,
    ).json
    contents = [m["content"] for m in first["items"] + second["items"]]
    assert contents == [f"message number {n}" for n in range(5)]
    assert second["has_more"] is False


def test_another_workspace_and_another_members_private_conversations_are_invisible(client):
    owner = make_user()
    colleague = make_user(role="member", workspace=workspace_of(owner))
    stranger = make_user()
    conversation = _create(client, auth_headers(owner), title="Private plans")
    _say(client, auth_headers(owner), conversation["id"], "secret expansion plans")

    for intruder in (colleague, stranger):
        headers = auth_headers(intruder)
        assert (
            client.get(f"/api/v1/chat/conversations/{conversation['id']}", headers=headers).status_code == 404
        )
        assert (
            client.get(f"/api/conversations/{conversation['id']}/messages", headers=headers).status_code
            == 404
        )
        assert (
            client.post(
                f"/api/v1/chat/conversations/{conversation['id']}/messages",
                json={"content": "hi"},
                headers=headers,
            ).status_code
            == 404
        )
        assert (
            client.delete(f"/api/v1/chat/conversations/{conversation['id']}", headers=headers).status_code
            == 404
        )
        assert client.get("/api/v1/chat/conversations", headers=headers).json["total"] == 0
        assert client.get("/api/conversations", headers=headers).json["items"] == []
        found = client.post("/api/v1/chat/search", json={"query": "expansion"}, headers=headers).json
        assert found["results"] == []

    mine = client.post("/api/v1/chat/search", json={"query": "expansion"}, headers=auth_headers(owner)).json
    assert any(r["conversation_id"] == conversation["id"] for r in mine["results"])


def test_sharing_lets_a_participant_read_and_write_but_not_delete(client):
    owner = make_user()
    colleague = make_user(role="member", workspace=workspace_of(owner))
    stranger = make_user()
    conversation = _create(client, auth_headers(owner), title="Team chat")
    url = f"/api/v1/chat/conversations/{conversation['id']}"

    # Another workspace's user and an unknown id get the same answer: a 422 naming the field.
    for outsider in (str(stranger.id), str(uuid.uuid4())):
        refused = client.post(f"{url}/share", json={"user_id": outsider}, headers=auth_headers(owner))
        assert refused.status_code == 422 and refused.json["details"][0]["field"] == "user_id"
    shared = client.post(f"{url}/share", json={"user_id": str(colleague.id)}, headers=auth_headers(owner))
    assert shared.status_code == 200 and shared.json["role"] == "participant"

    people = client.get(f"{url}/participants", headers=auth_headers(colleague)).json
    assert {p["user_id"] for p in people["participants"]} == {str(owner.id), str(colleague.id)}
    _say(client, auth_headers(colleague), conversation["id"], "I can write here")
    assert client.delete(url, headers=auth_headers(colleague)).status_code == 403

    removed = client.delete(f"{url}/participants/{colleague.id}", headers=auth_headers(owner))
    assert removed.status_code == 200
    assert client.get(url, headers=auth_headers(colleague)).status_code == 404


def test_viewer_reads_but_cannot_write(client):
    owner = make_user()
    viewer = make_user(role="viewer", workspace=workspace_of(owner))
    response = client.post("/api/v1/chat/conversations", json={}, headers=auth_headers(viewer))
    assert response.status_code == 403 and response.json["required_permission"] == "chat.write"
    assert client.get("/api/v1/chat/conversations", headers=auth_headers(viewer)).status_code == 200


def test_folders_order_collapse_counts_and_delete_keeps_conversations(client):
    headers = auth_headers(make_user())
    a = client.post("/api/v1/chat/folders", json={"name": "Clients"}, headers=headers).json
    b = client.post("/api/v1/chat/folders", json={"name": "Ideas"}, headers=headers).json
    conversation = _create(client, headers, folder_id=a["id"])
    _create(client, headers)

    listed = client.get("/api/v1/chat/folders", headers=headers).json["folders"]
    assert [(f["name"], f["conversation_count"]) for f in listed] == [("Clients", 1), ("Ideas", 0)]
    reordered = client.post(
        "/api/v1/chat/folders/reorder", json={"folder_ids": [b["id"], a["id"]]}, headers=headers
    )
    assert [f["name"] for f in reordered.json["folders"]] == ["Ideas", "Clients"]
    toggled = client.post(f"/api/v1/chat/folders/{a['id']}/toggle-collapse", headers=headers).json
    assert toggled["is_collapsed"] is True
    in_folder = client.get(f"/api/v1/chat/conversations?folder_id={a['id']}", headers=headers).json
    assert [c["id"] for c in in_folder["items"]] == [conversation["id"]]
    assert client.get("/api/v1/chat/conversations?uncategorized=true", headers=headers).json["total"] == 1

    assert client.delete(f"/api/v1/chat/folders/{a['id']}", headers=headers).status_code == 204
    kept = client.get(f"/api/v1/chat/conversations/{conversation['id']}", headers=headers).json
    assert kept["folder_id"] is None
    other = auth_headers(make_user())
    assert client.get(f"/api/v1/chat/folders/{b['id']}", headers=other).status_code == 404


def test_upload_attaches_a_file_with_text_and_signed_urls(client):
    owner = make_user()
    headers = auth_headers(owner)
    conversation = _create(client, headers)
    data = {"file": (io.BytesIO(b"Quarterly revenue grew 12 percent.\n"), "notes.txt")}
    uploaded = client.post(
        f"/api/v1/chat/conversations/{conversation['id']}/upload",
        data=data,
        headers=headers,
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 200, uploaded.json
    assert uploaded.json["has_text"] is True and "sig=" in uploaded.json["url"]

    message = _say(
        client, headers, conversation["id"], "See attached", attachments=[uploaded.json["file_id"]]
    )
    assert message["attachments"][0]["filename"] == "notes.txt"
    files = client.get(f"/api/v1/chat/conversations/{conversation['id']}/files", headers=headers).json
    assert files["total"] == 1
    url = client.get(f"/api/v1/chat/files/{uploaded.json['file_id']}/download-url", headers=headers).json
    assert client.get(url["download_url"]).data == b"Quarterly revenue grew 12 percent.\n"
    stranger = auth_headers(make_user())
    assert (
        client.get(
            f"/api/v1/chat/files/{uploaded.json['file_id']}/download-url", headers=stranger
        ).status_code
        == 404
    )


def test_titles_branch_feedback_and_soft_delete(client):
    headers = auth_headers(make_user())
    title = client.post(
        "/api/v1/chat/generate-title", json={"message": "How do I price a duplex rental?"}, headers=headers
    )
    assert title.json["title"] == "Price Duplex Rental"

    created = client.post("/api/conversations", json={}, headers=headers).json
    first = _say(client, headers, created["id"], "Plan the product launch for March")
    reply = _say(client, headers, created["id"], "Here is a plan", role="assistant")
    _say(client, headers, created["id"], "Now a second question")
    client.patch(f"/api/v1/chat/conversations/{created['id']}", json={"title": "Mine"}, headers=headers)
    renamed = client.post(f"/api/conversations/{created['id']}/title", headers=headers).json
    assert renamed["title"] == "Plan Product Launch March"

    branch = client.post(
        f"/api/conversations/{created['id']}/branch", json={"message_id": reply["id"]}, headers=headers
    )
    assert branch.status_code == 200 and branch.json["branched_from_id"] == created["id"]
    copied = client.get(f"/api/conversations/{branch.json['id']}/messages", headers=headers).json["items"]
    assert [m["content"] for m in copied] == [first["content"], reply["content"]]

    rated = client.post(
        f"/api/chat/{reply['id']}/feedback", json={"rating": "down", "comment": "Too vague"}, headers=headers
    )
    assert rated.json["feedback"] == {"rating": "down", "comment": "Too vague"}
    assert (
        client.post(f"/api/chat/{first['id']}/feedback", json={"rating": "up"}, headers=headers).status_code
        == 400
    )

    assert client.delete(f"/api/conversations/{created['id']}", headers=headers).json["deleted"] is True
    assert client.get(f"/api/conversations/{created['id']}", headers=headers).status_code == 404


def test_prompt_suggestions_come_from_recent_work_and_are_cached_for_the_day(client):
    headers = auth_headers(make_user())
    conversation = _create(client, headers, title="Warehouse lease")
    _say(client, headers, conversation["id"], "What does the warehouse lease say about renewals?")
    first = client.get("/api/v1/chat/prompt-suggestions", headers=headers).json
    assert len(first["suggestions"]) == 4 and first["cached"] is False
    assert "Warehouse lease" in first["suggestions"][0] and "warehouse" in first["topics"]
    assert client.get("/api/v1/chat/prompt-suggestions", headers=headers).json["cached"] is True
    assert (
        client.get("/api/v1/chat/prompt-suggestions?force_refresh=true", headers=headers).json["cached"]
        is False
    )


def test_participant_events_stream_new_messages(client):
    owner = make_user()
    headers = auth_headers(owner)
    conversation = _create(client, headers)
    _say(client, headers, conversation["id"], "hello team")
    response = client.get(
        f"/api/v1/chat/conversations/{conversation['id']}/events", headers=headers, buffered=False
    )
    assert response.mimetype == "text/event-stream"
    chunks = response.response
    first = ""
    for chunk in chunks:
        first += chunk.decode() if isinstance(chunk, bytes) else chunk
        if "data:" in first:
            break
    response.close()
    assert '"type":"message.created"' in first and "hello team" in first


def test_models_list_the_workspace_provider_and_transcription_needs_a_provider(client):
    headers = auth_headers(make_user())
    models = client.get("/api/v1/chat/models", headers=headers).json["models"]
    assert models and any(m["is_default"] for m in models) and "chat" in models[0]["supports"]

    conversation = _create(client, headers)
    audio = {"file": (io.BytesIO(b"RIFF0000WAVEfmt "), "note.wav")}
    response = client.post(
        f"/api/v1/chat/conversations/{conversation['id']}/transcribe",
        data=audio,
        headers=headers,
        content_type="multipart/form-data",
    )
    assert response.status_code == 503 and response.json["error"] == "provider_not_configured"


def test_participants_see_each_others_messages_as_live_events(client):
    owner = make_user()
    colleague = make_user(role="member", workspace=workspace_of(owner))
    conversation = _create(client, auth_headers(owner))
    url = f"/api/v1/chat/conversations/{conversation['id']}"
    client.post(f"{url}/share", json={"user_id": str(colleague.id)}, headers=auth_headers(owner))
    _say(client, auth_headers(owner), conversation["id"], "welcome aboard")

    response = client.get(f"{url}/events", headers=auth_headers(colleague), buffered=False)
    received = ""
    for chunk in response.response:
        received += chunk.decode() if isinstance(chunk, bytes) else chunk
        if "welcome aboard" in received:
            break
    response.close()
    assert '"type":"participant.added"' in received and '"type":"message.created"' in received
    assert client.get(f"{url}/events", headers=auth_headers(make_user())).status_code == 404


def test_demo_seed_adds_a_first_conversation_once(app, cli, client):
    from narrative.conversations.models import Conversation
    from narrative.extensions import db
    from tests.identity.factories import auth_headers as headers_for

    assert cli.invoke(args=["narrative", "seed"]).exit_code == 0
    assert cli.invoke(args=["narrative", "seed"]).exit_code == 0
    conversation = db.session.scalar(db.select(Conversation))
    assert db.session.query(Conversation).count() == 1
    from narrative.identity.models import User

    owner = db.session.get(User, conversation.owner_id)
    listed = client.get("/api/v1/chat/conversations", headers=headers_for(owner)).json
    assert listed["items"][0]["title"] == "Getting started with chat"


def test_search_finds_messages_by_meaning_and_lists_filter_by_words(client):
    headers = auth_headers(make_user())
    conversation = _create(client, headers, title="Lease")
    sent = _say(client, headers, conversation["id"], "The tenant renewal option expires in June 2027.")
    found = client.post(
        "/api/v1/chat/search", json={"query": "when does the renewal option expire"}, headers=headers
    )
    hit = found.json["results"][0]
    assert hit["source_type"] == "chat_message" and hit["source_id"] == sent["id"] and hit["score"] > 0

    listed = client.get("/api/v1/chat/conversations?search=renewal", headers=headers).json["items"]
    assert [c["id"] for c in listed] == [conversation["id"]]
    assert client.get("/api/v1/chat/conversations?search=penguins", headers=headers).json["items"] == []


def _field_of(response):
    assert response.status_code == 422, response.json
    return [d["field"] for d in response.json["details"]]


def test_ids_named_in_a_payload_must_be_the_callers_own_in_this_workspace(client):
    owner = make_user()
    headers = auth_headers(owner)
    colleague = make_user(role="member", workspace=workspace_of(owner))
    stranger = make_user()
    mine = client.post("/api/v1/chat/folders", json={"name": "Mine"}, headers=headers).json
    theirs = client.post(
        "/api/v1/chat/folders", json={"name": "Theirs"}, headers=auth_headers(colleague)
    ).json
    foreign = client.post("/api/v1/chat/folders", json={"name": "Far"}, headers=auth_headers(stranger)).json
    conversation = _create(client, headers, folder_id=mine["id"])
    other = _create(client, headers)
    elsewhere = _create(client, auth_headers(stranger))
    question = _say(client, headers, other["id"], "A question in another conversation")
    far_message = _say(client, auth_headers(stranger), elsewhere["id"], "Far away")
    url = f"/api/v1/chat/conversations/{conversation['id']}"

    for folder_id in (theirs["id"], foreign["id"], str(uuid.uuid4())):
        assert _field_of(
            client.post("/api/v1/chat/conversations", json={"folder_id": folder_id}, headers=headers)
        ) == ["folder_id"]
        assert _field_of(client.patch(url, json={"folder_id": folder_id}, headers=headers)) == ["folder_id"]
        listed = client.get(f"/api/v1/chat/conversations?folder_id={folder_id}", headers=headers)
        assert _field_of(listed) == ["folder_id"]
    reorder = client.post(
        "/api/v1/chat/folders/reorder", json={"folder_ids": [foreign["id"]]}, headers=headers
    )
    assert _field_of(reorder) == ["folder_ids.0"]

    for parent_id in (question["id"], far_message["id"], str(uuid.uuid4())):
        sent = client.post(f"{url}/messages", json={"content": "hi", "parent_id": parent_id}, headers=headers)
        assert _field_of(sent) == ["parent_id"]
    attached = client.post(
        f"{url}/messages", json={"content": "hi", "attachments": [str(uuid.uuid4())]}, headers=headers
    )
    assert _field_of(attached) == ["attachments.0"]
    branch = client.post(
        f"/api/conversations/{conversation['id']}/branch",
        json={"message_id": question["id"]},
        headers=headers,
    )
    assert _field_of(branch) == ["message_id"]
    for conversation_id in (elsewhere["id"], str(uuid.uuid4())):
        turn = client.post(
            "/api/v1/chat", json={"conversation_id": conversation_id, "message": "hi"}, headers=headers
        )
        assert _field_of(turn) == ["conversation_id"]

    # Nothing refused was written: the conversation kept its folder and has no messages.
    kept = client.get(url, headers=headers).json
    assert kept["folder_id"] == mine["id"] and kept["messages"] == []
    replied = _say(client, headers, conversation["id"], "first")
    assert (
        _say(client, headers, conversation["id"], "second", parent_id=replied["id"])["parent_id"]
        == replied["id"]
    )
