"""Recurring platform work (sweeps, dispatch), run by `narrative scheduler` through RQ's cron.

Such work serves every workspace at once, so it runs in `all_workspaces()`: a sweep that acts for
one workspace narrows itself with `workspace_scope(id)`.
"""

import functools
from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicJob:
    func: object
    interval: int
    queue: str = "default"
    timeout: int = 300


PERIODIC_JOBS: list[PeriodicJob] = []


def every(seconds, queue="default", timeout=300):
    """Register a function to be enqueued every `seconds`."""

    def decorator(func):
        @functools.wraps(func)
        def across_workspaces(*args, **kwargs):
            from narrative.platform.tenancy import all_workspaces

            with all_workspaces():
                return func(*args, **kwargs)

        PERIODIC_JOBS.append(PeriodicJob(across_workspaces, seconds, queue, timeout))
        return across_workspaces

    return decorator
