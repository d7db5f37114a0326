"""Deterministic real-estate numbers for the AI assistant endpoints: the model only phrases them.

All money is in the deal's currency, rates are fractions (0.065 = 6.5 %), periods are years.
Formulas:
- NOI = effective gross income (gross rent x (1 - vacancy) + other income) - operating expenses
- cap rate = NOI / purchase price
- annual debt service = 12 x the monthly payment of a fully amortising loan
- DSCR = NOI / annual debt service
- cash-on-cash = (NOI - debt service) / cash invested (down payment + closing costs)
- IRR: the rate that makes the cash flows' NPV zero (bisection); NPV at the discount rate.
"""

from dataclasses import dataclass

from narrative.platform.errors import ValidationFailed


@dataclass
class Deal:
    purchase_price: float
    gross_rent: float  # annual
    vacancy_rate: float = 0.05
    other_income: float = 0.0
    operating_expenses: float | None = None  # annual
    expense_ratio: float = 0.35  # of effective gross income, when operating_expenses is not given
    down_payment_rate: float = 0.25
    interest_rate: float = 0.065
    amortization_years: int = 30
    closing_costs: float = 0.0
    rent_growth: float = 0.03
    expense_growth: float = 0.025
    exit_cap_rate: float | None = None
    selling_costs_rate: float = 0.06
    hold_years: int = 10
    discount_rate: float = 0.08


FIELDS = {name for name in Deal.__dataclass_fields__}


def deal_from(payload):
    """A Deal from a request body (monthly_rent accepted); 422 naming the missing or bad fields."""
    data = {k: v for k, v in (payload or {}).items() if k in FIELDS and v is not None}
    if "gross_rent" not in data and payload.get("monthly_rent") is not None:
        data["gross_rent"] = float(payload["monthly_rent"]) * 12
    details = [
        {"field": name, "message": "Required."}
        for name in ("purchase_price", "gross_rent")
        if name not in data
    ]
    if details:
        raise ValidationFailed(details=details)
    try:
        deal = Deal(
            **{
                k: (int(v) if k in ("amortization_years", "hold_years") else float(v))
                for k, v in data.items()
            }
        )
    except (TypeError, ValueError):
        raise ValidationFailed(details=[{"field": "deal", "message": "Numbers are expected."}]) from None
    if deal.purchase_price <= 0:
        raise ValidationFailed(details=[{"field": "purchase_price", "message": "Must be positive."}])
    if not 1 <= deal.hold_years <= 40:
        raise ValidationFailed(details=[{"field": "hold_years", "message": "Between 1 and 40."}])
    return deal


def monthly_payment(principal, annual_rate, years):
    months = years * 12
    if principal <= 0 or months <= 0:
        return 0.0
    rate = annual_rate / 12
    if rate == 0:
        return principal / months
    return principal * rate / (1 - (1 + rate) ** -months)


def loan_balance(principal, annual_rate, years, after_months):
    payment = monthly_payment(principal, annual_rate, years)
    rate = annual_rate / 12
    if rate == 0:
        return max(0.0, principal - payment * after_months)
    return principal * (1 + rate) ** after_months - payment * ((1 + rate) ** after_months - 1) / rate


def npv(rate, flows):
    return sum(flow / (1 + rate) ** year for year, flow in enumerate(flows))


def irr(flows, low=-0.99, high=10.0):
    """None when the flows never change sign (no rate makes the NPV zero)."""
    if not (any(f < 0 for f in flows) and any(f > 0 for f in flows)):
        return None
    f_low, f_high = npv(low, flows), npv(high, flows)
    if f_low * f_high > 0:
        return None
    for _ in range(200):
        mid = (low + high) / 2
        f_mid = npv(mid, flows)
        if abs(f_mid) < 1e-7:
            break
        if f_low * f_mid < 0:
            high, f_high = mid, f_mid
        else:
            low, f_low = mid, f_mid
    return (low + high) / 2


