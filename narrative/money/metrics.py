"""The money metric cards as of a date (pure: a ledger and balances in, cards out).

Definitions (all in the reporting currency, see narrative.money.figures; months are complete
calendar months, see narrative.money.periods; "last month" is the last complete month L):

- cash_balance: the sum of the accounts' balances on asOfDate. Compared with the balance at the end
  of the month before L (today's balance less everything booked since then).
- monthly_income / monthly_expenses: income / expenses booked in L, compared with the month before.
- net_cash_flow ("Net burn" or "Net profit"): income - expenses in L; negative is a burn.
- runway: cash balance / average monthly net burn, the burn being (expenses - income) averaged over
  the three complete months ending with L (only months on or after the first booking count). One
  decimal, rounded half up. None (no runway limit) when that average is zero or negative.
  Compared with the runway as of the end of the month before L.
- mom_change: month-over-month change of income, L against the month before, in percent with one
  decimal (None when the month before had no income); the explanation adds the expenses' change.
- top_expense_categories: L's expenses by category, largest first; the value is the largest
  category's total, `breakdown` lists the top three with their share of L's expenses.

Each card: id, title, value, unit (currency | months | percent), currency, trend (up | down | flat,
None when there is nothing to compare), previous_value, period (YYYY-MM of L, None for a balance),
a one-line explanation, and breakdown where it applies.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from narrative.money import figures as fx
from narrative.money.periods import Month, last_complete_month, months_back

BURN_MONTHS = 3
TOP_CATEGORIES = 3


@dataclass(frozen=True)
class Card:
    id: str
    title: str
    value: Decimal | None
    unit: str
    currency: str | None
    trend: str | None
    explanation: str
    previous_value: Decimal | None = None
    period: str | None = None
    breakdown: list = field(default_factory=list)


@dataclass(frozen=True)
class Figures:
    """Everything the cards show, as of one date."""

    as_of: date
    currency: str
    cash: Decimal
    month: Month
    income: Decimal
    expenses: Decimal
    burn_months: tuple
    avg_burn: Decimal | None
    runway: Decimal | None
    categories: tuple
    has_data: bool

    @property
    def net(self):
        return self.income - self.expenses


@dataclass(frozen=True)
class MetricsReport:
    as_of: date
    currency: str
    cards: list
    figures: Figures
    previous: Figures

    def card(self, card_id):
        return next(card for card in self.cards if card.id == card_id)


def compute_figures(txns, cash, as_of, currency):
    """Figures as of `as_of` from rows already in `currency` (later rows are ignored)."""
    txns = [t for t in txns if t.booked_on <= as_of]
    month = last_complete_month(as_of)
    booked = fx.in_month(txns, month)
    first = fx.first_booking(txns)
    counted = [m for m in months_back(month, BURN_MONTHS) if first is not None and m.end >= first]
    avg_burn = None
    if counted:
        total = sum(
            (fx.expenses_of(fx.in_month(txns, m)) - fx.income_of(fx.in_month(txns, m)) for m in counted),
            fx.ZERO,
        )
        avg_burn = total / len(counted)
    runway = None
    if avg_burn is not None and avg_burn > 0:
        runway = fx.one_decimal(max(cash, fx.ZERO) / avg_burn)
    return Figures(
        as_of=as_of,
        currency=currency,
        cash=cash,
        month=month,
        income=fx.income_of(booked),
        expenses=fx.expenses_of(booked),
        burn_months=tuple(counted),
        avg_burn=avg_burn,
        runway=runway,
        categories=tuple(fx.ranked(fx.expenses_by_category(booked))),
        has_data=first is not None,
    )


def compute_metrics(txns, balances, as_of):
    """The metric cards as of `as_of` from the ledger rows and the accounts' balances on that date."""
    txns = [t for t in txns if t.booked_on <= as_of]
    currency = fx.reporting_currency(txns, balances)
    txns = fx.in_currency(txns, currency)
    cash = fx.cash_of(balances, currency)
    now = compute_figures(txns, cash, as_of, currency)
    before_day = now.month.shift(-1).end
    before = compute_figures(txns, fx.cash_on(cash, txns, as_of=as_of, day=before_day), before_day, currency)
    cards = [
        _cash_card(now, before),
        _income_card(now, before),
        _expenses_card(now, before),
        _net_card(now, before),
        _runway_card(now, before),
        _mom_card(now, before),
        _categories_card(now, before),
    ]
    return MetricsReport(as_of=as_of, currency=currency, cards=cards, figures=now, previous=before)


def trend(value, previous):
    if value is None or previous is None:
        return None
    if value > previous:
        return "up"
    if value < previous:
        return "down"
    return "flat"


def percent_change(value, previous):
    if previous is None or value is None or previous == 0:
        return None
    return fx.one_decimal((value - previous) / previous * 100)


def _m(amount, figures):
    return fx.format_money(amount, figures.currency)


