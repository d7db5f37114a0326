"""The AI layer: providers (local by default, OpenAI-compatible and Anthropic by settings), tools,
retrieval over the workspace's data, the AI call log and the core AI endpoints.

    from narrative.ai import get_provider, AiContext
    provider = get_provider(workspace_id=ws_id, function="chat")
    result = provider.chat(messages, tools=tool_specs(["search_workspace"]), context=AiContext(ws_id, user_id))
"""

from narrative.ai import builtin_tools  # noqa: F401  (registers search_workspace)
from narrative.ai.providers.base import AiContext, ChatDelta, ChatResult, ToolCall, Usage  # noqa: F401
from narrative.ai.settings import get_provider  # noqa: F401


def register_blueprints(api):
    from narrative.ai import routes

    api.register_blueprint(routes.blp)
    api._app.register_blueprint(routes.extra)  # AI settings: not a catalog entry, not in OpenAPI
