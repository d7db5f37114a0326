"""Import benchmark: a generated CSV (15 columns, 1 % bad rows) through the real upload and import
API and a separate RQ worker process, against PostgreSQL's COPY of the same file.

Prints: rows per second of the import (upload excluded), the worker's peak RSS (at 10 % and at the
full size, to show it stays flat), the longest gap between progress events, and, side by side, the
rows per second of `COPY ... FROM STDIN (FORMAT csv)` into an equivalent plain table, and the
floor of the records schema itself: the imported records and their history entries COPYed back in
(text format, already encoded, the table's indexes and foreign keys as they are), which is what
any import into this schema costs on the database's side. `--sqlite` also runs the import on
SQLite.

    .venv/bin/python bench/import.py --rows 100000
"""

import argparse
import csv
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "city",
    "amount",
    "share",
    "joined",
    "updated",
    "active",
    "score",
    "website",
    "notes",
    "country",
    "location",
)
CITIES = ("Paris", "Berlin", "Austin", "Lisbon", "Osaka", "Toronto", "Nairobi", "Lima")

WORKER = """
import json, re, sys, time
sys.path.insert(0, {root!r})
from bench.import_app import create_import_app
from workers.worker import run_jobs_in_process
app = create_import_app()
started = time.perf_counter()
import logging; logging.basicConfig(level=logging.ERROR)
run_jobs_in_process(app)
print(json.dumps({{"seconds": time.perf_counter() - started,
                  # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across
                  # fork and exec, so it would report this bench's own size (the CSV it uploaded).
                  "peak_rss_mb": int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024}}))
"""


def generate(path, rows, bad_share=0.01):
    rng = random.Random(7)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i in range(1, rows + 1):
            bad = rng.random() < bad_share
            writer.writerow(
                [
                    i,
                    f"Person {i}",
                    f"person{i}@example.com",
                    f"+1 555 {i % 10000:04d}",
                    rng.choice(CITIES),
                    f"{rng.uniform(1, 9999):.2f}",
                    f"{rng.randint(0, 100)}",
                    "not-a-date" if bad else f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                    f"2024-05-01T10:{i % 60:02d}:00",
                    rng.choice(("true", "false")),
                    rng.randint(0, 1000),
                    f"https://example.com/p/{i}",
                    "line one\nline two" if i % 50 == 0 else "note",
                    rng.choice(("FR", "DE", "US")),
                    f"{rng.uniform(-60, 60):.5f}, {rng.uniform(-170, 170):.5f}",
                ]
            )


SCHEMA = [
    {"name": "id", "type": "number"},
    {"name": "name", "type": "text"},
    {"name": "email", "type": "email"},
    {"name": "phone", "type": "phone"},
    {"name": "city", "type": "text"},
    {"name": "amount", "type": "currency"},
    {"name": "share", "type": "percent"},
    {"name": "joined", "type": "date"},
    {"name": "updated", "type": "datetime"},
    {"name": "active", "type": "boolean"},
    {"name": "score", "type": "number"},
    {"name": "website", "type": "url"},
    {"name": "notes", "type": "long_text"},
    {"name": "country", "type": "text"},
    {"name": "location", "type": "geo_point"},
]


def run_import(app, env, path):
    """Upload and start the import through the API, run the worker in its own process; figures."""
    from narrative.extensions import db
    from narrative.platform.jobs import Job, job_stream_key
    from narrative.platform.redis import get_redis
    from tests.identity.factories import auth_headers, make_user

    with app.app_context():
        user = make_user()
        headers = auth_headers(user)
        client = app.test_client()
        with open(path, "rb") as handle:
            uploaded = client.post(
                "/api/v1/import/upload",
                data={"file": (handle, "bench.csv")},
                headers=headers,
                content_type="multipart/form-data",
            ).get_json()
        started = client.post(
            "/api/v1/import", json={"file_uri": uploaded["file_uri"], "schema": SCHEMA}, headers=headers
        ).get_json()
        job_id = started["job_id"]
    script = WORKER.format(root=str(Path(__file__).resolve().parent.parent))
    worker = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    if worker.returncode != 0:
        raise SystemExit(worker.stderr[-3000:])
    figures = json.loads(worker.stdout.strip().splitlines()[-1])
    with app.app_context():
        db.session.expire_all()
        job = db.session.get(Job, job_id)
        events = get_redis().xrange(job_stream_key(job_id))
        stamps = [int((e[0].decode() if isinstance(e[0], bytes) else e[0]).split("-")[0]) for e in events]
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        if gaps and os.environ.get("BENCH_DEBUG_GAPS"):
            worst = max(range(len(gaps)), key=gaps.__getitem__)
            print("longest gap between:", events[worst][1], "and", events[worst + 1][1], file=sys.stderr)
        result = job.result or {}
    return {
        "status": job.status if job.status != "FAILED" else f"FAILED ({job.error})",
        "imported": result.get("rows_imported"),
        "failed": result.get("rows_failed"),
        "seconds": figures["seconds"],
        "peak_rss_mb": figures["peak_rss_mb"],
        "max_event_gap_s": max(gaps) / 1000 if gaps else None,
        "events": len(events),
    }


