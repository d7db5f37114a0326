"""Sums over a ledger (pure functions): what came in and went out, by month, counterparty, category.

The functions take the ledger's rows (`narrative.banking.ledger.LedgerTxn`: booked_on, amount,
currency, description, counterparty, category; a negative amount is money out) and never touch the
database, so every figure can be checked by hand against a small list of transactions.

Rules shared by every money view:
- One reporting currency: the currency most of the transactions are in (ties: the one holding the
  most cash, then alphabetical); rows in other currencies are left out of every figure, never
  converted at a guessed rate.
- Transfers between the user's own accounts (category "transfer", "transfers" or
  "internal_transfer") are neither income nor expenses; they still move the cash balance.
- Income is the sum of positive amounts, expenses the sum of negative amounts as a positive number.
"""

from collections import Counter, defaultdict
from decimal import ROUND_HALF_UP, Decimal

TRANSFER_CATEGORIES = frozenset({"transfer", "transfers", "internal_transfer", "internal transfer"})
DEFAULT_CURRENCY = "EUR"
UNCATEGORISED = "Uncategorised"
ZERO = Decimal("0")
CENT = Decimal("0.01")
TENTH = Decimal("0.1")


def money(value):
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def one_decimal(value):
    return Decimal(value).quantize(TENTH, rounding=ROUND_HALF_UP)


def format_money(amount, currency):
    return f"{currency} {money(amount):,.2f}"


def reporting_currency(txns, balances=()):
    counts = Counter(t.currency for t in txns if t.currency)
    cash = defaultdict(Decimal)
    for account in balances:
        cash[account.currency] += Decimal(account.balance or 0)
        counts.setdefault(account.currency, 0)
    if not counts:
        return DEFAULT_CURRENCY
    return min(counts, key=lambda c: (-counts[c], -cash.get(c, ZERO), c))


def is_transfer(txn):
    return (txn.category or "").strip().lower() in TRANSFER_CATEGORIES


def in_currency(txns, currency):
    return [t for t in txns if t.currency == currency]


def flows(txns):
    """Income and expense rows only (transfers left out)."""
    return [t for t in txns if not is_transfer(t)]


def in_month(txns, month):
    return [t for t in txns if month.contains(t.booked_on)]


def income_of(txns):
    return sum((Decimal(t.amount) for t in flows(txns) if t.amount > 0), ZERO)


def expenses_of(txns):
    return sum((-Decimal(t.amount) for t in flows(txns) if t.amount < 0), ZERO)


def counterparty_of(txn):
    """Who the money went to or came from: the counterparty, else the description."""
    name = (txn.counterparty or "").strip() or (txn.description or "").strip()
    return " ".join(name.split()) or "Unknown"


def category_of(txn):
    return (txn.category or "").strip() or UNCATEGORISED


def category_label(category):
    """How a category reads in a sentence ("bank_fees" -> "Bank fees")."""
    text = category.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def expenses_by_category(txns):
    totals = defaultdict(Decimal)
    for txn in flows(txns):
        if txn.amount < 0:
            totals[category_of(txn)] += -Decimal(txn.amount)
    return dict(totals)


def income_by_counterparty(txns):
    totals = defaultdict(Decimal)
    for txn in flows(txns):
        if txn.amount > 0:
            totals[counterparty_of(txn)] += Decimal(txn.amount)
    return dict(totals)


def ranked(totals):
    """(name, amount) pairs, largest amount first, ties by name."""
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))


def cash_of(balances, currency):
    return sum((Decimal(a.balance or 0) for a in balances if a.currency == currency), ZERO)


def cash_on(cash_now, txns, *, as_of, day):
    """The balance at the end of `day` (before `as_of`): today's, less what was booked since."""
    since = sum((Decimal(t.amount) for t in txns if day < t.booked_on <= as_of), ZERO)
    return cash_now - since


def first_booking(txns):
    return min((t.booked_on for t in txns), default=None)
