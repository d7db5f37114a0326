"""Tenant isolation, swept over the whole URL map: another workspace's ids never work.

Every route whose path carries an id (a parameter named `id` or `*_id`) is called, once per HTTP
method, by the *owner* of workspace B (so no permission check stands in the way) with ids that
belong to workspace A: a real object of A where the parameter names a kind we can make (see
`make_objects_of_a`), a random well-formed UUID otherwise. The answer must be a 404 — or a 403 on
workspace-level routes (`<workspace_id>` in the path: `not_a_member`), or a 401 on routes that take
another kind of credential — never a 2xx and never a 5xx, and A's objects must survive.

Request bodies and query strings are built from each route's own argument schemas (required fields
with plausible values), so a refusal cannot hide behind a 422: a route that answers 422 to the
generated input fails here and needs an entry in `INPUT_OVERRIDES`.

Routes added later are swept automatically: they become new parametrised cases. Unknown id kinds
fall back to a random UUID.
"""

import datetime as dt
import io
import re
import uuid

import marshmallow as ma
import pytest
from flask_smorest.fields import Upload
from werkzeug.datastructures import FileStorage

from narrative.extensions import db
from narrative.identity import service
from narrative.identity.models import ApiKey, Member, Team
from tests.conftest import make_app
from tests.identity.factories import auth_headers, make_user, workspace_of

ID_PARAMETER = re.compile(r"^(.*_)?id$")

# Routes that are not tenant-scoped by design; each says why.
EXCLUDED_PREFIXES = (
    "/_probe/",  # test-only probe routes
    "/static/",  # Flask's static files, no tenant data
)
EXCLUDED_RULES = {
    # A signed link is the authority (HMAC over file id and expiry), not the caller's workspace.
    "/api/v1/files/<uuid:file_id>/download",
}
EXCLUDED_PATTERNS = (
    # Progress streams keyed by the job's random, unguessable id (the id is the secret).
    re.compile(r"/jobs/<[^>]*job_id>/stream$"),
)

# Routes that authenticate with another kind of credential than a user's JWT: 401 for it.
OTHER_CREDENTIAL_RULES = {
    "/x/<action_id>",  # the API proxy takes an execution token (sxt_...)
}

# Extra or replacement input for routes whose schema-derived input would not validate:
# {(rule, method): {"json": {...}, "query": {...}}}.
INPUT_OVERRIDES = {}

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _sweepable(rule):
    if rule.rule.startswith(EXCLUDED_PREFIXES) or rule.rule in EXCLUDED_RULES:
        return False
    if any(pattern.search(rule.rule) for pattern in EXCLUDED_PATTERNS):
        return False
    return any(ID_PARAMETER.match(name) for name in rule.arguments)


def _cases():
    # An app of the same factory, only to read its URL map at collection time (no server started).
    app = make_app({"database_url": "sqlite://", "redis_url": None})
    cases = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not _sweepable(rule):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            cases.append(pytest.param(rule.rule, method, id=f"{method} {rule.rule}"))
    return cases


# Read once, at collection: building an app re-initialises the shared extensions (Redis),
# which must not happen while the session's app is serving tests.
CASES = _cases()


# --- workspace A's objects ------------------------------------------------------------------------


def make_objects_of_a(owner_a):
    """Real ids of workspace A for the parameter names we know how to make."""
    workspace = workspace_of(owner_a)
    colleague = make_user(role="member", workspace=workspace)
    team = Team(workspace_id=workspace.id, name="Team of A", created_by_id=owner_a.id)
    db.session.add(team)
    key, _ = service.create_api_key(user=owner_a, workspace=workspace, name="Key of A", scopes=["*"])
    db.session.commit()
    colleague_member = db.session.scalar(
        db.select(Member).filter_by(workspace_id=workspace.id, user_id=colleague.id)
    )
    return {
        "workspace_id": workspace.id,
        "user_id": colleague.id,
        "member_id": colleague_member.id,
        "team_id": team.id,
        "api_key_id": key.id,
    }


# The id kinds `make_objects_of_a` makes real objects for.
KNOWN_ID_KINDS = frozenset({"workspace_id", "user_id", "member_id", "team_id", "api_key_id"})


def _still_there(ids):
    db.session.expire_all()
    return {
        "team": db.session.get(Team, ids["team_id"]) is not None,
        "member": db.session.get(Member, ids["member_id"]) is not None,
        "api key": db.session.get(ApiKey, ids["api_key_id"]).is_usable,
    }


# --- input built from the route's argument schemas ------------------------------------------------