def _r(value, places=2):
    return None if value is None else round(value, places)


def year_one(deal):
    effective_gross = deal.gross_rent * (1 - deal.vacancy_rate) + deal.other_income
    expenses = (
        deal.operating_expenses
        if deal.operating_expenses is not None
        else effective_gross * deal.expense_ratio
    )
    noi = effective_gross - expenses
    loan = deal.purchase_price * (1 - deal.down_payment_rate)
    debt_service = 12 * monthly_payment(loan, deal.interest_rate, deal.amortization_years)
    cash_invested = deal.purchase_price * deal.down_payment_rate + deal.closing_costs
    cash_flow = noi - debt_service
    return {
        "effective_gross_income": effective_gross,
        "operating_expenses": expenses,
        "noi": noi,
        "loan_amount": loan,
        "annual_debt_service": debt_service,
        "cash_invested": cash_invested,
        "cash_flow": cash_flow,
        "cap_rate": noi / deal.purchase_price,
        "dscr": noi / debt_service if debt_service else None,
        "cash_on_cash": cash_flow / cash_invested if cash_invested else None,
        "expense_ratio": expenses / effective_gross if effective_gross else None,
        "gross_rent_multiplier": deal.purchase_price / deal.gross_rent if deal.gross_rent else None,
    }


def analyze(deal):
    """Year-one metrics, rounded, plus a verdict from the usual lender and investor thresholds."""
    m = year_one(deal)
    metrics = {
        key: _r(value, 4 if key in ("cap_rate", "dscr", "cash_on_cash", "expense_ratio") else 2)
        for key, value in m.items()
    }
    risks = []
    if m["dscr"] is not None and m["dscr"] < 1.25:
        risks.append("DSCR below 1.25: most lenders would not finance this at these terms.")
    if m["cash_flow"] < 0:
        risks.append("Negative cash flow after debt service.")
    if m["cap_rate"] < deal.interest_rate:
        risks.append("Cap rate below the interest rate: leverage reduces the return.")
    if deal.vacancy_rate < 0.03:
        risks.append("Vacancy assumption below 3 % is optimistic.")
    good = (
        m["dscr"] is not None
        and m["dscr"] >= 1.25
        and m["cash_flow"] > 0
        and (m["cash_on_cash"] or 0) >= 0.06
    )
    verdict = "pass" if not good else "consider"
    return {"metrics": metrics, "risks": risks, "verdict": verdict}


def pro_forma(deal):
    """Year-by-year NOI, debt service and cash flow, the exit, IRR, NPV and sensitivities."""
    first = year_one(deal)
    rows, flows = [], [-first["cash_invested"]]
    income, expenses = first["effective_gross_income"], first["operating_expenses"]
    for year in range(1, deal.hold_years + 1):
        if year > 1:
            income *= 1 + deal.rent_growth
            expenses *= 1 + deal.expense_growth
        noi = income - expenses
        cash_flow = noi - first["annual_debt_service"]
        rows.append(
            {
                "year": year,
                "effective_gross_income": _r(income),
                "operating_expenses": _r(expenses),
                "noi": _r(noi),
                "debt_service": _r(first["annual_debt_service"]),
                "cash_flow": _r(cash_flow),
                "dscr": _r(noi / first["annual_debt_service"], 4) if first["annual_debt_service"] else None,
            }
        )
        flows.append(cash_flow)
    exit_cap = deal.exit_cap_rate or first["cap_rate"]
    next_noi = (income * (1 + deal.rent_growth)) - (expenses * (1 + deal.expense_growth))
    sale_price = next_noi / exit_cap if exit_cap else 0.0
    balance = loan_balance(
        first["loan_amount"], deal.interest_rate, deal.amortization_years, deal.hold_years * 12
    )
    net_proceeds = sale_price * (1 - deal.selling_costs_rate) - balance
    flows[-1] += net_proceeds
    schedule = _debt_schedule(
        first["loan_amount"], deal.interest_rate, deal.amortization_years, deal.hold_years
    )
    return {
        "year_one": {key: _r(value, 4) for key, value in first.items()},
        "pro_forma": rows,
        "debt_schedule": schedule,
        "exit": {
            "exit_cap_rate": _r(exit_cap, 4),
            "sale_price": _r(sale_price),
            "loan_balance": _r(balance),
            "net_sale_proceeds": _r(net_proceeds),
        },
        "metrics": {
            "irr": _r(irr(flows), 4),
            "npv": _r(npv(deal.discount_rate, flows)),
            "equity_multiple": _r(sum(flows[1:]) / first["cash_invested"], 4)
            if first["cash_invested"]
            else None,
            "cash_on_cash_year_one": _r(first["cash_on_cash"], 4),
            "cap_rate": _r(first["cap_rate"], 4),
            "dscr_year_one": _r(first["dscr"], 4),
        },
        "sensitivity": _sensitivity(deal),
        "cash_flows": [_r(f) for f in flows],
    }


