"""Structured extraction: the prompt every provider gets, the local provider's rule-based extractor,
and reading a model's JSON answer.

The local provider recognises `EXTRACT_MARKER` and fills the schema's properties from the text:
"name: value" lines matching a property, then typed patterns (emails, phone numbers, URLs, dates,
numbers, booleans). What it cannot find it leaves out; the route validates against the caller's
schema either way.
"""

import json
import re

EXTRACT_MARKER = "Extract data matching this JSON Schema and answer with one JSON object only."

_PATTERNS = {
    "email": re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    "uri": re.compile(r"https?://[^\s)>\]]+"),
    "date": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "phone": re.compile(r"\+?\d[\d\s().-]{7,}\d"),
}
_NUMBER = re.compile(r"-?\$?\d[\d,]*(?:\.\d+)?")


def extraction_messages(text, schema, instructions=None):
    system = f"{EXTRACT_MARKER}\nJSON Schema:\n{json.dumps(schema)}"
    if instructions:
        system += f"\nInstructions: {instructions}"
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def schema_of(messages):
    for message in messages:
        content = message.get("content") or ""
        if message.get("role") == "system" and EXTRACT_MARKER in content:
            raw = content.split("JSON Schema:\n", 1)[1].split("\nInstructions:", 1)[0]
            return json.loads(raw)
    return None


def _labelled(text, name):
    label = re.escape(name.replace("_", " "))
    match = re.search(rf"(?im)^\s*{label}\s*[:=\-]\s*(.+?)\s*$", text.replace("_", " ")) or re.search(
        rf"(?im)^\s*{re.escape(name)}\s*[:=\-]\s*(.+?)\s*$", text
    )
    return match.group(1) if match else None


def _number(value):
    match = _NUMBER.search(value or "")
    if not match:
        return None
    cleaned = match.group(0).replace("$", "").replace(",", "")
    return float(cleaned) if "." in cleaned else int(cleaned)


def _coerce(value, spec):
    kind = spec.get("type")
    if kind in ("number", "integer"):
        number = _number(value)
        return int(number) if kind == "integer" and number is not None else number
    if kind == "boolean":
        return value.strip().lower() in ("yes", "true", "y", "1")
    if kind == "array":
        return [item.strip() for item in re.split(r"[,;]", value) if item.strip()]
    return value.strip()


def _guess(text, name, spec):
    """A typed pattern for a property without a label: by its format, or by its name."""
    fmt = spec.get("format") or next((key for key in _PATTERNS if key in name.lower()), None)
    if fmt == "date-time":
        fmt = "date"
    if fmt in _PATTERNS:
        match = _PATTERNS[fmt].search(text)
        return match.group(0) if match else None
    return None


def extract_locally(text, schema):
    properties = (schema or {}).get("properties") or {}
    result = {}
    for name, spec in properties.items():
        spec = spec if isinstance(spec, dict) else {}
        value = _labelled(text, name)
        if value is None:
            value = _guess(text, name, spec)
        if value is None:
            continue
        coerced = _coerce(value, spec)
        if coerced is not None:
            result[name] = coerced
    return result


def parse_json_answer(content):
    """The JSON object in a model's answer (code fences and surrounding prose tolerated) or None."""
    text = (content or "").strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        start, end = text.find("{"), text.rfind("}")
        if start != -1 and end > start:
            try:
                return json.loads(text[start : end + 1])
            except ValueError:
                return None
    return None
