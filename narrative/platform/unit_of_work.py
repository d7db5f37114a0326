"""One unit of work per request, per job step: the platform commits, domain code only flushes.

A request's writes are committed once, after its view has returned a successful response (status
below 400), and rolled back on any error or any 4xx/5xx response. The commit runs inside Flask's
dispatch, so a constraint that only fails at commit (a unique race, a foreign key) is answered by
the one error handler as a 409 (`narrative.platform.errors`), never as a 500 after the fact.

Services and routes call `db.session.flush()` when they need generated ids or want a constraint
checked early; they never commit, so any of them can be composed into a larger unit of work.

Jobs get the same from the job runner (`narrative.platform.jobs`): the function's work is
committed when it returns, and `JobProgress.checkpoint()` commits a finished step of a long job
so a later failure does not lose it.

The few writes that must outlive a rollback (the audit of a failed sign-in, a rate-limit counter)
use `independent_transaction()`, which says so where it happens.
"""

from contextlib import contextmanager

from flask import Flask
from sqlalchemy.orm import Session

from narrative.extensions import db


def commit():
    """Commit the current unit of work: only the platform's request, stream and job runners call it."""
    db.session.commit()


def rollback():
    db.session.rollback()


def finish_streamed_work():
    """Commit what a streamed response wrote while streaming (after the view's own commit), e.g. the
    AI log of a streamed completion. Called by the stream's generator when it ends."""
    commit()


@contextmanager
def independent_transaction():
    """A session of its own, committed when the block ends even if the request rolls back.

    For writes that record that something was refused (a failed sign-in's audit entry, a
    lockout counter): the request's own work is not part of it.
    """
    session = Session(bind=db.engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class UnitOfWorkFlask(Flask):
    """Flask whose request dispatch ends with the request's commit (or rollback)."""

    def dispatch_request(self):
        response = self.make_response(super().dispatch_request())
        if response.status_code < 400:
            commit()
        else:
            rollback()
        return response

    def handle_user_exception(self, e):
        rollback()
        return super().handle_user_exception(e)

    def handle_exception(self, e):
        rollback()
        return super().handle_exception(e)
