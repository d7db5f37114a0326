"""Money actions: deterministic findings over a ledger as of a date (pure functions).

Each rule looks at the reporting currency's rows up to asOfDate (see narrative.money.figures); L is
the last complete month, M the month of asOfDate (see narrative.money.periods). The estimated
monthly impact is in the reporting currency.

- low_runway: runway (narrative.money.metrics) under 6 months; high under 3. Impact: the average
  monthly net burn.
- spending_spike: a category's expenses in L at least 1.5x its average over the three months before
  L (months before the first booking left out), at least 100 above it, and above 1.2x the largest
  of those months (so a quarterly bill is not a spike); high at 2x the average. Impact: the excess
  over the average.
- Recurring charges: outgoing payments with the same counterparty and the same amount. A series is
  recurring when it was charged in at least two different months of M-3..M and last charged within
  45 days of asOfDate.
  - new_recurring_charge: a recurring series first charged within 62 days of asOfDate while the
    ledger goes back further than 30 days before that first charge. Impact: its amount.
  - duplicate_charge: a recurring series charged more than once within L or M. Impact: the extra
    charges. High.
  - duplicate_subscription: two or more recurring series (different amounts) to one counterparty.
    Impact: the smaller amount(s).
- idle_cash: cash above six months of average expenses (three complete months) by at least 1,000.
  Impact: the interest it could earn at 2 % a year, per month. Low.
- income_concentration: one customer brought at least 40 % of the income of the last three complete
  months; high from 60 %. Impact: that customer's average monthly income (what is at risk).
"""

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from narrative.money import figures as fx
from narrative.money.findings import Finding, prioritised
from narrative.money.periods import Month, months_back

PREFIX = "act"
LOW_RUNWAY_MONTHS = Decimal(6)
CRITICAL_RUNWAY_MONTHS = Decimal(3)
TRAILING_MONTHS = 3
SPIKE_RATIO = Decimal("1.5")
SPIKE_HIGH_RATIO = Decimal(2)
SPIKE_MIN_EXCESS = Decimal(100)
SPIKE_OVER_PEAK = Decimal("1.2")
RECURRING_ACTIVE_DAYS = 45
NEW_RECURRING_DAYS = 62
NEW_RECURRING_HISTORY_DAYS = 30
RECURRING_MIN_AMOUNT_FOR_MEDIUM = Decimal(100)
IDLE_BUFFER_MONTHS = 6
IDLE_MIN = Decimal(1000)
IDLE_YEARLY_YIELD = Decimal("0.02")
CONCENTRATION_SHARE = Decimal("0.4")
CONCENTRATION_HIGH_SHARE = Decimal("0.6")


def compute_actions(txns, balances, as_of, report):
    """The prioritised findings as of `as_of`; `report` is compute_metrics' result for the same data."""
    currency = report.currency
    txns = fx.in_currency([t for t in txns if t.booked_on <= as_of], currency)
    found = []
    found += _low_runway(report)
    found += _spending_spikes(txns, report)
    found += _recurring_findings(txns, as_of, currency)
    found += _idle_cash(txns, report)
    found += _income_concentration(txns, report)
    return prioritised(found)


def _m(amount, currency):
    return fx.format_money(amount, currency)


def counted_months(txns, last, count):
    """`count` complete months ending with `last`, leaving out those before the first booking."""
    first = fx.first_booking(txns)
    return [m for m in months_back(last, count) if first is not None and m.end >= first]


def _low_runway(report):
    figures = report.figures
    if figures.runway is None or figures.runway >= LOW_RUNWAY_MONTHS:
        return []
    priority = "high" if figures.runway < CRITICAL_RUNWAY_MONTHS else "medium"
    c = figures.currency
    return [
        Finding.make(
            PREFIX,
            "low_runway",
            f"runway:{priority}",
            title=f"Runway is {figures.runway} months",
            why=(
                f"At the average net burn of {_m(figures.avg_burn, c)} a month, your "
                f"{_m(figures.cash, c)} of cash lasts {figures.runway} months. Cut costs or bring "
                "income forward before it falls further."
            ),
            impact=fx.money(figures.avg_burn),
            currency=c,
            priority=priority,
            facts={"runway_months": figures.runway, "average_monthly_burn": fx.money(figures.avg_burn)},
        )
    ]


