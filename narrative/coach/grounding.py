"""The facts a coach reply is grounded on: the owner's metric cards, actions and opportunities,
computed when the reply is written and chosen by what the question is about.

The reply job (narrative.conversations.jobs) calls `ground(conversation, question)` for coach
sessions (prompt_context "money_coach"); it returns the coach's system prompt and one
`prompts.facts_message` of computed facts, so the provider only phrases them: the local provider
turns each "label: value" line into a sentence with the figures untouched, a real model writes prose
around them. Either way the runway in a reply is the runway card of /api/money/metrics for the same
date, to the digit.
"""

import re
from datetime import date

from narrative.ai import prompts
from narrative.money import figures as fx
from narrative.money import service as money

COACH_CONTEXT = "money_coach"
COACH_PROMPT = (
    "You are Narrative's finance coach for the owner of a small business. Answer the owner's "
    "question from the facts computed from their bank data; quote the figures exactly as given and "
    "suggest one concrete next step when it helps."
)
TOP_ACTIONS = 3

# What a question is about: (topic, words that start a matching word in the question).
TOPICS = (
    ("runway", ("runway", "how long", "run out", "survive", "months left")),
    ("cash_balance", ("cash", "balance", "bank account", "how much money")),
    ("monthly_income", ("income", "revenue", "sales", "earn", "turnover")),
    ("monthly_expenses", ("expense", "spend", "spent", "cost")),
    ("net_cash_flow", ("burn", "profit", "loss", "net", "margin")),
    ("mom_change", ("month-over-month", "month over month", "change", "trend", "compare")),
    ("top_expense_categories", ("categor", "biggest", "largest", "where does", "where is my money", "going")),
    (
        "actions",
        ("action", "should i", "to do", "next step", "improve", "save", "advice", "recommend", "priorit"),
    ),
    ("opportunities", ("grow", "opportunit", "customer", "upsell", "pric", "season")),
)
SUMMARY_CARDS = ("cash_balance", "monthly_income", "monthly_expenses", "net_cash_flow", "runway")
ORDINALS = ("first", "second", "third", "fourth", "fifth")


def session_as_of(conversation):
    """The date a coach session looks at the books: the one it was opened for, else today (UTC)."""
    raw = (conversation.meta or {}).get("asOfDate")
    return date.fromisoformat(raw) if raw else money.today()


def topics_of(question):
    text = " " + " ".join((question or "").lower().split())
    return [
        topic
        for topic, words in TOPICS
        if any(re.search(r"(?<![a-z0-9])" + re.escape(word), text) for word in words)
    ]


def card_value(card):
    """A card's value as the coach quotes it (the same digits as the card's JSON value)."""
    if card.value is None:
        return "not available"
    if card.unit == "months":
        return f"{card.value} months"
    if card.unit == "percent":
        return f"{card.value:+} %"
    if card.id == "net_cash_flow":
        return fx.format_money(abs(card.value), card.currency)  # the title says burn or profit
    return fx.format_money(card.value, card.currency)


def card_fact(card, report, *, detailed):
    """(label, value) of one card; `detailed` adds the card's one-line explanation."""
    if card.id == "top_expense_categories":
        return f"Where your money went in {report.figures.month.name}", card.explanation
    label = card.title
    if card.id in ("cash_balance", "runway"):
        label += f" as of {report.as_of.isoformat()}"
    elif card.period:
        label += f" for {report.figures.month.name}"
    value = "not limited" if card.id == "runway" and card.value is None else card_value(card)
    if detailed or card.id == "runway":
        value += f". {card.explanation}"
    return label, value


def action_fact(index, item):
    label = f"Your {ORDINALS[index]} action ({item.priority} priority)"
    impact = fx.format_money(item.impact, item.currency)
    return label, f"{item.title}. {item.why} Estimated impact {impact} a month."


def facts_for(*, workspace_id, user_id, as_of, question):
    """[(label, value)] answering `question` from the owner's data as of `as_of`."""
    report, listed = money.actions(
        workspace_id=workspace_id, user_id=user_id, as_of=as_of, status_filter="all"
    )
    open_actions = [item for item in listed if item.status == "open"]
    if not report.figures.has_data:
        return [
            (
                "Your bank data",
                "empty so far. Connect a bank or import a statement and I will work out your cash, "
                "burn and runway",
            )
        ]
    text = (question or "").lower()
    named = [item for item in listed if item.title.lower() in text]  # an action payload, say
    if named:
        return [action_fact(0, named[0])]
    topics = topics_of(question)
    cards = {card.id: card for card in report.cards}
    facts = [card_fact(cards[t], report, detailed=True) for t in topics if t in cards]
    if "actions" in topics or not topics:
        if not topics:
            facts = [card_fact(cards[card_id], report, detailed=False) for card_id in SUMMARY_CARDS]
        facts += [action_fact(i, item) for i, item in enumerate(open_actions[:TOP_ACTIONS])]
        if not open_actions:
            facts.append(("Your action list", "clear: nothing needs your attention right now"))
    if "opportunities" in topics:
        _currency, opps = money.opportunities(
            workspace_id=workspace_id, user_id=user_id, as_of=as_of, remember=False
        )
        facts += [
            (f"Growth opportunity {i + 1}", f"{opp.title}. {opp.why}") for i, opp in enumerate(opps[:3])
        ]
        if not opps:
            facts.append(("Growth opportunities", "none stand out in your bank data yet"))
    return facts


def ground(conversation, question):
    """The reply job's grounding for a coach session (see narrative.conversations.jobs)."""
    facts = facts_for(
        workspace_id=conversation.workspace_id,
        user_id=conversation.owner_id,
        as_of=session_as_of(conversation),
        question=question,
    )
    return [{"role": "system", "content": COACH_PROMPT}, prompts.facts_message(facts)]
