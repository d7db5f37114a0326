"""Minimal valid request input from an operation's OpenAPI description (required fields only).

The sweep sends the same input as workspace B and as workspace A, so a refusal must come from the
object's workspace, not from validation: A's call is the control that the input is good.
"""

import dataclasses
import datetime as dt
import io
import uuid

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclasses.dataclass(frozen=True)
class Upload:
    """A file to send; each request gets a fresh stream of it (`materialise`)."""

    content: bytes = PNG
    filename: str = "sweep.png"
    content_type: str = "image/png"


def materialise(kwargs):
    """Test-client keyword arguments with every `Upload` turned into a new file stream."""
    data = kwargs.get("data")
    if not isinstance(data, dict):
        return kwargs
    fresh = {
        key: (io.BytesIO(value.content), value.filename, value.content_type)
        if isinstance(value, Upload)
        else value
        for key, value in data.items()
    }
    return {**kwargs, "data": fresh}


def resolve(doc, node):
    """The schema behind `$ref`s, with `allOf` parts merged."""
    while isinstance(node, dict) and "$ref" in node:
        node = doc["components"][node["$ref"].split("/")[2]][node["$ref"].split("/")[-1]]
    if isinstance(node, dict) and "allOf" in node:
        merged = {"type": "object", "properties": {}, "required": []}
        for part in node["allOf"]:
            part = resolve(doc, part)
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += part.get("required", [])
        return merged
    return node


def example(doc, schema, name=""):
    """A plausible value for `schema` (enums: the first choice; bounds respected)."""
    schema = resolve(doc, schema)
    if schema.get("enum"):
        return next(value for value in schema["enum"] if value is not None)
    kind = schema.get("type")
    fmt = schema.get("format")
    if kind == "object" or "properties" in schema:
        return example_object(doc, schema)
    if kind == "array":
        return [example(doc, schema.get("items", {}), name)] * max(1, schema.get("minItems", 1))
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if fmt == "binary":
        return Upload()
    if fmt == "uuid":
        return str(uuid.uuid4())
    if fmt == "date-time":
        return dt.datetime.now(dt.UTC).isoformat()
    if fmt == "date":
        return dt.date.today().isoformat()
    if fmt == "email" or "email" in name:
        return f"sweep-{uuid.uuid4().hex[:8]}@example.com"
    if fmt in ("url", "uri") or name.endswith("url"):
        return "https://example.com/sweep"
    value = "a long sweep password" if "password" in name else "sweep value"
    return value.ljust(schema.get("minLength", 0), "x")


def example_object(doc, schema):
    schema = resolve(doc, schema)
    properties = schema.get("properties", {})
    return {
        name: example(doc, properties.get(name, {}), name)
        for name in schema.get("required", [])
        if not resolve(doc, properties.get(name, {})).get("readOnly")
    }


def request_input(doc, op):
    """Keyword arguments for the test client (json or multipart data, query_string)."""
    kwargs = {}
    query = {
        param["name"]: example(doc, param.get("schema", {}), param["name"])
        for param in op.get("parameters", [])
        if param.get("in") == "query" and param.get("required")
    }
    if query:
        kwargs["query_string"] = query
    body = op.get("requestBody")
    if body:
        content_type, content = next(iter(body["content"].items()))
        payload = example_object(doc, content.get("schema", {}))
        if content_type == "multipart/form-data":
            kwargs["data"] = payload
            kwargs["content_type"] = "multipart/form-data"
        elif content_type == "application/json":
            kwargs["json"] = payload
    return kwargs
