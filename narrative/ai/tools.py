"""Tools the AI may call: a registry every domain adds to, and the one way to run a call.

    register_tool("create_task", description="Create a task", parameters={...JSON schema...},
                  handler=lambda context, **arguments: {...})

`tool_specs(names)` gives the specs a provider sends to the model; `run_tool(context, call)`
validates the model's arguments against the schema and runs the handler. A failing tool answers
`{"error": ...}` so the model (and the user) can see what went wrong instead of a broken reply, and
its writes are rolled back.
"""

import logging
from dataclasses import dataclass

import jsonschema

from narrative.extensions import db
from narrative.platform.errors import ApiError

log = logging.getLogger("narrative.ai.tools")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict
    handler: object

    def spec(self):
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


_TOOLS: dict[str, Tool] = {}


def register_tool(name, *, description, parameters, handler):
    """Register (or replace, on re-import) a tool; `handler(context, **arguments) -> dict`."""
    jsonschema.Draft202012Validator.check_schema(parameters)
    _TOOLS[name] = Tool(name=name, description=description, parameters=parameters, handler=handler)


def get_tool(name):
    return _TOOLS.get(name)


def tool_specs(names=None):
    """Specs of the named tools (all registered ones when `names` is None); unknown names are skipped."""
    if names is None:
        return [tool.spec() for tool in _TOOLS.values()]
    return [_TOOLS[name].spec() for name in names if name in _TOOLS]


def tool_names(tools):
    """The names in a `tools` argument: specs (dicts) or plain names."""
    return [tool["name"] if isinstance(tool, dict) else str(tool) for tool in tools or ()]


def run_tool(context, call):
    """Run one ToolCall; always returns a dict (the tool's result or {"error": message})."""
    tool = _TOOLS.get(call.name)
    if tool is None:
        return {"error": f"Unknown tool {call.name!r}."}
    arguments = call.arguments if isinstance(call.arguments, dict) else {}
    problems = sorted(jsonschema.Draft202012Validator(tool.parameters).iter_errors(arguments), key=str)
    if problems:
        return {"error": f"Invalid arguments for {call.name}: {problems[0].message}"}
    try:
        # In a savepoint: a tool that fails half-way leaves none of its writes behind.
        with db.session.begin_nested():
            result = tool.handler(context, **arguments)
    except ApiError as exc:
        return {"error": exc.message}
    except Exception as exc:  # a tool's bug must not break the conversation; it is logged
        log.exception("tool %s failed", call.name)
        return {"error": f"The tool {call.name} failed: {exc.__class__.__name__}."}
    return result if isinstance(result, dict) else {"result": result}
