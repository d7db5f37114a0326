"""The application the benchmarks serve: the real app plus the job probe routes (start, stream, cancel).

There is no public generic jobs endpoint, so the benchmarks drive streams through the probes.
"""

from narrative.app import create_app


def create_bench_app():
    from tests.probes import jobs as job_probes

    app = create_app()
    app.register_blueprint(job_probes.blp)
    return app
