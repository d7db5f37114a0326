"""Work tied to the outcome of the current database transaction.

Enqueueing a job, requesting event dispatch or handing an email to SMTP must wait until the rows
they refer to are committed, or a worker could look for rows that do not exist yet (or never
will). Files written for a transaction that rolls back must be removed. So:

- `on_commit(callback)` runs after the outermost transaction commits, never if it rolls back;
- `on_rollback(callback)` runs if the transaction (or savepoint) it was registered in rolls back,
  or the session closes without committing it.

A released savepoint is not a commit: its callbacks wait for the outermost transaction. A
rolled-back savepoint drops the commit callbacks registered inside it and runs its rollback ones.
Outside any transaction, `on_commit` runs at once and `on_rollback` never.
"""

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from narrative.extensions import db

log = logging.getLogger("narrative.transactions")

_COMMIT_KEY = "narrative.on_commit"
_ROLLBACK_KEY = "narrative.on_rollback"


def _current_transaction(session):
    return session.get_nested_transaction() or session.get_transaction()


def on_commit(callback, *, key=None):
    """Run `callback()` once the current transaction commits.

    `key` collapses repeated requests within one transaction (e.g. one dispatch per workspace).
    """
    session = db.session()
    transaction = _current_transaction(session)
    if transaction is None:
        callback()
        return
    pending = session.info.setdefault(_COMMIT_KEY, [])
    if key is not None and any(existing_key == key for _, existing_key, _ in pending):
        return
    pending.append((transaction, key, callback))


def on_rollback(callback):
    """Run `callback()` if the current transaction or savepoint does not commit."""
    session = db.session()
    transaction = _current_transaction(session)
    if transaction is not None:
        session.info.setdefault(_ROLLBACK_KEY, []).append((transaction, None, callback))


def _run(callbacks, what):
    for _transaction, _key, callback in callbacks:
        try:
            callback()
        except Exception:
            # The transaction's outcome stands; each follow-up is independent of the others.
            log.exception("%s action failed", what)


def _inside(transaction, ancestor):
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _split(session, key, ended):
    """Take the callbacks registered inside `ended` out of session.info[key]."""
    pending = session.info.get(key) or []
    taken = [entry for entry in pending if _inside(entry[0], ended)]
    if taken:
        session.info[key] = [entry for entry in pending if not _inside(entry[0], ended)]
    return taken


@sa.event.listens_for(Session, "after_commit")
def _after_commit(session):
    # A released savepoint fires after_commit too; only the outermost commit makes data visible.
    root = session.get_transaction()
    if session.in_nested_transaction() or (root is not None and root.is_active):
        return
    session.info.pop(_ROLLBACK_KEY, None)
    _run(session.info.pop(_COMMIT_KEY, []), "after-commit")


@sa.event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    _split(session, _COMMIT_KEY, previous_transaction)
    _run(_split(session, _ROLLBACK_KEY, previous_transaction), "after-rollback")


@sa.event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    # The outermost transaction ended: after a commit both lists are already empty, so anything
    # left means it was closed without committing.
    if transaction.parent is not None:
        return
    session.info.pop(_COMMIT_KEY, None)
    _run(session.info.pop(_ROLLBACK_KEY, []), "after-rollback")