def copy_rate(database_url, path):
    import psycopg

    columns = ", ".join(f'"{c}" text' for c in COLUMNS)
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        conn.execute(f"CREATE TABLE bench_copy (pk bigserial primary key, {columns})")
        started = time.perf_counter()
        with (
            conn.cursor().copy(
                f"COPY bench_copy ({', '.join(chr(34) + c + chr(34) for c in COLUMNS)}) FROM STDIN (FORMAT csv, HEADER)"
            ) as copy,
            open(path, "rb") as handle,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        conn.commit()
        return time.perf_counter() - started


def schema_copy_rate(database_url):
    """Seconds to COPY the imported records and their history back in, already encoded."""
    import psycopg

    tables = ("records", "record_history")
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        dumps = {}
        for table in tables:
            buffer = bytearray()
            with conn.cursor().copy(f"COPY {table} TO STDOUT") as copy:
                for block in copy:
                    buffer += block
            dumps[table] = bytes(buffer)
        conn.execute("DELETE FROM record_history")
        conn.execute("DELETE FROM records")
        conn.execute("VACUUM records")
        conn.execute("VACUUM record_history")
        started = time.perf_counter()
        with conn.transaction():
            for table in tables:
                with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                    for offset in range(0, len(dumps[table]), 1 << 20):
                        copy.write(dumps[table][offset : offset + (1 << 20)])
        return time.perf_counter() - started


def one_run(rows, database, redis_url, sqlite=False):
    from bench._services import prepare

    with tempfile.TemporaryDirectory() as workdir:
        path = os.path.join(workdir, "bench.csv")
        generate(path, rows)
        env, app, cleanup = prepare(database, redis_url)
        env["UPLOAD_DIR"] = app.config["UPLOAD_DIR"]  # the worker reads the files the API stored
        try:
            if sqlite:
                from narrative.extensions import db

                sqlite_url = f"sqlite:///{workdir}/bench.db"
                env["DATABASE_URL"] = sqlite_url
                app.config["SQLALCHEMY_DATABASE_URI"] = sqlite_url
                from narrative.app import create_app

                app = create_app(
                    {
                        "SQLALCHEMY_DATABASE_URI": sqlite_url,
                        "REDIS_URL": redis_url,
                        "LOG_LEVEL": "WARNING",
                        "UPLOAD_DIR": env["UPLOAD_DIR"],
                    }
                )
                with app.app_context():
                    db.create_all()
            from bench.import_app import add_import_routes

            add_import_routes(app)
            figures = run_import(app, env, path)
            if not sqlite:
                figures["copy_seconds"] = copy_rate(env["DATABASE_URL"], path)
                figures["schema_copy_seconds"] = schema_copy_rate(env["DATABASE_URL"])
        finally:
            cleanup()
    return figures


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--sqlite", action="store_true", help="also run the import on SQLite")
    args = parser.parse_args()
    for rows in sorted({max(1000, args.rows // 10), args.rows}):
        f = one_run(rows, args.database, args.redis)
        rate, copy = rows / f["seconds"], rows / f["copy_seconds"]
        print(
            f"postgresql {rows:>7} rows: {f['status']} imported={f['imported']} failed={f['failed']} "
            f"{rate:,.0f} rows/s | COPY {copy:,.0f} rows/s | ratio {rate / copy:.2f}x | "
            f"records+history COPY {f['imported'] / f['schema_copy_seconds']:,.0f} rows/s "
            f"(import at {rate / (f['imported'] / f['schema_copy_seconds']):.0%} of it) | "
            f"worker peak RSS {f['peak_rss_mb']:.0f} MB | {f['events']} progress events, "
            f"longest gap {f['max_event_gap_s']}s"
        )
    if args.sqlite:
        f = one_run(args.rows, args.database, args.redis, sqlite=True)
        print(
            f"sqlite     {args.rows:>7} rows: {f['status']} imported={f['imported']} failed={f['failed']} "
            f"{args.rows / f['seconds']:,.0f} rows/s | worker peak RSS {f['peak_rss_mb']:.0f} MB | "
            f"longest progress gap {f['max_event_gap_s']}s"
        )


if __name__ == "__main__":
    main()