def _cash_card(now, before):
    return Card(
        id="cash_balance",
        title="Cash balance",
        value=fx.money(now.cash),
        unit="currency",
        currency=now.currency,
        trend=trend(now.cash, before.cash),
        previous_value=fx.money(before.cash),
        explanation=(
            f"{_m(now.cash, now)} across your accounts on {now.as_of.isoformat()}, "
            f"against {_m(before.cash, now)} on {before.as_of.isoformat()}."
        ),
    )


def _income_card(now, before):
    return Card(
        id="monthly_income",
        title="Monthly income",
        value=fx.money(now.income),
        unit="currency",
        currency=now.currency,
        trend=trend(now.income, before.income),
        previous_value=fx.money(before.income),
        period=now.month.key,
        explanation=(
            f"{_m(now.income, now)} came in during {now.month.name} "
            f"({_m(before.income, now)} in {before.month.name})."
        ),
    )


def _expenses_card(now, before):
    return Card(
        id="monthly_expenses",
        title="Monthly expenses",
        value=fx.money(now.expenses),
        unit="currency",
        currency=now.currency,
        trend=trend(now.expenses, before.expenses),
        previous_value=fx.money(before.expenses),
        period=now.month.key,
        explanation=(
            f"{_m(now.expenses, now)} went out during {now.month.name} "
            f"({_m(before.expenses, now)} in {before.month.name})."
        ),
    )


def _net_card(now, before):
    if now.net < 0:
        title = "Net burn"
        text = f"You spent {_m(-now.net, now)} more than you earned in {now.month.name}."
    else:
        title = "Net profit"
        text = f"You earned {_m(now.net, now)} more than you spent in {now.month.name}."
    return Card(
        id="net_cash_flow",
        title=title,
        value=fx.money(now.net),
        unit="currency",
        currency=now.currency,
        trend=trend(now.net, before.net),
        previous_value=fx.money(before.net),
        period=now.month.key,
        explanation=text,
    )


def _span(figures):
    months = figures.burn_months
    if not months:
        return "no complete month"
    if len(months) == 1:
        return months[0].name
    return f"{months[0].name} to {months[-1].name}"


def runway_explanation(figures):
    if not figures.has_data:
        return f"No transactions up to {figures.as_of.isoformat()} yet, so there is no burn to measure."
    if figures.runway is None:
        return (
            f"Not burning cash: income covered expenses on average over {_span(figures)}, "
            "so the cash is not running down at this pace."
        )
    return (
        f"{_m(figures.cash, figures)} of cash divided by an average net burn of "
        f"{_m(figures.avg_burn, figures)} a month ({_span(figures)}) lasts {figures.runway} months."
    )


def _runway_card(now, before):
    return Card(
        id="runway",
        title="Runway",
        value=now.runway,
        unit="months",
        currency=None,
        trend=trend(now.runway, before.runway),
        previous_value=before.runway,
        period=now.month.key,
        explanation=runway_explanation(now),
    )


def _mom_card(now, before):
    change = percent_change(now.income, before.income)
    expenses_change = percent_change(now.expenses, before.expenses)
    if change is None:
        text = f"No income in {before.month.name} to compare {now.month.name} with."
    else:
        text = (
            f"Income {_m(now.income, now)} in {now.month.name} against {_m(before.income, now)} "
            f"in {before.month.name} ({change:+} %)"
        )
        text += f"; expenses {expenses_change:+} %." if expenses_change is not None else "."
    return Card(
        id="mom_change",
        title="Month-over-month change",
        value=change,
        unit="percent",
        currency=None,
        trend=trend(change, Decimal(0)) if change is not None else None,
        period=now.month.key,
        explanation=text,
    )


def _categories_card(now, before):
    top = now.categories[:TOP_CATEGORIES]
    previous = dict(before.categories)
    breakdown = [
        {
            "category": name,
            "amount": fx.money(amount),
            "share": fx.one_decimal(amount / now.expenses * 100) if now.expenses else None,
            "previous_amount": fx.money(previous.get(name, fx.ZERO)),
        }
        for name, amount in top
    ]
    if not top:
        return Card(
            id="top_expense_categories",
            title="Largest expense categories",
            value=None,
            unit="currency",
            currency=now.currency,
            trend=None,
            period=now.month.key,
            explanation=f"No expenses in {now.month.name}.",
        )
    name, amount = top[0]
    parts = ", ".join(
        f"{fx.category_label(b['category'])} {_m(b['amount'], now)} ({b['share']} %)" for b in breakdown
    )
    return Card(
        id="top_expense_categories",
        title="Largest expense categories",
        value=fx.money(amount),
        unit="currency",
        currency=now.currency,
        trend=trend(amount, previous.get(name, fx.ZERO)),
        previous_value=fx.money(previous.get(name, fx.ZERO)),
        period=now.month.key,
        breakdown=breakdown,
        explanation=f"{parts} of {_m(now.expenses, now)} spent in {now.month.name}.",
    )