def _spending_spikes(txns, report):
    month = report.figures.month
    current = fx.expenses_by_category(fx.in_month(txns, month))
    trailing = counted_months(txns, month.shift(-1), TRAILING_MONTHS)
    if not trailing:
        return []
    totals, peaks = defaultdict(Decimal), defaultdict(Decimal)
    for m in trailing:
        for category, amount in fx.expenses_by_category(fx.in_month(txns, m)).items():
            totals[category] += amount
            peaks[category] = max(peaks[category], amount)
    found = []
    for category, spent in sorted(current.items()):
        average = totals.get(category, fx.ZERO) / len(trailing)
        if average <= 0 or spent < average * SPIKE_RATIO or spent - average < SPIKE_MIN_EXCESS:
            continue
        if spent <= peaks[category] * SPIKE_OVER_PEAK:
            continue  # as much as a recent month: a quarterly bill, not a spike
        c = report.currency
        ratio = fx.one_decimal(spent / average)
        label = fx.category_label(category)
        found.append(
            Finding.make(
                PREFIX,
                "spending_spike",
                f"{category.lower()}:{month.key}",
                title=f"{label} spending jumped in {month.name}",
                why=(
                    f"You spent {_m(spent, c)} on {label.lower()} in {month.name}, {ratio}x the "
                    f"{_m(average, c)} a month of the {len(trailing)} months before."
                ),
                impact=fx.money(spent - average),
                currency=c,
                priority="high" if spent >= average * SPIKE_HIGH_RATIO else "medium",
                facts={"category": category, "spent": fx.money(spent), "trailing_average": fx.money(average)},
            )
        )
    return found


class _Series:
    """Outgoing payments to one counterparty of one amount."""

    def __init__(self, name, amount):
        self.name = name
        self.amount = amount
        self.dates = []

    @property
    def months(self):
        return {Month.of(d) for d in self.dates}

    def count_in(self, month):
        return sum(1 for d in self.dates if month.contains(d))


def recurring_series(txns, as_of):
    """{(counterparty key, amount): _Series} of the recurring outgoing payments (see module doc)."""
    series = {}
    for txn in sorted(fx.flows(txns), key=lambda t: t.booked_on):
        if txn.amount >= 0:
            continue
        name = fx.counterparty_of(txn)
        key = (name.lower(), fx.money(-Decimal(txn.amount)))
        entry = series.setdefault(key, _Series(name, key[1]))
        entry.name = name
        entry.dates.append(txn.booked_on)
    window = set(months_back(Month.of(as_of), 4))
    active_since = as_of - timedelta(days=RECURRING_ACTIVE_DAYS)
    return {
        key: s for key, s in series.items() if len(s.months & window) >= 2 and max(s.dates) > active_since
    }


def _recurring_findings(txns, as_of, currency):
    recurring = recurring_series(txns, as_of)
    found = []
    for (key, amount), series in sorted(recurring.items()):
        found += _new_recurring(key, amount, series, txns, as_of, currency)
        found += _duplicate_charge(key, amount, series, as_of, currency)
    found += _duplicate_subscriptions(recurring, currency)
    return found


def _new_recurring(key, amount, series, txns, as_of, currency):
    first = min(series.dates)
    is_recent = first >= as_of - timedelta(days=NEW_RECURRING_DAYS)
    # A series that starts with the ledger itself is not new, we just did not see before it.
    seen_before = fx.first_booking(txns) < first - timedelta(days=NEW_RECURRING_HISTORY_DAYS)
    if not (is_recent and seen_before):
        return []
    return [
        Finding.make(
            PREFIX,
            "new_recurring_charge",
            f"{key}:{amount}",
            title=f"New recurring charge: {series.name}",
            why=(
                f"{series.name} has charged {_m(amount, currency)} every month since "
                f"{first.isoformat()}. Check that you still want it."
            ),
            impact=amount,
            currency=currency,
            priority="medium" if amount >= RECURRING_MIN_AMOUNT_FOR_MEDIUM else "low",
            facts={"counterparty": series.name, "amount": amount, "first_charged_on": first},
        )
    ]