def _example(field, name):
    for validator in getattr(field, "validators", []):
        if isinstance(validator, ma.validate.OneOf) and validator.choices:
            return next(iter(validator.choices))
    if isinstance(field, Upload):
        return FileStorage(io.BytesIO(PNG), filename="sweep.png", content_type="image/png")
    if isinstance(field, ma.fields.Nested):
        schema = field.schema
        return [_example_body(schema)] if field.many else _example_body(schema)
    if isinstance(field, ma.fields.List):
        return [_example(field.inner, name)]
    if isinstance(field, ma.fields.Email):
        return "sweep@example.com"
    if isinstance(field, ma.fields.URL):
        return "https://example.com/sweep"
    if isinstance(field, ma.fields.UUID):
        return str(uuid.uuid4())
    if isinstance(field, ma.fields.Boolean):
        return True
    if isinstance(field, ma.fields.Number):
        return _range_minimum(field)
    if isinstance(field, ma.fields.DateTime):
        return dt.datetime.now(dt.UTC).isoformat()
    if isinstance(field, ma.fields.Date):
        return dt.date.today().isoformat()
    if isinstance(field, ma.fields.Dict):
        return {}
    if isinstance(field, ma.fields.String):
        return "a long sweep password" if "password" in name else "sweep value"
    return "sweep"


def _range_minimum(field):
    for validator in getattr(field, "validators", []):
        if isinstance(validator, ma.validate.Range) and validator.min is not None:
            return validator.min
    return 1


def _example_body(schema):
    schema = schema() if isinstance(schema, type) else schema
    body = {}
    for name, field in schema.fields.items():
        if field.required and not field.dump_only:
            body[field.data_key or name] = _example(field, name)
    return body


def _argument_docs(view, method):
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        view = getattr(view_class, method.lower(), None)
    return (getattr(view, "_apidoc", {}).get("arguments") or {}).get("parameters", [])


def request_input(app, rule, method):
    """Keyword arguments for the test client: json, query_string, data (form/files)."""
    endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule and method in r.methods)
    kwargs = {}
    for argument in _argument_docs(app.view_functions[endpoint], method):
        body = _example_body(argument["schema"])
        location = argument.get("in") or argument.get("location")
        if location == "query":
            kwargs["query_string"] = body
        elif location in ("files", "form"):
            kwargs.setdefault("data", {}).update(body)
            kwargs["content_type"] = "multipart/form-data"
        else:
            kwargs["json"] = body
    override = INPUT_OVERRIDES.get((rule, method), {})
    if "json" in override:
        kwargs["json"] = {**kwargs.get("json", {}), **override["json"]}
    if "query" in override:
        kwargs["query_string"] = {**kwargs.get("query_string", {}), **override["query"]}
    return kwargs


def fill_path(rule, ids):
    def replace(match):
        name = match.group(2)
        if ID_PARAMETER.match(name):
            return str(ids.get(name) or uuid.uuid4())
        return "sweep"

    return re.sub(r"<(?:([a-z]+):)?([a-zA-Z_]+)>", replace, rule)


def expected_statuses(rule):
    if rule in OTHER_CREDENTIAL_RULES:
        return {401}
    if "workspace_id>" in rule:
        return {403, 404}
    return {404}


@pytest.mark.parametrize(("rule", "method"), CASES)
def test_another_workspaces_ids_are_not_found(app, client, rule, method):
    owner_a = make_user()
    ids = make_objects_of_a(owner_a)
    owner_b = make_user()  # owner of workspace B: every permission there, none in A
    path = fill_path(rule, ids)
    response = client.open(
        path, method=method, headers=auth_headers(owner_b), **request_input(app, rule, method)
    )
    assert response.status_code in expected_statuses(rule), (
        f"{method} {path} answered {response.status_code}: {response.get_json(silent=True)}"
    )
    assert _still_there(ids) == {"team": True, "member": True, "api key": True}


def test_the_sweep_covers_the_identity_routes():
    swept = {case.values[0] for case in CASES}
    assert {
        "/api/v1/teams/<team_id>",
        "/api/v1/members/<member_id>",
        "/api/v1/api-keys/<api_key_id>",
    } <= swept
    assert not any(rule.startswith("/_probe/") for rule in swept)


def _control_cases():
    """GET routes whose every id names an object we make: the owner of A must get them."""
    return [
        case
        for case in CASES
        if case.values[1] == "GET"
        and all(
            name in KNOWN_ID_KINDS
            for name in re.findall(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", case.values[0])
            if ID_PARAMETER.match(name)
        )
    ]


@pytest.mark.parametrize(("rule", "method"), _control_cases())
def test_the_same_request_works_for_the_owner_of_a(app, client, rule, method):
    """The control: the ids and inputs of the sweep are real, so its 404s mean isolation."""
    owner_a = make_user()
    ids = make_objects_of_a(owner_a)
    response = client.open(
        fill_path(rule, ids), method=method, headers=auth_headers(owner_a), **request_input(app, rule, method)
    )
    assert response.status_code == 200, response.get_json(silent=True)
