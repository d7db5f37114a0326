"""Reads of the AI call log: filtered lists, stats, token usage, the leaderboard, LLM usage.

Every read is of the current workspace's calls: the session scopes `AiCall` queries to it.
"""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import sqlalchemy as sa

from narrative.ai.models import AiCall
from narrative.extensions import db
from narrative.identity.models import User
from narrative.platform.tenancy import tenant_select

POWER_USER_CALLS = 100  # calls in the period that earn the power_user badge


def _day_start(value):
    return datetime.combine(value, time.min, tzinfo=UTC)


def log_query(
    *, provider=None, model=None, function=None, status=None, user_id=None, date_from=None, date_to=None
):
    stmt = tenant_select(AiCall)
    for column, value in (
        (AiCall.provider, provider),
        (AiCall.model, model),
        (AiCall.function, function),
        (AiCall.status, status),
        (AiCall.user_id, user_id),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if date_from is not None:
        stmt = stmt.where(AiCall.created_at >= _day_start(date_from))
    if date_to is not None:
        stmt = stmt.where(AiCall.created_at < _day_start(date_to + timedelta(days=1)))
    return stmt


def _where(since=None, until=None, model=None, function=None):
    conditions = []
    if since is not None:
        conditions.append(AiCall.created_at >= since)
    if until is not None:
        conditions.append(AiCall.created_at < until)
    if model:
        conditions.append(AiCall.model == model)
    if function:
        conditions.append(AiCall.function == function)
    return conditions


def _totals_columns():
    return (
        sa.func.count(AiCall.id).label("calls"),
        sa.func.coalesce(sa.func.sum(AiCall.tokens_in), 0).label("tokens_in"),
        sa.func.coalesce(sa.func.sum(AiCall.tokens_out), 0).label("tokens_out"),
        sa.func.coalesce(sa.func.sum(AiCall.cost), 0).label("cost"),
    )


def _totals(row):
    tokens_in, tokens_out = int(row.tokens_in or 0), int(row.tokens_out or 0)
    return {
        "calls": int(row.calls or 0),
        "tokens_in": tokens_in,
        "tokens_out": tokens_out,
        "total_tokens": tokens_in + tokens_out,
        "cost": str(Decimal(row.cost or 0).quantize(Decimal("0.000001"))),
    }


def _grouped(conditions, column, label):
    rows = db.session.execute(
        sa.select(column.label("key"), *_totals_columns())
        .where(*conditions)
        .group_by(column)
        .order_by(column)
    ).all()
    return [{label: (str(row.key) if row.key is not None else None), **_totals(row)} for row in rows]


def _daily(conditions):
    """Per day totals, grouped in Python: date functions differ between SQLite and PostgreSQL."""
    days = {}
    for created_at, tokens_in, tokens_out, cost in db.session.execute(
        sa.select(AiCall.created_at, AiCall.tokens_in, AiCall.tokens_out, AiCall.cost).where(*conditions)
    ):
        day = days.setdefault(
            created_at.date().isoformat(), {"calls": 0, "tokens_in": 0, "tokens_out": 0, "cost": Decimal(0)}
        )
        day["calls"] += 1
        day["tokens_in"] += tokens_in or 0
        day["tokens_out"] += tokens_out or 0
        day["cost"] += Decimal(cost or 0)
    return [
        {
            "date": key,
            "calls": d["calls"],
            "tokens_in": d["tokens_in"],
            "tokens_out": d["tokens_out"],
            "total_tokens": d["tokens_in"] + d["tokens_out"],
            "cost": str(d["cost"].quantize(Decimal("0.000001"))),
        }
        for key, d in sorted(days.items())
    ]


def stats():
    conditions = _where()
    totals = _totals(db.session.execute(sa.select(*_totals_columns()).where(*conditions)).one())
    errors = (
        db.session.scalar(sa.select(sa.func.count(AiCall.id)).where(*conditions, AiCall.status == "error"))
        or 0
    )
    latency = db.session.scalar(sa.select(sa.func.avg(AiCall.latency_ms)).where(*conditions))
    users = db.session.scalar(sa.select(sa.func.count(sa.distinct(AiCall.user_id))).where(*conditions)) or 0
    since = datetime.now(UTC) - timedelta(days=1)
    last_day = (
        db.session.scalar(sa.select(sa.func.count(AiCall.id)).where(*conditions, AiCall.created_at >= since))
        or 0
    )
    return {
        **totals,
        "total_calls": totals["calls"],
        "errors": errors,
        "error_rate": round(errors / totals["calls"], 4) if totals["calls"] else 0.0,
        "success_rate": round(1 - errors / totals["calls"], 4) if totals["calls"] else 0.0,
        "avg_latency_ms": round(float(latency), 1) if latency is not None else 0.0,
        "active_users": users,
        "calls_last_24h": last_day,
        "by_provider": _grouped(conditions, AiCall.provider, "provider"),
        "by_status": _grouped(conditions, AiCall.status, "status"),
    }


def token_usage(*, since=None, until=None):
    conditions = _where(since, until)
    by_user = _grouped(conditions, AiCall.user_id, "user_id")
    names = _user_names([row["user_id"] for row in by_user])
    for row in by_user:
        row["name"], row["email"] = names.get(row["user_id"], (None, None))
    return {
        "totals": _totals(db.session.execute(sa.select(*_totals_columns()).where(*conditions)).one()),
        "daily": _daily(conditions),
        "by_model": _grouped(conditions, AiCall.model, "model"),
        "by_user": by_user,
        "by_function": _grouped(conditions, AiCall.function, "function"),
    }


def _user_names(user_ids):
    import uuid

    ids = [uuid.UUID(u) for u in user_ids if u]
    if not ids:
        return {}
    rows = db.session.execute(sa.select(User.id, User.name, User.email).where(User.id.in_(ids))).all()
    return {str(row.id): (row.name, row.email) for row in rows}


def leaderboard(*, since=None, limit=20):
    """Users ranked by score: a point per successful call plus a point per 1,000 tokens.

    Badges: champion (rank 1), top3 (ranks 1-3), power_user (POWER_USER_CALLS calls or more)."""
    conditions = _where(since)
    conditions.append(AiCall.user_id.is_not(None))
    rows = db.session.execute(
        sa.select(
            AiCall.user_id,
            sa.func.count(AiCall.id).label("calls"),
            sa.func.sum(sa.case((AiCall.status == "success", 1), else_=0)).label("successes"),
            sa.func.coalesce(sa.func.sum(AiCall.tokens_in + AiCall.tokens_out), 0).label("tokens"),
            sa.func.coalesce(sa.func.sum(AiCall.cost), 0).label("cost"),
        )
        .where(*conditions)
        .group_by(AiCall.user_id)
    ).all()
    entries = []
    for row in rows:
        score = int(row.successes or 0) + int(row.tokens or 0) // 1000
        entries.append(
            {
                "user_id": str(row.user_id),
                "calls": int(row.calls),
                "tokens": int(row.tokens or 0),
                "cost": str(Decimal(row.cost or 0).quantize(Decimal("0.000001"))),
                "score": score,
            }
        )
    entries.sort(key=lambda e: (-e["score"], -e["calls"], e["user_id"]))
    names = _user_names([e["user_id"] for e in entries])
    for rank, entry in enumerate(entries, start=1):
        entry["rank"] = rank
        entry["name"], entry["email"] = names.get(entry["user_id"], (None, None))
        badges = []
        if rank == 1:
            badges.append("champion")
        if rank <= 3:
            badges.append("top3")
        if entry["calls"] >= POWER_USER_CALLS:
            badges.append("power_user")
        entry["badges"] = badges
    return {
        "leaderboard": entries[:limit],
        "total_users": len(entries),
        "power_user_threshold": POWER_USER_CALLS,
    }


def llm_usage(*, start_date=None, end_date=None, model=None, operation_type=None):
    """Core's usage summary: start_date defaults to the 1st of this month, end_date to today."""
    today = datetime.now(UTC).date()
    start_date = start_date or date(today.year, today.month, 1)
    end_date = end_date or today
    conditions = _where(
        _day_start(start_date), _day_start(end_date + timedelta(days=1)), model, operation_type
    )
    totals = _totals(db.session.execute(sa.select(*_totals_columns()).where(*conditions)).one())
    return {
        "start_date": start_date.isoformat(),
        "end_date": end_date.isoformat(),
        "total_requests": totals["calls"],
        "total_tokens": totals["total_tokens"],
        "tokens_in": totals["tokens_in"],
        "tokens_out": totals["tokens_out"],
        "total_cost": totals["cost"],
        "cost_by_model": _grouped(conditions, AiCall.model, "model"),
        "cost_by_operation": _grouped(conditions, AiCall.function, "operation_type"),
        "daily": _daily(conditions),
    }
