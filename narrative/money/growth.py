"""Growth opportunities: deterministic findings over a ledger's income as of a date (pure).

L is the last complete month of asOfDate, M its month; "recent" is the three complete months ending
with L, "previous" the three before them. Amounts are in the reporting currency.

- growing_customer: a customer whose recent income is at least 1.25x their previous income (which
  was above zero) and at least 300 more; high from 1.5x. Impact: the monthly increase
  ((recent - previous) / 3). Or, medium, a customer who paid more in each of the three recent months
  (month 3 at least 1.1x month 1 and 200 more), which a seasonal peak in the previous months can
  hide. Impact: the average monthly rise ((month 3 - month 1) / 2).
- seasonal_peak: with twelve complete months of history, each of the next three months (M+1..M+3)
  whose month a year earlier brought at least 1.3x the average monthly income of the last twelve
  complete months. Impact: that month's income a year ago less the average.
- price_review: a customer who paid exactly the same amount in each of the last six complete months
  (one price, unchanged). Impact: a 5 % price rise on it. Low.
- volume_growth: recent incoming payments outnumber the previous ones by at least 20 % (at least five
  before) while the average payment moved by less than 5 %: more work at the same prices. Impact:
  a 5 % price rise on the recent monthly income.
"""

from collections import defaultdict
from decimal import Decimal

from narrative.money import figures as fx
from narrative.money.findings import Finding, prioritised
from narrative.money.periods import Month, last_complete_month, months_back

PREFIX = "opp"
WINDOW = 3
GROWTH_RATIO = Decimal("1.25")
GROWTH_HIGH_RATIO = Decimal("1.5")
GROWTH_MIN_INCREASE = Decimal(300)
STEADY_GROWTH_RATIO = Decimal("1.1")
STEADY_MIN_INCREASE = Decimal(200)
SEASON_RATIO = Decimal("1.3")
SEASON_HISTORY_MONTHS = 12
SEASON_LOOKAHEAD = 3
STABLE_PRICE_MONTHS = 6
PRICE_RISE = Decimal("0.05")
VOLUME_RATIO = Decimal("1.2")
VOLUME_MIN_PAYMENTS = 5
FLAT_PRICE_TOLERANCE = Decimal("0.05")


def compute_opportunities(txns, balances, as_of):
    """The prioritised growth opportunities as of `as_of`."""
    txns = [t for t in txns if t.booked_on <= as_of]
    currency = fx.reporting_currency(txns, balances)
    incoming = [t for t in fx.flows(fx.in_currency(txns, currency)) if t.amount > 0]
    last = last_complete_month(as_of)
    found = []
    found += _growing_customers(incoming, last, currency)
    found += _seasonal_peaks(incoming, txns, as_of, last, currency)
    found += _price_reviews(incoming, last, currency)
    found += _volume_growth(incoming, last, currency)
    return currency, prioritised(found)


def _m(amount, currency):
    return fx.format_money(amount, currency)


def _in_months(txns, months):
    months = set(months)
    return [t for t in txns if Month.of(t.booked_on) in months]


def _by_customer(txns):
    totals = defaultdict(Decimal)
    for txn in txns:
        totals[fx.counterparty_of(txn)] += Decimal(txn.amount)
    return totals


def _growing_customers(incoming, last, currency):
    recent_months = months_back(last, WINDOW)
    recent = _by_customer(_in_months(incoming, recent_months))
    previous = _by_customer(_in_months(incoming, months_back(last.shift(-WINDOW), WINDOW)))
    monthly = {m: _by_customer(_in_months(incoming, [m])) for m in recent_months}
    found = []
    for name, now in sorted(recent.items()):
        finding = _quarter_growth(name, now, previous.get(name, fx.ZERO), recent_months, currency)
        if finding is None:
            finding = _steady_growth(
                name, [monthly[m].get(name, fx.ZERO) for m in recent_months], recent_months, currency
            )
        if finding is not None:
            found.append(finding)
    return found


def _quarter_growth(name, now, before, recent_months, currency):
    """The last three complete months against the three before."""
    if before <= 0 or now < before * GROWTH_RATIO or now - before < GROWTH_MIN_INCREASE:
        return None
    growth = fx.one_decimal((now - before) / before * 100)
    span = f"{recent_months[0].name} to {recent_months[-1].name}"
    return Finding.make(
        PREFIX,
        "growing_customer",
        name.lower(),
        title=f"{name} is buying more",
        why=(
            f"{name} paid {_m(now, currency)} from {span}, up {growth} % on "
            f"{_m(before, currency)} in the three months before. Offer them more."
        ),
        impact=fx.money((now - before) / WINDOW),
        currency=currency,
        priority="high" if now >= before * GROWTH_HIGH_RATIO else "medium",
        facts={"customer": name, "recent": fx.money(now), "previous": fx.money(before)},
    )


