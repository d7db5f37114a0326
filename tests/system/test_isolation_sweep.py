"""Tenant isolation, generated from the OpenAPI document: another workspace's objects are not found.

For every operation whose path names an object (`{record_id}`, `{recordset_slug}`, `{id}`...):

1. a factory makes a real object of that kind in workspace A (tests/system/isolation/table.py);
2. B's owner calls the operation on it, once with a JWT and once with an `sk_` key with every
   scope: the answer must be 404 - or 403 `not_a_member` where the object is the workspace itself.
   Any other answer is a finding: a 2xx, 409 or 5xx is a leak or a defect, a 401/405/422 is a refusal
   that does not come from the object's workspace and needs looking at;
3. A's owner makes the same call (on a fresh object for a DELETE) and must not get a 404, 401/403 or
   5xx: the control that the ids and the input are good, so B's 404 proves scoping, not a random id.

B calls first, so A's call cannot remove the object before B's probes. An operation whose id
parameter has no factory (and is not listed in NOT_AN_ID) fails, naming itself: a new id-bearing
route cannot slip past the sweep.
"""

import json
import re

import flask
import pytest

from narrative.extensions import api
from tests.conftest import make_app
from tests.system.isolation import bodies, factories, table
from tests.system.isolation.world import World

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
PARAMETER = re.compile(r"\{(\w+)\}")
# Streams end quickly here (the platform's defaults are 15 s heartbeats and an hour).
SSE_SETTINGS = {"SSE_HEARTBEAT_SECONDS": 0.05, "SSE_MAX_STREAM_SECONDS": 0.3}


def _read_document():
    """The document /openapi.json serves, read at collection from an app of the same factory
    (without a request, so no embedded Redis is started for it)."""
    app = make_app({"database_url": "sqlite://", "redis_url": None})
    with app.app_context():
        return json.loads(flask.json.dumps(api.spec.to_dict()))


DOCUMENT = _read_document()


def id_parameters(path):
    return [name for name in PARAMETER.findall(path) if name not in table.NOT_AN_ID]


def _operations():
    for path, item in DOCUMENT["paths"].items():
        if path.startswith("/_probe/"):
            continue
        for method, op in item.items():
            if method in HTTP_METHODS and PARAMETER.search(path):
                yield method.upper(), path, op


WITH_PARAMETERS = list(_operations())
ID_BEARING = [case for case in WITH_PARAMETERS if id_parameters(case[1])]
NOT_AN_ID_OPERATIONS = [case for case in WITH_PARAMETERS if not id_parameters(case[1])]
SWEPT = [case for case in ID_BEARING if case[2]["operationId"] not in table.BY_DESIGN]


def probes_of(op):
    """The callers from workspace B for an operation (names as the report shows them)."""
    if op["operationId"] in table.EXECUTION_TOKEN_OPERATIONS:
        return ["B/sxt_"]
    return ["B/JWT", "B/sk_"]


def entry_for(name, path):
    """The (name, prefix) key of FACTORIES with the longest prefix that starts `path`, or None."""
    keys = [(param, prefix) for param, prefix in table.FACTORIES if param == name and path.startswith(prefix)]
    return max(keys, key=lambda key: len(key[1])) if keys else None


def factory_for(name, path):
    key = entry_for(name, path)
    return table.FACTORIES[key] if key else None


def missing_factories(path):
    return [name for name in id_parameters(path) if factory_for(name, path) is None]


def make_objects(world, path):
    """A's objects for every id of `path`, deepest first (its factory makes the parents too)."""
    ids = {}
    for name in reversed(id_parameters(path)):
        if name not in ids:
            ids.update(factory_for(name, path)(world))
    return ids


def fill(path, ids):
    return PARAMETER.sub(lambda match: str(ids[match.group(1)]), path)


def prepare(world, op, ids):
    step = table.PREPARE.get(op["operationId"])
    if step is not None:
        step(world, ids)


def request_input(world, op, ids):
    kwargs = bodies.request_input(DOCUMENT, op)
    extra = table.BODIES.get(op["operationId"])
    if extra is not None:
        key = "data" if kwargs.get("content_type") == "multipart/form-data" else "json"
        kwargs[key] = {**kwargs.get(key, {}), **extra(world, ids)}
    return kwargs


def call(client, method, url, headers, kwargs):
    response = client.open(url, method=method, headers=headers, **bodies.materialise(kwargs))
    try:
        return response.status_code, response.get_json(silent=True) or {}
    finally:
        response.close()


def refused_as_not_found(path, status, body):
    if status == 404:
        return True
    # The workspace itself: a stranger is not a member (never told whether it exists).
    return status == 403 and "{workspace_id}" in path and body.get("error") == "not_a_member"


