"""Probe routes for the request's unit of work and the database error mapping."""

import uuid

import marshmallow as ma

from narrative.extensions import db
from narrative.identity.models import Member, User
from narrative.platform.api import Blueprint
from narrative.platform.errors import ValidationFailed
from narrative.platform.schemas import Schema
from narrative.platform.tenancy import all_workspaces_for_this_request


class UserArgs(Schema):
    email = ma.fields.String(required=True)
    name = ma.fields.String()
    then = ma.fields.String(load_default="succeed")  # succeed | raise | answer_400
    count = ma.fields.Integer()
    tags = ma.fields.List(ma.fields.String())


blp = Blueprint("probe_unit_of_work", __name__)
# Users and bare memberships of no caller: the probes write platform rows directly.
blp.before_request(all_workspaces_for_this_request)


@blp.route("/_probe/uow/users", methods=["POST"])
@blp.arguments(UserArgs)
def create_user(payload):
    # No flush and no commit here: the platform commits after the view, and a duplicate email
    # only fails then.
    db.session.add(User(email=payload["email"], name=payload.get("name")))
    if payload["then"] == "raise":
        raise ValidationFailed("refused after writing")
    if payload["then"] == "answer_400":
        return {"error": "bad_request", "message": "answered with an error status"}, 400
    return {"email": payload["email"]}, 201


@blp.route("/_probe/uow/dangling-member", methods=["POST"])
def create_member_of_no_workspace():
    user = User(email=f"{uuid.uuid4().hex}@example.com")
    db.session.add(user)
    db.session.flush()
    db.session.add(Member(workspace_id=uuid.uuid4(), user_id=user.id, role="member", status="active"))
    return {}, 201
