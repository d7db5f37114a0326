"""The money views of one workspace member: metrics, actions and growth opportunities as of a date,
the member's decisions on them, and turning an opportunity into a project.

Every figure is computed from the bank ledger (`narrative.banking.ledger`) by the pure functions of
narrative.money.metrics, .actions and .growth; only decisions (MoneyActionStatus) and projects are
stored. Functions are keyword-only and take explicit workspace and user ids, so the coach's reply job
(no request) calls them as the routes do; the workspace id names the ledger, the Redis keys and new
rows, while stored decisions and projects are read through the session's workspace scope (the
request's, or the job's).

Listing rules (`status` argument of actions and opportunities):
- default "open": open findings, plus snoozed ones whose snooze is over (shown as open again);
  done, dismissed and still-snoozed findings are left out;
- "all": every finding with its status; or one status (done | dismissed | snoozed) alone.
A snooze lasts SNOOZE_DAYS from the moment it was set.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from narrative.extensions import db
from narrative.money import actions as action_rules
from narrative.money import growth as growth_rules
from narrative.money.metrics import compute_metrics
from narrative.money.models import DISMISSED, DONE, OPEN, SNOOZED, STATUSES, MoneyActionStatus
from narrative.platform.errors import NotFound
from narrative.platform.models import utcnow
from narrative.platform.redis import get_redis
from narrative.projects import service as projects
from narrative.projects.models import GROWTH_OPPORTUNITY, Project

SNOOZE_DAYS = 7
LIST_FILTERS = ("open", "all", DONE, DISMISSED, SNOOZED)
# Opportunities a member listed are remembered, so from_opp finds one listed as of any date.
REMEMBERED_OPP_KEY = "narrative:growth:opp:{workspace_id}:{user_id}:{opp_id}"
REMEMBERED_OPP_SECONDS = 30 * 24 * 3600


def today():
    return datetime.now(UTC).date()


def load_ledger(*, workspace_id, user_id, as_of):
    """(transactions up to as_of, balances on as_of) of the member."""
    from narrative.banking.ledger import balances_as_of, transactions_until

    return (
        transactions_until(workspace_id, user_id, as_of),
        balances_as_of(workspace_id, user_id, as_of),
    )


def metrics(*, workspace_id, user_id, as_of):
    txns, balances = load_ledger(workspace_id=workspace_id, user_id=user_id, as_of=as_of)
    return compute_metrics(txns, balances, as_of)


@dataclass(frozen=True)
class Listed:
    """A finding with the member's decision on it."""

    finding: object
    status: str
    reason: str | None = None
    status_updated_at: datetime | None = None
    snoozed_until: datetime | None = None
    project_id: object = None

    def __getattr__(self, name):
        return getattr(self.finding, name)


def _decisions(*, user_id, ids):
    if not ids:
        return {}
    rows = db.session.scalars(
        sa.select(MoneyActionStatus).where(
            MoneyActionStatus.user_id == user_id, MoneyActionStatus.action_id.in_(list(ids))
        )
    ).all()
    return {row.action_id: row for row in rows}


def _listed(findings, *, user_id, status_filter, now=None):
    now = now or utcnow()
    decisions = _decisions(user_id=user_id, ids=[f.id for f in findings])
    listed = []
    for finding in findings:
        row = decisions.get(finding.id)
        status, until = (row.status if row else OPEN), None
        if status == SNOOZED:
            until = row.updated_at + timedelta(days=SNOOZE_DAYS)
            if until <= now:
                status = OPEN  # the snooze is over
        item = Listed(
            finding=finding,
            status=status,
            reason=row.reason if row else None,
            status_updated_at=row.updated_at if row else None,
            snoozed_until=until if status == SNOOZED else None,
        )
        if status_filter == "all" or item.status == status_filter:
            listed.append(item)
    return listed


def actions(*, workspace_id, user_id, as_of, status_filter="open"):
    """(metrics report, listed actions) as of `as_of`, prioritised, filtered by decision."""
    txns, balances = load_ledger(workspace_id=workspace_id, user_id=user_id, as_of=as_of)
    report = compute_metrics(txns, balances, as_of)
    found = action_rules.compute_actions(txns, balances, as_of, report)
    return report, _listed(found, user_id=user_id, status_filter=status_filter)


