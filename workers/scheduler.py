"""The periodic scheduler: RQ's cron scheduler, enqueueing each domain's recurring jobs.

Domains add their recurring work to `PERIODIC_JOBS` (function, interval in seconds, queue).
"""

from rq.cron import CronScheduler

from narrative.platform.periodic import PERIODIC_JOBS
from narrative.platform.redis import get_redis_bytes


def run_scheduler():
    from narrative.app import create_app

    app = create_app()
    with app.app_context():
        connection = get_redis_bytes()
    scheduler = CronScheduler(connection=connection, logging_level=app.config["LOG_LEVEL"])
    for job in PERIODIC_JOBS:
        scheduler.register(job.func, queue_name=job.queue, interval=job.interval, job_timeout=job.timeout)
    scheduler.start()
