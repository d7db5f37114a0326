"""Prometheus metrics: HTTP requests by endpoint and status, and jobs by queue and state.

Under `narrative serve` several gunicorn processes share the counters through
`PROMETHEUS_MULTIPROC_DIR`; job figures are read from Redis at scrape time.
"""

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

REQUESTS = Counter("narrative_http_requests_total", "HTTP requests served", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "narrative_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


def observe_request(method, endpoint, status, duration):
    REQUESTS.labels(method, endpoint, str(status)).inc()
    LATENCY.labels(method, endpoint).observe(duration)


class JobsCollector:
    """Counts RQ jobs per queue and state straight from Redis, so every web node reports the same."""

    def __init__(self, connection, queue_names):
        self.connection = connection
        self.queue_names = queue_names

    def collect(self):
        from rq import Queue

        family = GaugeMetricFamily("narrative_jobs", "Jobs by queue and state", labels=["queue", "state"])
        for name in self.queue_names:
            queue = Queue(name, connection=self.connection)
            family.add_metric([name, "queued"], queue.count)
            family.add_metric([name, "started"], queue.started_job_registry.count)
            family.add_metric([name, "failed"], queue.failed_job_registry.count)
            family.add_metric([name, "finished"], queue.finished_job_registry.count)
            family.add_metric([name, "scheduled"], queue.scheduled_job_registry.count)
            family.add_metric([name, "deferred"], queue.deferred_job_registry.count)
        yield family


def exposition(redis_connection, queue_names):
    """The text a Prometheus scrape receives."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        http_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(http_registry)
    else:
        from prometheus_client import REGISTRY as http_registry
    jobs_registry = CollectorRegistry()
    jobs_registry.register(JobsCollector(redis_connection, queue_names))
    return generate_latest(http_registry) + generate_latest(jobs_registry), CONTENT_TYPE_LATEST