def control_passed(op, status, body):
    """A reached its object: success, or a documented refusal of the input (409/422...)."""
    if op["operationId"] in table.EXECUTION_TOKEN_OPERATIONS and status in table.UPSTREAM_ANSWERS:
        return True
    if status == 503 and body.get("error") == "provider_not_configured":
        return True  # no AI/transcription provider in the test run; the object was found first
    return status < 400 or status in (400, 409, 410, 413, 415, 422)


def _brief(who, status, body):
    """`404 not_found`, with the message of an error that is not B's plain not-found."""
    error = body.get("error")
    if not error:
        return str(status)
    if error == "not_found" and who != "A":
        return f"{status} {error}"
    return f"{status} {error} ({str(body.get('message'))[:100]})"


@pytest.fixture
def short_streams(app):
    saved = {name: app.config.get(name) for name in SSE_SETTINGS}
    app.config.update(SSE_SETTINGS)
    yield
    for name, value in saved.items():
        if value is None:
            app.config.pop(name, None)
        else:
            app.config[name] = value


@pytest.mark.parametrize(("method", "path", "op"), SWEPT, ids=[case[2]["operationId"] for case in SWEPT])
def test_another_workspaces_object_is_not_found(client, short_streams, method, path, op):
    operation = f"{op['operationId']} ({method} {path})"
    missing = missing_factories(path)
    assert not missing, (
        f"{operation}: no factory for {missing}; add one to FACTORIES in "
        "tests/system/isolation/table.py, or the parameter to NOT_AN_ID with the reason"
    )
    world = World(client)
    ids = make_objects(world, path)
    prepare(world, op, ids)
    kwargs = request_input(world, op, ids)
    url = fill(path, ids)

    if op["operationId"] in table.EXECUTION_TOKEN_OPERATIONS:
        own_token = factories.execution_token(world, world.b)["token"]
        callers = {"B/sxt_": {"Authorization": f"Bearer {own_token}"}}
        expected_refusal = {401}  # documented: "not a token of this action"
    else:
        callers = {"B/JWT": world.b.jwt, "B/sk_": world.b.key}
        expected_refusal = None
    seen = {who: call(client, method, url, headers, kwargs) for who, headers in callers.items()}

    if method == "DELETE":
        ids = make_objects(world, path)
        prepare(world, op, ids)
        url = fill(path, ids)
    a_headers = world.a.jwt
    if op["operationId"] in table.EXECUTION_TOKEN_OPERATIONS:
        a_headers = {"Authorization": f"Bearer {ids['token']}"}
    seen["A"] = call(client, method, url, a_headers, kwargs)

    problems = [
        who
        for who, (status, body) in seen.items()
        if who != "A"
        and not (status in expected_refusal if expected_refusal else refused_as_not_found(path, status, body))
    ]
    if not control_passed(op, *seen["A"]):
        problems.append("A")
    assert not problems, f"{operation}: " + ", ".join(
        f"{who}={_brief(who, *answer)}" for who, answer in seen.items()
    )


# --- the table stays complete and honest ------------------------------------------------------


def test_every_id_bearing_operation_has_a_factory():
    missing = {
        case[2]["operationId"]: missing_factories(case[1]) for case in SWEPT if missing_factories(case[1])
    }
    assert missing == {}


def test_every_table_entry_is_used():
    used = {entry_for(name, path) for _, path, _ in ID_BEARING for name in id_parameters(path)}
    assert set(table.FACTORIES) - used == set()
    named = {name for _, path, _ in WITH_PARAMETERS for name in PARAMETER.findall(path)}
    assert set(table.NOT_AN_ID) - named == set()
    operation_ids = {case[2]["operationId"] for case in ID_BEARING}
    assert set(table.BY_DESIGN) - operation_ids == set()
    assert set(table.BODIES) - operation_ids == set()
    assert set(table.PREPARE) - operation_ids == set()
    assert operation_ids >= table.EXECUTION_TOKEN_OPERATIONS


def test_the_sweep_counts(capsys):
    probes = sum(len(probes_of(op)) for _, _, op in SWEPT)
    named = {name for _, path, _ in WITH_PARAMETERS for name in PARAMETER.findall(path)}
    not_an_id = sorted(named & set(table.NOT_AN_ID))
    line = (
        f"isolation sweep: {len(ID_BEARING)} id-bearing operations, {probes} probes (JWT + sk_), "
        f"{len(not_an_id)} not-an-id params ({', '.join(not_an_id)}: "
        f"{len(NOT_AN_ID_OPERATIONS)} operations), {len(table.BY_DESIGN)} by design"
    )
    with capsys.disabled():  # shown with or without -s
        print(f"\n{line}")
    assert len(ID_BEARING) > 150 and probes > 300
