"""The SDK's money and growth endpoints: metric cards, actions and their status, growth
opportunities and projects made from them. camelCase on the wire; figures as of `asOfDate`."""

from narrative.identity.access import current_user, require
from narrative.money import service
from narrative.money.periods import parse_as_of
from narrative.money.schemas import (
    ActionListSchema,
    ActionStatusResultSchema,
    ActionStatusSetSchema,
    AsOfArgsSchema,
    FindingListArgsSchema,
    MetricsSchema,
    OpportunityListSchema,
    ProjectFromOppResultSchema,
    ProjectFromOppSchema,
)
from narrative.platform.api import Blueprint
from narrative.platform.errors import Forbidden
from narrative.platform.tenancy import current_workspace_id

blp = Blueprint("money", __name__, description="Narrative SDK: money metrics, actions and growth")

METRICS_DESCRIPTION = """Cards: cash_balance, monthly_income, monthly_expenses, net_cash_flow (net burn
or profit), runway, mom_change, top_expense_categories. "Monthly" is the last complete calendar month
on or before asOfDate; runway is cash over the average net burn of the last three complete months.
Each card: id, title, value, unit (currency | months | percent), currency, trend (up | down | flat),
previousValue, period, explanation, breakdown."""

LIST_DESCRIPTION = """Prioritised (high, medium, low; then the largest estimated monthly impact). Ids are
stable: the same finding keeps its id across calls. `status` filters by your decision: open (default;
snoozes end after 7 days), all, done, dismissed or snoozed."""


def _caller_ids():
    return current_workspace_id(), current_user().id


def _must_be_caller(user_id):
    if user_id != current_user().id:
        raise Forbidden("userId must be your own user id.")


@blp.route("/api/money/metrics")
@blp.operation("narrative-sdk.money.metrics", description=METRICS_DESCRIPTION)
@require("money.read")
@blp.arguments(AsOfArgsSchema, location="query")
@blp.response(200, MetricsSchema)
def metrics(args):
    """Return summary metric cards"""
    workspace_id, user_id = _caller_ids()
    return service.metrics(workspace_id=workspace_id, user_id=user_id, as_of=parse_as_of(args["as_of_date"]))


@blp.route("/api/money/actions")
@blp.operation("narrative-sdk.money.actions", description=LIST_DESCRIPTION)
@require("money.read")
@blp.arguments(FindingListArgsSchema, location="query")
@blp.response(200, ActionListSchema)
def actions(args):
    """Return prioritized action list"""
    workspace_id, user_id = _caller_ids()
    as_of = parse_as_of(args["as_of_date"])
    report, items = service.actions(
        workspace_id=workspace_id, user_id=user_id, as_of=as_of, status_filter=args["status"]
    )
    return {"as_of": as_of, "currency": report.currency, "items": items, "total": len(items)}


@blp.route("/api/money/action/status/set", methods=["POST"])
@blp.operation("narrative-sdk.money.action-status-set")
@require("money.write")
@blp.arguments(ActionStatusSetSchema)
@blp.response(200, ActionStatusResultSchema)
def set_action_status(payload):
    """Update money action status (open, done, dismissed or snoozed, with an optional reason)"""
    _must_be_caller(payload["user_id"])
    workspace_id, user_id = _caller_ids()
    row = service.set_status(
        workspace_id=workspace_id,
        user_id=user_id,
        insight_id=payload["insight_id"],
        status=payload["status"],
        reason=payload["reason"],
    )
    return {
        "ok": True,
        "insight_id": row.action_id,
        "status": row.status,
        "reason": row.reason,
        "updated_at": row.updated_at,
    }


@blp.route("/api/growth/opps")
@blp.operation("narrative-sdk.growth.opps", description=LIST_DESCRIPTION)
@require("money.read")
@blp.arguments(FindingListArgsSchema, location="query")
@blp.response(200, OpportunityListSchema)
def opportunities(args):
    """Return growth opportunities (growing customers, seasonal peaks, price and volume signals)"""
    workspace_id, user_id = _caller_ids()
    as_of = parse_as_of(args["as_of_date"])
    currency, items = service.opportunities(
        workspace_id=workspace_id, user_id=user_id, as_of=as_of, status_filter=args["status"]
    )
    return {"as_of": as_of, "currency": currency, "items": items, "total": len(items)}


@blp.route("/api/projects/from_opp", methods=["POST"])
@blp.operation(
    "narrative-sdk.growth.projects-from-opp",
    description="Idempotent: a second call for the same opportunity returns the same project "
    "(created: false). The opportunity is looked up as you last listed it, or as of asOfDate.",
)
@require("projects.write")
@blp.arguments(ProjectFromOppSchema)
@blp.response(200, ProjectFromOppResultSchema)
def project_from_opportunity(payload):
    """Create project from opportunity"""
    workspace_id, user_id = _caller_ids()
    as_of = parse_as_of(payload["as_of_date"]) if payload["as_of_date"] else None
    project, created = service.project_from_opportunity(
        workspace_id=workspace_id, user_id=user_id, opp_id=payload["insight_id"], as_of=as_of
    )
    return {
        "project_id": project.id,
        "insight_id": project.source_id,
        "is_active": project.is_active,
        "name": project.name,
        "status": project.status,
        "created": created,
    }