def _duplicate_charge(key, amount, series, as_of, currency):
    this_month = Month.of(as_of)
    for month in (this_month, this_month.shift(-1)):
        count = series.count_in(month)
        if count < 2:
            continue
        return [
            Finding.make(
                PREFIX,
                "duplicate_charge",
                f"{key}:{amount}:{month.key}",
                title=f"{series.name} charged you twice in {month.name}",
                why=(
                    f"{series.name} charged {_m(amount, currency)} {_times(count)} in {month.name} "
                    "for what is normally a monthly charge. Ask for a refund of the extra."
                ),
                impact=amount * (count - 1),
                currency=currency,
                priority="high",
                facts={"counterparty": series.name, "amount": amount, "charges": count, "month": month.key},
            )
        ]
    return []


def _times(count):
    return "twice" if count == 2 else f"{count} times"


def _duplicate_subscriptions(recurring, currency):
    by_vendor = defaultdict(list)
    for (key, _amount), series in recurring.items():
        by_vendor[key].append(series)
    found = []
    for key, subscriptions in sorted(by_vendor.items()):
        if len(subscriptions) < 2:
            continue
        subscriptions.sort(key=lambda s: s.amount)
        amounts = [s.amount for s in subscriptions]
        name = subscriptions[-1].name
        listed = " and ".join(_m(a, currency) for a in amounts)
        found.append(
            Finding.make(
                PREFIX,
                "duplicate_subscription",
                f"{key}:" + "+".join(str(a) for a in amounts),
                title=f"{'Two' if len(amounts) == 2 else len(amounts)} subscriptions to {name}",
                why=(
                    f"You pay {name} {listed} every month: {len(amounts)} separate recurring charges. "
                    "Cancel the one you do not need."
                ),
                impact=sum(amounts[:-1], fx.ZERO),
                currency=currency,
                priority="medium",
                facts={"counterparty": name, "amounts": amounts},
            )
        )
    return found


def _idle_cash(txns, report):
    figures = report.figures
    months = counted_months(txns, figures.month, TRAILING_MONTHS)
    if not months:
        return []
    average = sum((fx.expenses_of(fx.in_month(txns, m)) for m in months), fx.ZERO) / len(months)
    buffer = average * IDLE_BUFFER_MONTHS
    idle = figures.cash - buffer
    if average <= 0 or idle < IDLE_MIN:
        return []
    c = figures.currency
    return [
        Finding.make(
            PREFIX,
            "idle_cash",
            "cash",
            title=f"{_m(idle, c)} of cash is sitting idle",
            why=(
                f"You hold {_m(figures.cash, c)}, more than six months of expenses "
                f"({_m(buffer, c)}). Moving the rest to a savings account at 2 % a year would earn "
                f"about {_m(idle * IDLE_YEARLY_YIELD / 12, c)} a month."
            ),
            impact=fx.money(idle * IDLE_YEARLY_YIELD / 12),
            currency=c,
            priority="low",
            facts={"idle_cash": fx.money(idle), "buffer": fx.money(buffer)},
        )
    ]


def _income_concentration(txns, report):
    months = counted_months(txns, report.figures.month, TRAILING_MONTHS)
    totals = defaultdict(Decimal)
    for m in months:
        for name, amount in fx.income_by_counterparty(fx.in_month(txns, m)).items():
            totals[name] += amount
    income = sum(totals.values(), fx.ZERO)
    if income <= 0:
        return []
    name, amount = fx.ranked(totals)[0]
    share = amount / income
    if share < CONCENTRATION_SHARE:
        return []
    c = report.currency
    percent = fx.one_decimal(share * 100)
    return [
        Finding.make(
            PREFIX,
            "income_concentration",
            name.lower(),
            title=f"{percent} % of your income comes from {name}",
            why=(
                f"{name} paid {_m(amount, c)} of your {_m(income, c)} income over the last "
                f"{len(months)} complete months. Losing them would hurt: win other customers."
            ),
            impact=fx.money(amount / len(months)),
            currency=c,
            priority="high" if share >= CONCENTRATION_HIGH_SHARE else "medium",
            facts={"customer": name, "share_percent": percent},
        )
    ]
