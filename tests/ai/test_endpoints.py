"""The core AI endpoints and the AI settings, over HTTP, with the local provider (and a fake OpenAI)."""

import base64
import io
import json
import uuid

import httpx
import pytest
import respx
import sqlalchemy as sa

from narrative.ai import retrieval
from narrative.ai.calllog import cost_of
from narrative.ai.models import AiCall
from narrative.extensions import db
from narrative.identity.models import Workspace
from tests.identity.factories import auth_headers, make_user, workspace_of

DEAL = {
    "purchase_price": 500000,
    "gross_rent": 60000,
    "vacancy_rate": 0.05,
    "operating_expenses": 20000,
    "down_payment_rate": 0.25,
    "interest_rate": 0.065,
    "amortization_years": 30,
}


def _png(colour=(200, 30, 30), size=(40, 20)):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def _calls():
    return db.session.scalars(sa.select(AiCall).order_by(AiCall.created_at)).all()


def test_settings_encrypt_keys_mask_them_and_switch_the_provider(auth_client):
    assert auth_client.get("/api/v1/ai/settings").get_json()["defaults"]["chat"] == {
        "provider": "local",
        "model": "local-retrieval-1",
    }
    key = "sk-live-abcdefghijklmnop1234"
    response = auth_client.put(
        "/api/v1/ai/settings",
        json={
            "providers": {"openai": {"api_key": key}},
            "defaults": {"chat": {"provider": "openai", "model": "gpt-4o-mini"}},
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (
        body["providers"]["openai"]["api_key"] == "****1234"
        and body["providers"]["openai"]["configured"] is True
    )
    assert body["defaults"]["chat"] == {"provider": "openai", "model": "gpt-4o-mini"}
    assert (
        body["defaults"]["image"]["provider"] == "openai"
    )  # the local provider cannot: the configured one can
    stored = json.dumps(db.session.get(Workspace, auth_client.workspace.id).settings)
    assert key not in stored and "abcdefghijklmnop" not in stored
    # Sending the masked key back keeps the stored one.
    auth_client.put(
        "/api/v1/ai/settings", json={"providers": {"openai": {"api_key": "****1234", "base_url": None}}}
    )
    with respx.mock:
        route = respx.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=httpx.Response(
                200,
                json={
                    "model": "gpt-4o-mini",
                    "choices": [{"message": {"content": "Hello from OpenAI"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1000, "completion_tokens": 2000},
                },
            )
        )
        reply = auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "hi"}).get_json()
    assert route.calls[0].request.headers["authorization"] == f"Bearer {key}"
    assert reply["content"] == "Hello from OpenAI" and reply["provider"] == "openai"
    assert reply["usage"] == {
        "tokens_in": 1000,
        "tokens_out": 2000,
        "total_tokens": 3000,
        "estimated_cost": "0.001350",
    }
    (call,) = _calls()
    assert (call.provider, call.model, str(call.cost), call.user_id) == (
        "openai",
        "gpt-4o-mini",
        "0.001350",
        auth_client.user.id,
    )
    bad = auth_client.put("/api/v1/ai/settings", json={"defaults": {"image": {"provider": "anthropic"}}})
    assert bad.status_code == 422 and bad.get_json()["details"][0]["field"] == "defaults.image.provider"


def test_provider_errors_reach_the_client_as_502_and_are_logged(auth_client):
    auth_client.put(
        "/api/v1/ai/settings",
        json={
            "providers": {"openai": {"api_key": "sk-wrong-key-000000"}},
            "defaults": {"chat": {"provider": "openai"}},
        },
    )
    with respx.mock:
        respx.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=httpx.Response(401, json={"error": {"message": "Incorrect API key provided"}})
        )
        response = auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "hi"})
    assert response.status_code == 502 and response.get_json()["error"] == "provider_error"
    assert "rejected the API key" in response.get_json()["message"]
    (call,) = _calls()
    assert call.status == "error" and "Incorrect API key" in call.error


def test_settings_need_ai_admin(auth_client):
    member = make_user(role="member", workspace=auth_client.workspace)
    headers = auth_headers(member)
    assert auth_client.get("/api/v1/ai/settings", headers=headers).status_code == 403
    assert auth_client.get("/api/v1/ai-logs", headers=headers).status_code == 403
    assert (
        auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "x"}, headers=headers).status_code == 200
    )
    viewer = make_user(role="viewer", workspace=auth_client.workspace)
    assert (
        auth_client.post(
            "/api/v1/ai/llm/complete", json={"prompt": "x"}, headers=auth_headers(viewer)
        ).status_code
        == 403
    )


