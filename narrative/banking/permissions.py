"""Workspace permissions of the bank ledger (registered at import)."""

from narrative.identity.permissions import register_permissions

register_permissions(
    "banking",
    {
        "banking.read": "View your bank accounts and transactions",
        "banking.write": "Connect banks, import statements and correct transaction categories",
    },
    member=["banking.read", "banking.write"],
)