def _steady_growth(name, amounts, months, currency):
    """Paid more in each of the last three complete months (a rise a seasonal peak can hide)."""
    first, middle, latest = amounts
    rising = fx.ZERO < first < middle < latest
    if not rising or latest < first * STEADY_GROWTH_RATIO or latest - first < STEADY_MIN_INCREASE:
        return None
    growth = fx.one_decimal((latest - first) / first * 100)
    return Finding.make(
        PREFIX,
        "growing_customer",
        name.lower(),
        title=f"{name} is buying more",
        why=(
            f"{name} paid more every month: {_m(first, currency)} in {months[0].name}, "
            f"{_m(middle, currency)} in {months[1].name}, {_m(latest, currency)} in "
            f"{months[2].name} (up {growth} %). Offer them more."
        ),
        impact=fx.money((latest - first) / 2),
        currency=currency,
        priority="medium",
        facts={"customer": name, "monthly": [fx.money(a) for a in amounts]},
    )


def _seasonal_peaks(incoming, txns, as_of, last, currency):
    history = months_back(last, SEASON_HISTORY_MONTHS)
    first = fx.first_booking(txns)
    if first is None or first > history[0].start:
        return []
    average = sum((Decimal(t.amount) for t in _in_months(incoming, history)), fx.ZERO) / len(history)
    if average <= 0:
        return []
    found = []
    this_month = Month.of(as_of)
    for ahead in range(1, SEASON_LOOKAHEAD + 1):
        upcoming = this_month.shift(ahead)
        year_ago = upcoming.shift(-12)
        earned = sum((Decimal(t.amount) for t in _in_months(incoming, [year_ago])), fx.ZERO)
        if earned < average * SEASON_RATIO:
            continue
        month_name = upcoming.start.strftime("%B")
        found.append(
            Finding.make(
                PREFIX,
                "seasonal_peak",
                upcoming.key,
                title=f"Seasonal peak ahead in {month_name}",
                why=(
                    f"Last {month_name} brought {_m(earned, currency)}, against an average of "
                    f"{_m(average, currency)} a month. Prepare stock, staff and offers for "
                    f"{upcoming.name}."
                ),
                impact=fx.money(earned - average),
                currency=currency,
                priority="medium",
                facts={"month": upcoming.key, "last_year": fx.money(earned), "average": fx.money(average)},
            )
        )
    return found


def _price_reviews(incoming, last, currency):
    months = months_back(last, STABLE_PRICE_MONTHS)
    by_customer = defaultdict(lambda: defaultdict(list))
    for txn in _in_months(incoming, months):
        by_customer[fx.counterparty_of(txn)][Month.of(txn.booked_on)].append(fx.money(txn.amount))
    found = []
    for name, per_month in sorted(by_customer.items()):
        amounts = {tuple(sorted(per_month.get(m, []))) for m in months}
        if len(amounts) != 1:
            continue
        (paid,) = amounts
        if len(paid) != 1:
            continue  # several payments a month: a volume, not one price
        price = paid[0]
        found.append(
            Finding.make(
                PREFIX,
                "price_review",
                name.lower(),
                title=f"Review your price with {name}",
                why=(
                    f"{name} has paid the same {_m(price, currency)} every month for "
                    f"{STABLE_PRICE_MONTHS} months. A 5 % increase would add "
                    f"{_m(price * PRICE_RISE, currency)} a month."
                ),
                impact=fx.money(price * PRICE_RISE),
                currency=currency,
                priority="low",
                facts={"customer": name, "monthly_amount": price},
            )
        )
    return found


def _volume_growth(incoming, last, currency):
    recent = _in_months(incoming, months_back(last, WINDOW))
    previous = _in_months(incoming, months_back(last.shift(-WINDOW), WINDOW))
    if len(previous) < VOLUME_MIN_PAYMENTS or len(recent) < len(previous) * VOLUME_RATIO:
        return []
    recent_total = sum((Decimal(t.amount) for t in recent), fx.ZERO)
    previous_total = sum((Decimal(t.amount) for t in previous), fx.ZERO)
    recent_average = recent_total / len(recent)
    previous_average = previous_total / len(previous)
    if abs(recent_average - previous_average) >= previous_average * FLAT_PRICE_TOLERANCE:
        return []
    monthly = recent_total / WINDOW
    return [
        Finding.make(
            PREFIX,
            "volume_growth",
            "volume",
            title="More sales at the same prices",
            why=(
                f"{len(recent)} payments came in over the last three complete months against "
                f"{len(previous)} before, at about the same {_m(recent_average, currency)} each. "
                f"Demand is up: a 5 % price rise would add {_m(monthly * PRICE_RISE, currency)} a month."
            ),
            impact=fx.money(monthly * PRICE_RISE),
            currency=currency,
            priority="medium",
            facts={"recent_payments": len(recent), "previous_payments": len(previous)},
        )
    ]