def test_complete_and_stream_answer_from_workspace_data(auth_client):
    retrieval.index_document(
        workspace_id=auth_client.workspace.id,
        source_type="note",
        source_id="1",
        title="Boiler",
        text="The boiler service is booked for Friday at 9am with Heatwell.",
    )
    db.session.commit()
    body = auth_client.post(
        "/api/v1/ai/llm/complete", json={"prompt": "When is the boiler service?"}
    ).get_json()
    assert "From Boiler: The boiler service is booked for Friday at 9am with Heatwell." in body["content"]
    assert body["provider"] == "local" and body["usage"]["estimated_cost"] == "0.000000"
    response = auth_client.post(
        "/api/v1/ai/llm/complete/stream", json={"prompt": "When is the boiler service?"}
    )
    assert response.mimetype == "text/event-stream"
    frames = [
        json.loads(line[6:])
        for line in response.get_data(as_text=True).splitlines()
        if line.startswith("data: ")
    ]
    assert (
        all(f["done"] is False for f in frames[:-1])
        and frames[-1]["done"] is True
        and frames[-1]["content"] == ""
    )
    assert "".join(f["content"] for f in frames) == body["content"]
    assert [c.operation for c in _calls()] == ["chat", "stream"] and _calls()[1].status == "success"


def test_extract_validates_against_the_callers_schema(auth_client):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "budget": {"type": "number"},
        },
        "required": ["name", "email"],
    }
    text = "Name: Dana Smith\nBudget: $450,000\nReach me at dana@example.com."
    body = auth_client.post("/api/v1/ai/llm/extract", json={"text": text, "schema": schema}).get_json()
    assert (
        body["data"] == {"name": "Dana Smith", "email": "dana@example.com", "budget": 450000}
        and body["valid"] is True
    )
    missing = auth_client.post("/api/v1/ai/llm/extract", json={"text": "nothing useful", "schema": schema})
    assert missing.status_code == 502 and any("name" in e for e in missing.get_json()["errors"])
    broken = auth_client.post("/api/v1/ai/llm/extract", json={"text": "x", "schema": {"type": "nonsense"}})
    assert broken.status_code == 422 and broken.get_json()["details"][0]["field"] == "schema"


def test_underwriting_numbers_are_computed_not_generated(auth_client):
    body = auth_client.post("/api/v1/ai/underwriting", json=DEAL).get_json()
    year_one = body["underwriting"]["year_one"]
    assert year_one["noi"] == 37000.0 and year_one["cap_rate"] == 0.074
    # 375,000 at 6.5 % over 30 years: 2,370.26 a month.
    assert year_one["annual_debt_service"] == pytest.approx(28443.1, abs=0.1)
    assert body["metrics"]["dscr_year_one"] == pytest.approx(37000 / 28443.1, abs=1e-3)
    assert len(body["underwriting"]["pro_forma"]) == 10 and body["metrics"]["irr"] is not None
    assert "Cap rate is 7.40%." in body["content"] and "IRR is" in body["content"]
    analysis = auth_client.post(
        "/api/v1/ai/real-estate/analyze",
        json={**{k: v for k, v in DEAL.items() if k != "gross_rent"}, "monthly_rent": 5000},
    ).get_json()
    assert analysis["metrics"]["cash_on_cash"] == pytest.approx((37000 - 28443.1) / 125000, abs=1e-4)
    assert "Cash-on-cash return is 6.85%." in analysis["content"]
    refused = auth_client.post("/api/v1/ai/real-estate/analyze", json={"purchase_price": 1})
    assert refused.status_code == 422 and refused.get_json()["details"][0]["field"] == "gross_rent"


def test_assistant_types_and_explain(auth_client):
    deal = auth_client.post(
        "/api/v1/ai/assistant",
        json={"assistant_type": "deal_evaluator", "message": "Good deal?", "context": DEAL},
    ).get_json()
    assert deal["analysis"]["verdict"] == "consider" and "Verdict is consider." in deal["content"]
    general = auth_client.post("/api/v1/ai/assistant", json={"message": "What about the lease?"}).get_json()
    assert (
        general["assistant_type"] == "general_assistant"
        and "found nothing in this workspace" in general["content"]
    )
    explained = auth_client.post("/api/v1/ai/explain", json={"concept": "cap rate"}).get_json()
    assert explained["explanation"]["definition"] == "NOI divided by the purchase price"
    assert (
        "Example cap rate is 7.40%." in explained["content"]
        and explained["explanation"]["follow_up_questions"]
    )
    assert {c.function for c in _calls()} == {"deal_evaluator", "general_assistant", "explain"}


