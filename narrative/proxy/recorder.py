"""Writing executions off the proxy's critical path.

Every call through `/x/{id}` produces one execution row. Writing it inside the request would add
a database round trip (and, at concurrency 1 on a kept-alive connection, delay the caller's next
request), so by default rows go to an in-process queue that one daemon thread per process drains
in batches (one COPY on PostgreSQL, one multi-row INSERT elsewhere, plus one UPDATE of the tokens'
`last_used_at`). COPY matters: the writer shares the process (and its GIL) with the calls, and
binding a batch's parameters for an INSERT cost about a tenth of a busy proxy's time. The thread lets
rows gather for `LINGER_SECONDS` after the first one arrives: a steady trickle of calls then costs
a write every 50 ms instead of one per call, which would compete with the calls for the CPU (and
the GIL). Reading executions flushes first, so a reader never waits for the linger.

`PROXY_EXECUTION_WRITES = "inline"` writes each row before the response is finished instead
(what the benchmark compares). Rows still queued when a process is killed (SIGKILL, OOM) are
lost; a normal exit flushes them (atexit). The monthly quota lives in Redis, so a lost row never
lets a workspace exceed its plan.
"""

import atexit
import logging
import queue
import threading
import time

import sqlalchemy as sa

from narrative.extensions import db
from narrative.platform.models import utcnow

log = logging.getLogger("narrative.proxy.recorder")

BATCH_SIZE = 500
LINGER_SECONDS = 0.05
EXTENSION_KEY = "narrative_proxy_recorder"


class ExecutionRecorder:
    def __init__(self, app):
        self.app = app
        self.inline = app.config.get("PROXY_EXECUTION_WRITES", "background") == "inline"
        self._queue = queue.Queue()
        self._thread = None
        self._lock = threading.Lock()
        self._write_now = threading.Event()
        self.rows_written = 0
        self.write_seconds = 0.0

    def submit(self, row):
        if self.inline:
            self._write([row])
            return
        self._ensure_thread()
        self._queue.put(row)

    def flush(self, timeout=10.0):
        """Block until every row submitted so far is written (tests, shutdown, read-your-writes)."""
        if self.inline or self._thread is None:
            return
        self._write_now.set()
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.002)

    def _ensure_thread(self):
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="proxy-executions", daemon=True)
                self._thread.start()
                atexit.register(self.flush, 5.0)

    def _run(self):
        while True:
            rows = [self._queue.get()]
            self._write_now.wait(LINGER_SECONDS)
            self._write_now.clear()
            while len(rows) < BATCH_SIZE:
                try:
                    rows.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(rows)
            except Exception:  # the writer must survive a database hiccup; the rows are lost
                log.exception("could not write %d proxy executions", len(rows))
            finally:
                for _ in rows:
                    self._queue.task_done()

    def _write(self, rows):
        from narrative.proxy.models import Execution, ExecutionToken

        started = time.perf_counter()
        token_ids = {row["token_id"] for row in rows if row.get("token_id") is not None}
        with self.app.app_context(), db.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                _copy_rows(connection, Execution.__table__, rows)
            else:
                connection.execute(sa.insert(Execution.__table__), rows)
            if token_ids:
                connection.execute(
                    sa.update(ExecutionToken.__table__)
                    .where(ExecutionToken.__table__.c.id.in_(token_ids))
                    .values(last_used_at=utcnow())
                )
        self.write_seconds += time.perf_counter() - started
        self.rows_written += len(rows)


def _copy_rows(connection, table, rows):
    """`rows` (dicts keyed by column name) into `table` by COPY, in the connection's transaction."""
    names = [column.name for column in table.columns]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = connection.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name) for name in names])


def recorder_for(app):
    recorder = app.extensions.get(EXTENSION_KEY)
    if recorder is None:
        recorder = app.extensions.setdefault(EXTENSION_KEY, ExecutionRecorder(app))
    return recorder
