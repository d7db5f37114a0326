"""Recurring platform work (sweeps, dispatch), run by `narrative scheduler` through RQ's cron."""

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
        PERIODIC_JOBS.append(PeriodicJob(func, seconds, queue, timeout))
        return func

    return decorator