def opportunities(*, workspace_id, user_id, as_of, status_filter="open", remember=True):
    """(currency, listed opportunities) as of `as_of`, each with the project it became, if any."""
    txns, balances = load_ledger(workspace_id=workspace_id, user_id=user_id, as_of=as_of)
    currency, found = growth_rules.compute_opportunities(txns, balances, as_of)
    listed = _listed(found, user_id=user_id, status_filter=status_filter)
    projects_by_source = _projects_for([item.id for item in listed])
    listed = [Listed(**{**item.__dict__, "project_id": projects_by_source.get(item.id)}) for item in listed]
    if remember:
        _remember(workspace_id, user_id, as_of, found)
    return currency, listed


def _projects_for(opp_ids):
    if not opp_ids:
        return {}
    rows = db.session.execute(
        sa.select(Project.source_id, Project.id).where(
            Project.source_type == GROWTH_OPPORTUNITY,
            Project.source_id.in_(opp_ids),
        )
    ).all()
    return dict(rows)


def _remember_key(workspace_id, user_id, opp_id):
    return REMEMBERED_OPP_KEY.format(workspace_id=workspace_id, user_id=user_id, opp_id=opp_id)


def _remember(workspace_id, user_id, as_of, found):
    if not found:
        return
    pipe = get_redis().pipeline()
    for opp in found:
        value = json.dumps({"title": opp.title, "why": opp.why, "kind": opp.kind, "as_of": as_of.isoformat()})
        pipe.set(_remember_key(workspace_id, user_id, opp.id), value, ex=REMEMBERED_OPP_SECONDS)
    pipe.execute()


def find_opportunity(*, workspace_id, user_id, opp_id, as_of=None):
    """The opportunity `opp_id` as listed as of `as_of` (default: as last listed, else today); 404."""
    if as_of is None:
        remembered = get_redis().get(_remember_key(workspace_id, user_id, opp_id))
        if remembered:
            data = json.loads(remembered)
            return {"title": data["title"], "why": data["why"], "kind": data["kind"]}
        as_of = today()
    _currency, listed = opportunities(
        workspace_id=workspace_id, user_id=user_id, as_of=as_of, status_filter="all", remember=False
    )
    for item in listed:
        if item.id == opp_id:
            return {"title": item.title, "why": item.why, "kind": item.kind}
    raise NotFound("Growth opportunity not found: list /api/growth/opps for the current ones.")


def project_from_opportunity(*, workspace_id, user_id, opp_id, as_of=None):
    """(project, created): the project this opportunity already became, else a new active one."""
    existing = projects.find_by_source(source_type=GROWTH_OPPORTUNITY, source_id=opp_id)
    if existing is not None:
        return existing, False
    opp = find_opportunity(workspace_id=workspace_id, user_id=user_id, opp_id=opp_id, as_of=as_of)
    return projects.get_or_create_from_source(
        workspace_id=workspace_id,
        source_type=GROWTH_OPPORTUNITY,
        source_id=opp_id,
        name=opp["title"],
        description=opp["why"],
        created_by_id=user_id,
    )


def _decision(*, user_id, insight_id):
    return db.session.scalar(
        sa.select(MoneyActionStatus).where(
            MoneyActionStatus.user_id == user_id, MoneyActionStatus.action_id == insight_id
        )
    )


def set_status(*, workspace_id, user_id, insight_id, status, reason=None):
    """Record the member's decision on a finding (an upsert: one row per workspace, user, finding)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    row = _decision(user_id=user_id, insight_id=insight_id)
    if row is None:
        try:
            # A savepoint: losing the race to a concurrent first decision undoes only this insert,
            # not the rest of the request's unit of work.
            with db.session.begin_nested():
                row = MoneyActionStatus(
                    workspace_id=workspace_id, user_id=user_id, action_id=insight_id, status=status
                )
                row.reason = reason
                db.session.add(row)
            return row
        except sa.exc.IntegrityError:  # the unique constraint decided: update the winner's row
            row = _decision(user_id=user_id, insight_id=insight_id)
            if row is None:
                raise
    row.status = status
    row.reason = reason
    row.updated_at = utcnow()  # also when nothing else changed: a new snooze starts now
    return row