def test_models_prompts_and_rag_health(auth_client):
    models = auth_client.get("/api/v1/ai/llm/models").get_json()
    local = next(m for m in models["models"] if m["id"] == "local-retrieval-1")
    assert local["is_default"] and local["configured"] and models["default_provider"] == "local"
    assert any(m["provider"] == "openai" and not m["configured"] for m in models["models"])
    image_models = auth_client.get("/api/v1/ai/image/models").get_json()
    assert {m["id"] for m in image_models["models"]} == {"dall-e-3"}
    prompts = auth_client.get("/api/v1/ai/prompts").get_json()
    assert "chat" in prompts["prompts"] and "brand-generation" in prompts["prompts"]
    assert (
        auth_client.get("/api/v1/ai/prompts/chat").get_json()["system_prompt"].startswith("You are Narrative")
    )
    assert auth_client.get("/api/v1/ai/prompts/nope").status_code == 404
    retrieval.index_document(
        workspace_id=auth_client.workspace.id, source_type="n", source_id="1", text="a b c"
    )
    db.session.commit()
    health = auth_client.get("/api/v1/ai/rag/health").get_json()
    assert health["status"] == "ok" and health["chunks"] == 1 and health["dimensions"] == 384


def test_vision_locally_and_what_the_local_provider_cannot_do(auth_client):
    url = "data:image/png;base64," + base64.b64encode(_png()).decode()
    body = auth_client.post(
        "/api/v1/ai/vision/analyze", json={"images": [url], "prompt": "What is this?"}
    ).get_json()
    (info,) = body["images"]
    assert (info["format"], info["width"], info["height"]) == ("PNG", 40, 20)
    assert info["dominant_colors"][0] == {"hex": "#c81e1e", "share": 1.0}
    assert body["content"].startswith("Image 1: PNG 40x20 pixels")
    bad = auth_client.post(
        "/api/v1/ai/vision/analyze", json={"images": ["data:image/png;base64,bm90IGFuIGltYWdl"]}
    )
    assert bad.status_code == 422
    image = auth_client.post("/api/v1/ai/image/generate", json={"prompt": "a house"})
    assert image.status_code == 503 and image.get_json()["error"] == "provider_not_configured"
    assert "api_key" in image.get_json()["message"]
    audio = auth_client.post(
        "/api/v1/ai/transcription/transcribe",
        data={"file": (io.BytesIO(b"RIFF"), "memo.wav")},
        content_type="multipart/form-data",
    )
    assert audio.status_code == 503 and audio.get_json()["error"] == "provider_not_configured"
    wrong = auth_client.post(
        "/api/v1/ai/transcription/transcribe",
        data={"file": (io.BytesIO(b"x"), "memo.txt")},
        content_type="multipart/form-data",
    )
    assert wrong.status_code == 422


def test_image_generation_with_openai_keeps_the_image_in_storage(auth_client):
    auth_client.put("/api/v1/ai/settings", json={"providers": {"openai": {"api_key": "sk-image-key-123456"}}})
    with respx.mock:
        respx.post("https://api.openai.com/v1/images/generations").mock(
            return_value=httpx.Response(
                200,
                json={
                    "data": [{"b64_json": base64.b64encode(_png()).decode(), "revised_prompt": "a red house"}]
                },
            )
        )
        body = auth_client.post("/api/v1/ai/image/generate", json={"prompt": "a house"}).get_json()
    (image,) = body["images"]
    assert (
        body["provider"] == "openai"
        and body["model"] == "dall-e-3"
        and image["revised_prompt"] == "a red house"
    )
    assert image["file_id"] and image["url"] and "b64_json" not in image
    (call,) = _calls()
    assert call.operation == "image" and str(call.cost) == "0.040000"


