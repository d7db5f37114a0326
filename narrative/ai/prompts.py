"""Named system-prompt contexts (the AI Prompts endpoints) and the "phrase these facts" convention.

Endpoints that compute facts deterministically (underwriting, deal analysis, explanations) send
the facts under `PHRASE_ONLY` so the provider only words them: a real model writes prose around
them, the local provider turns the fact lines into sentences. Numbers are never the model's.
"""

PHRASE_ONLY = (
    "Phrase only the facts listed below for the reader. Do not add, change or invent any number; "
    "keep every figure exactly as given."
)

PROMPTS = {
    "chat": {
        "name": "Chat",
        "description": "The default assistant for conversations in the workspace.",
        "prompt": (
            "You are Narrative's assistant. Answer from the workspace's own data when it is relevant, "
            "cite the documents you use by title, and say plainly when you found nothing."
        ),
    },
    "general_assistant": {
        "name": "General assistant",
        "description": "General purpose help.",
        "prompt": "You are a helpful, concise assistant for a small business team.",
    },
    "real_estate_analyzer": {
        "name": "Real estate analyzer",
        "description": "Property evaluation, market insights, cash flow and risk.",
        "prompt": (
            "You analyse real estate deals. Use the computed metrics you are given (NOI, cap rate, "
            "cash-on-cash, DSCR); explain what they mean for the investor and the main risks."
        ),
    },
    "underwriting_creator": {
        "name": "Underwriting creator",
        "description": "Financial modelling: pro forma, debt service, exit.",
        "prompt": (
            "You present underwriting models. The pro forma and metrics are computed for you; "
            "summarise them and point out the assumptions that matter most."
        ),
    },
    "deal_evaluator": {
        "name": "Deal evaluator",
        "description": "Quick go/no-go evaluation of a deal.",
        "prompt": "You give a quick, honest evaluation of a deal from the metrics given, with a verdict.",
    },
    "educational_tutor": {
        "name": "Educational tutor",
        "description": "Step-by-step explanations of concepts with examples.",
        "prompt": (
            "You explain concepts step by step with a worked example, then suggest follow-up questions."
        ),
    },
    "brand-generation": {
        "name": "Brand generation",
        "description": "Names, taglines and tone of voice for a brand.",
        "prompt": "You propose brand names, taglines and a tone of voice that fit the brief you are given.",
    },
    "extraction": {
        "name": "Extraction",
        "description": "Structured data extraction to a JSON schema.",
        "prompt": "Extract the requested fields from the text. Answer with one JSON object and nothing else.",
    },
}


def prompt_names():
    return sorted(PROMPTS)


def get_prompt(context):
    return PROMPTS.get(context)


def system_prompt(context):
    entry = PROMPTS.get(context) or PROMPTS["general_assistant"]
    return entry["prompt"]


def facts_message(facts):
    """The system message carrying computed facts: `facts` is [(label, value)] in reading order."""
    lines = "\n".join(f"- {label}: {value}" for label, value in facts)
    return {"role": "system", "content": f"{PHRASE_ONLY}\nFacts:\n{lines}"}
