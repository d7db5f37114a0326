"""Connection settings that make SQLite a fair embedded default for several processes."""

from sqlalchemy import event
from sqlalchemy.engine import Engine


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    # WAL lets the web processes read while a worker writes; the timeout queues writers
    # instead of failing them with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_savepoint_inside_a_transaction(connection, name):
    """SQLite makes a SAVEPOINT opened outside a transaction the outermost one, so releasing it
    would commit for good; the driver begins transactions lazily (at the first write), so open
    the real one first and the savepoint nests inside the unit of work, as on PostgreSQL.

    (The driver's lazy BEGIN is kept on purpose: reads outside a write see the latest commits,
    like PostgreSQL's READ COMMITTED, which polling readers such as event streams rely on.)"""
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.dbapi_connection
    if not driver.in_transaction:
        driver.execute("BEGIN")