def _debt_schedule(principal, rate, years, hold_years):
    payment = monthly_payment(principal, rate, years)
    rows, balance = [], principal
    for year in range(1, hold_years + 1):
        interest_paid = principal_paid = 0.0
        for _ in range(12):
            interest = balance * rate / 12
            interest_paid += interest
            principal_paid += payment - interest
            balance -= payment - interest
        rows.append(
            {
                "year": year,
                "interest": _r(interest_paid),
                "principal": _r(principal_paid),
                "balance": _r(max(balance, 0.0)),
            }
        )
    return rows


def _sensitivity(deal):
    """Cash-on-cash and DSCR when rent, interest rate and vacancy move against the deal."""
    cases = {
        "rent_minus_10_percent": {"gross_rent": deal.gross_rent * 0.9},
        "interest_plus_1_point": {"interest_rate": deal.interest_rate + 0.01},
        "vacancy_plus_5_points": {"vacancy_rate": deal.vacancy_rate + 0.05},
    }
    results = {}
    for name, change in cases.items():
        shifted = year_one(Deal(**{**deal.__dict__, **change}))
        results[name] = {
            "noi": _r(shifted["noi"]),
            "cash_on_cash": _r(shifted["cash_on_cash"], 4),
            "dscr": _r(shifted["dscr"], 4),
        }
    return results


def percent(value):
    return "n/a" if value is None else f"{value * 100:.2f}%"


def money(value):
    return "n/a" if value is None else f"{value:,.2f}"


# Concepts the tutor explains with a worked example computed from sample numbers.
CONCEPTS = {
    "cap rate": ("NOI divided by the purchase price", "cap_rate", percent),
    "cash on cash": (
        "the year's cash flow after debt service divided by the cash invested",
        "cash_on_cash",
        percent,
    ),
    "dscr": (
        "NOI divided by the annual debt service; lenders usually want 1.25 or more",
        "dscr",
        lambda v: f"{v:.2f}",
    ),
    "noi": ("effective gross income minus operating expenses (before debt service)", "noi", money),
}
SAMPLE_DEAL = Deal(purchase_price=500_000, gross_rent=60_000, operating_expenses=20_000)


def explain_concept(concept):
    """(definition, example facts) for a known concept, or None."""
    key = (concept or "").lower().replace("-", " ").replace("_", " ").strip()
    key = {
        "capitalization rate": "cap rate",
        "cash on cash return": "cash on cash",
        "net operating income": "noi",
        "debt service coverage ratio": "dscr",
    }.get(key, key)
    if key not in CONCEPTS:
        return None
    definition, metric, fmt = CONCEPTS[key]
    m = year_one(SAMPLE_DEAL)
    example = [
        ("Example purchase price", money(SAMPLE_DEAL.purchase_price)),
        ("Example gross rent a year", money(SAMPLE_DEAL.gross_rent)),
        ("Example NOI", money(m["noi"])),
        (f"Example {key}", fmt(m[metric])),
    ]
    return key, definition, example
