"""Probe routes that list workspaces in each pagination style, the way a catalog route would."""

import marshmallow as ma
import sqlalchemy as sa

from narrative.identity.models import Workspace
from narrative.platform.api import Blueprint
from narrative.platform.pagination import (
    CursorPageArgs,
    OffsetPageArgs,
    PageArgs,
    SkipLimitArgs,
    newest_first,
    page_args,
    page_schema,
    paginate,
)
from narrative.platform.tenancy import all_workspaces_for_this_request

blp = Blueprint("probe_pagination", __name__)
# Platform mechanisms driven anonymously: their rows belong to no caller's workspace.
blp.before_request(all_workspaces_for_this_request)


class WorkspaceItemSchema(ma.Schema):
    id = ma.fields.UUID()
    name = ma.fields.String()
    slug = ma.fields.String()


class WorkspaceFilterArgs(ma.Schema):
    """A route's own filters, composed with a style's arguments by inheritance."""

    prefix = ma.fields.String(load_default=None)
    order = ma.fields.String(load_default="newest", validate=ma.validate.OneOf(["newest", "name"]))


def _statement(args):
    stmt = sa.select(Workspace)
    if args["prefix"]:
        stmt = stmt.where(Workspace.slug.startswith(args["prefix"]))
    return stmt


def _order(args):
    return newest_first(Workspace) if args["order"] == "newest" else (Workspace.name,)


class CursorArgs(WorkspaceFilterArgs, CursorPageArgs):
    pass


class OffsetArgs(WorkspaceFilterArgs, OffsetPageArgs):
    pass


class SkipArgs(WorkspaceFilterArgs, SkipLimitArgs):
    pass


class PageStyleArgs(WorkspaceFilterArgs, PageArgs):
    pass


SmallCursorArgs = page_args("cursor", default_limit=2, max_limit=5, base=WorkspaceFilterArgs)


@blp.route("/_probe/pagination/cursor")
@blp.arguments(CursorArgs, location="query")
@blp.response(200, page_schema(WorkspaceItemSchema, "cursor"))
def cursor_style(args):
    return paginate(_statement(args), args, style="cursor", order_by=_order(args))


@blp.route("/_probe/pagination/offset")
@blp.arguments(OffsetArgs, location="query")
@blp.response(200, page_schema(WorkspaceItemSchema, "offset"))
def offset_style(args):
    return paginate(_statement(args), args, style="offset", order_by=_order(args))


@blp.route("/_probe/pagination/skip")
@blp.arguments(SkipArgs, location="query")
@blp.response(200, page_schema(WorkspaceItemSchema, "skip", items_key="data"))
def skip_style(args):
    return paginate(_statement(args), args, style="skip", order_by=_order(args), items_key="data")


@blp.route("/_probe/pagination/page")
@blp.arguments(PageStyleArgs, location="query")
@blp.response(200, page_schema(WorkspaceItemSchema, "page"))
def page_style(args):
    return paginate(_statement(args), args, style="page", order_by=_order(args))


@blp.route("/_probe/pagination/small-cursor")
@blp.arguments(SmallCursorArgs, location="query")
@blp.response(200, page_schema(WorkspaceItemSchema, "cursor"))
def small_cursor_style(args):
    return paginate(_statement(args), args, style="cursor", order_by=_order(args), max_limit=5)
