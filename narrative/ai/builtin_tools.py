"""Tools the AI layer itself offers: searching the workspace's indexed data."""

from narrative.ai import retrieval
from narrative.ai.tools import register_tool


def search_workspace(context, *, query, k=5):
    hits = retrieval.search(workspace_id=context.workspace_id, query=query, k=k)
    return {
        "query": query,
        "results": [
            {
                "source_type": hit.source_type,
                "source_id": hit.source_id,
                "title": hit.title,
                "text": hit.text[:400],
                "score": hit.score,
            }
            for hit in hits
        ],
    }


register_tool(
    "search_workspace",
    description="Search the workspace's own data (records, documents, messages, knowledge) by meaning.",
    parameters={
        "type": "object",
        "properties": {
            "query": {"type": "string", "minLength": 1, "description": "What to look for"},
            "k": {"type": "integer", "minimum": 1, "maximum": 20, "description": "How many results"},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
    handler=search_workspace,
)
