"""Rule-based categorisation of bank transactions, with the member's own rules first.

Order of precedence for one transaction:
1. the member's `CategoryRule`s (their corrections), counterparty rules before description rules,
   longer patterns before shorter ones;
2. the built-in keyword table below, matched on counterparty and description (lower case);
3. the sign: money in with no other clue is "revenue", money out is "other".
"""

import re

import sqlalchemy as sa

from narrative.banking.models import MATCH_COUNTERPARTY, MATCH_DESCRIPTION, CategoryRule
from narrative.extensions import db

CATEGORIES = (
    "revenue",
    "payroll",
    "rent",
    "software",
    "marketing",
    "travel",
    "taxes",
    "bank_fees",
    "utilities",
    "transfers",
    "other",
)

# Keywords per category, checked in this order (the first category with a matching keyword wins),
# so specific words ("payroll", "tax") come before generic ones ("payment").
KEYWORDS = (
    ("transfers", ("transfer to savings", "own account", "internal transfer", "savings transfer")),
    ("payroll", ("payroll", "salary", "salaries", "wages", "gusto", "deel", "remote.com", "pension")),
    ("taxes", ("tax", "hmrc", "irs", "vat", "finanzamt", "revenue service", "social security")),
    ("rent", ("rent", "lease", "landlord", "property management", "coworking", "wework", "regus")),
    (
        "software",
        (
            "saas",
            "subscription",
            "github",
            "atlassian",
            "slack",
            "notion",
            "google workspace",
            "gsuite",
            "microsoft 365",
            "adobe",
            "figma",
            "dropbox",
            "zoom",
            "aws",
            "amazon web services",
            "heroku",
            "digitalocean",
            "hubspot",
            "salesforce",
            "openai",
            "intercom",
            "mailchimp",
            "xero",
            "quickbooks",
        ),
    ),
    (
        "marketing",
        ("google ads", "facebook ads", "meta ads", "linkedin ads", "advertising", "marketing", "ads"),
    ),
    (
        "travel",
        ("airline", "airways", "ryanair", "easyjet", "lufthansa", "hotel", "airbnb", "uber", "taxi", "rail"),
    ),
    ("utilities", ("electric", "energy", "water", "gas", "internet", "telecom", "vodafone", "broadband")),
    ("bank_fees", ("bank fee", "account fee", "service charge", "overdraft", "wire fee", "fx fee", "fee")),
    ("revenue", ("invoice", "payment received", "stripe payout", "paypal payout", "customer payment")),
)


def _words(text):
    return " " + re.sub(r"\s+", " ", (text or "").lower()) + " "


def _keyword_pattern(keywords):
    # Whole words (an optional plural "s"), so "rent" does not match "current" nor "tax" "taxi".
    alternatives = "|".join(re.escape(keyword) for keyword in keywords)
    return re.compile(rf"(?<![a-z0-9])(?:{alternatives})s?(?![a-z0-9])")


KEYWORD_PATTERNS = tuple((category, _keyword_pattern(keywords)) for category, keywords in KEYWORDS)


def user_rules(workspace_id, user_id):
    """The member's rules in the order they are tried.

    Sync and import jobs (narrative.integrations) name the workspace; the session's scope applies too.
    """
    rules = db.session.scalars(
        sa.select(CategoryRule).where(
            CategoryRule.workspace_id == workspace_id,
            CategoryRule.user_id.is_(None) if user_id is None else CategoryRule.user_id == user_id,
        )
    ).all()
    field_order = {MATCH_COUNTERPARTY: 0, MATCH_DESCRIPTION: 1}
    return sorted(rules, key=lambda r: (field_order.get(r.match_field, 2), -len(r.pattern), r.pattern))


def categorise(*, amount, description, counterparty, rules=()):
    """(category, source) for one transaction; `rules` from `user_rules`."""
    texts = {MATCH_COUNTERPARTY: _words(counterparty), MATCH_DESCRIPTION: _words(description)}
    for rule in rules:
        if rule.pattern and rule.pattern.lower() in texts.get(rule.match_field, ""):
            return rule.category, "user"
    both = texts[MATCH_COUNTERPARTY] + texts[MATCH_DESCRIPTION]
    for category, pattern in KEYWORD_PATTERNS:
        if category == "revenue" and amount < 0:
            continue
        if pattern.search(both):
            return category, "rule"
    return ("revenue" if amount > 0 else "other"), "rule"