def test_ai_logs_filters_stats_usage_and_leaderboard(auth_client):
    other = make_user(role="member", workspace=auth_client.workspace)
    for _ in range(3):
        auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "hello there"})
    auth_client.post("/api/v1/ai/explain", json={"concept": "dscr"}, headers=auth_headers(other))
    outsider = make_user()
    auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "elsewhere"}, headers=auth_headers(outsider))

    page = auth_client.get("/api/v1/ai-logs?limit=2").get_json()
    assert page["total"] == 4 and len(page["items"]) == 2 and page["has_more"] is True
    assert page["items"][0]["function"] == "explain" and page["items"][0]["provider"] == "local"
    mine = auth_client.get(f"/api/v1/ai-logs?user_id={other.id}&function=explain").get_json()
    assert mine["total"] == 1
    assert auth_client.get("/api/v1/ai-logs?status=error").get_json()["total"] == 0
    stats = auth_client.get("/api/v1/ai-logs/stats").get_json()
    assert stats["total_calls"] == 4 and stats["errors"] == 0 and stats["active_users"] == 2
    usage = auth_client.get("/api/v1/ai-logs/token-usage").get_json()
    assert {row["function"] for row in usage["by_function"]} == {"completion", "explain"}
    assert usage["by_model"][0]["model"] == "local-retrieval-1" and len(usage["daily"]) == 1
    assert usage["totals"]["calls"] == 4 and {row["user_id"] for row in usage["by_user"]} == {
        str(auth_client.user.id),
        str(other.id),
    }
    board = auth_client.get("/api/v1/ai-logs/leaderboard").get_json()["leaderboard"]
    assert board[0]["user_id"] == str(auth_client.user.id) and board[0]["badges"] == ["champion", "top3"]
    assert board[1]["badges"] == ["top3"] and board[0]["score"] == 3
    core = auth_client.get("/api/v1/ai/llm/usage").get_json()
    assert core["total_requests"] == 4 and core["cost_by_operation"][0]["operation_type"] == "completion"
    assert auth_client.get("/api/v1/ai/llm/usage?operation_type=explain").get_json()["total_requests"] == 1
    assert (
        auth_client.get("/api/v1/ai/llm/usage?start_date=2000-01-01&end_date=2000-01-31").get_json()[
            "total_requests"
        ]
        == 0
    )
    # The outsider's workspace sees only its own call.
    assert workspace_of(outsider).id != auth_client.workspace.id
    assert len(_calls()) == 5 and uuid.UUID(page["items"][0]["id"])


def test_an_openai_compatible_server_at_its_own_base_url(auth_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "NARRATIVE_ALLOW_PRIVATE_URLS", False)
    refused = auth_client.put(
        "/api/v1/ai/settings", json={"providers": {"openai": {"base_url": "http://127.0.0.1:9/v1"}}}
    )
    assert (
        refused.status_code == 422
        and refused.get_json()["details"][0]["field"] == "providers.openai.base_url"
    )
    monkeypatch.setitem(app.config, "NARRATIVE_ALLOW_PRIVATE_URLS", True)
    response = auth_client.put(
        "/api/v1/ai/settings",
        json={
            "providers": {
                "openai": {
                    "base_url": "http://127.0.0.1:9/v1/",
                    "api_key": "local-server-key",
                    "models": {"chat": "llama3"},
                }
            },
            "defaults": {"chat": {"provider": "openai"}},
        },
    )
    assert response.get_json()["defaults"]["chat"] == {"provider": "openai", "model": "llama3"}
    with respx.mock:
        route = respx.post("http://127.0.0.1:9/v1/chat/completions").mock(
            return_value=httpx.Response(
                200,
                json={
                    "choices": [{"message": {"content": "from llama"}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2},
                },
            )
        )
        body = auth_client.post("/api/v1/ai/llm/complete", json={"prompt": "hi"}).get_json()
    assert json.loads(route.calls[0].request.content)["model"] == "llama3" and body["content"] == "from llama"
    (call,) = _calls()
    assert call.model == "llama3" and call.cost == 0  # no listed price


def _committed_calls():
    """The AI log as another connection sees it: only what was committed."""
    with db.engine.connect() as connection:
        table = AiCall.__table__
        return connection.execute(
            sa.select(table.c.operation, table.c.status, table.c.function).order_by(table.c.created_at)
        ).all()


def test_the_ai_log_is_committed_after_a_stream_and_survives_a_failed_request(auth_client):
    streamed = auth_client.post("/api/v1/ai/llm/complete/stream", json={"prompt": "Anything new?"})
    assert streamed.headers["Cache-Control"] == "no-cache" and streamed.headers["X-Accel-Buffering"] == "no"
    assert _committed_calls() == []  # the call ends with the stream, so its row is written then
    assert '"done":true' in streamed.get_data(as_text=True)
    assert _committed_calls() == [("stream", "success", "completion")]

    # The answer misses a required field: the request fails (and rolls back), the call stays logged.
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    refused = auth_client.post("/api/v1/ai/llm/extract", json={"text": "nothing useful", "schema": schema})
    assert refused.status_code == 502
    assert _committed_calls()[-1] == ("chat", "success", "extraction")


def test_the_ai_log_cost_is_a_number(auth_client):
    db.session.add(
        AiCall(
            workspace_id=auth_client.workspace.id,
            user_id=auth_client.user.id,
            provider="openai",
            model="gpt-4o-mini",
            function="chat",
            operation="chat",
            tokens_in=1000,
            tokens_out=2000,
            cost=cost_of(provider="openai", model="gpt-4o-mini", tokens_in=1000, tokens_out=2000),
            status="success",
        )
    )
    db.session.commit()
    (item,) = auth_client.get("/api/v1/ai-logs").get_json()["items"]
    assert item["cost"] == 0.00135 and isinstance(item["cost"], float)
