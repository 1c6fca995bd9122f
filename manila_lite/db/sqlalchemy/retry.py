"""Running a database operation again after a transient failure: a lost connection or a lost lock race.

A lost connection: a server restart, a failover. A lost lock race: a
deadlock, a serialization failure, a Galera certification failure.

Every public function of ``manila_lite.db.api`` is one transaction (see
that module's docstring), so the whole function is what is retried: the
server rolled the failed transaction back, and the pool hands out a new
connection on the next attempt. Only the outermost transaction of a
thread is retried; an operation joining a transaction already open lets
the failure through to its caller, whose own retry runs the whole
transaction again. The fast path is one ``try``; the pacing is oslo.db's
``wrap_db_retry``:

* a lost connection waits ``db_retry_interval``, then longer
  (``db_inc_retry_interval``) up to ``db_max_retry_interval``; once the
  process is stopping (SIGTERM) it fails at once instead;
* a deadlock or serialization failure (PostgreSQL's 40P01 and 40001,
  MySQL's 1213 and 1205, MariaDB's 1020, and Galera's "wsrep aborted
  transaction", which certification failures surface as) is retried with
  oslo.db's deadlock retry: a short first wait, then random ones (jitter)
  doubling up to ``db_max_retry_interval``, so two transactions that
  deadlocked do not collide again.

Both stop after ``db_max_retries`` retries (-1: without limit). Upstream
retries lost connections only with ``use_db_reconnect = True``;
manila_lite always does, since a lost connection would otherwise strand the
operation. Each transient failure is logged as one WARNING line naming
the operation and the retry; a traceback is logged only when an operation
finally fails (oslo.db's "DB exceeded retry limit").

A connection lost while a COMMIT was on its way cannot tell whether the
server committed; such an operation runs again, which the conditional
status updates of the state machine make harmless for status changes,
and which the quota release's own checks make harmless for quota.
"""

import functools
import inspect
import itertools
import sys
import threading

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import health

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# First wait after a deadlock (seconds); later waits are random, doubling.
DEADLOCK_RETRY_INTERVAL = 0.05
CONNECTION = 'lost connection'
DEADLOCK = 'deadlock'
SERIALIZATION = 'serialization failure'
# SQLSTATEs of PostgreSQL's serialization failure and deadlock.
_PG_CONFLICTS = {'40001': SERIALIZATION, '40P01': DEADLOCK}

# Set once the process is stopping (SIGTERM): an operation that lost its
# connection then fails at once instead of waiting for the database, so
# the in-flight work a stop waits for ends promptly.
_STOPPING = threading.Event()


def stop_retrying():
    """From now on, a lost connection fails the operation (no more retries)."""
    _STOPPING.set()


def resume_retrying():
    """Undo stop_retrying (a command run in-process leaves the process as it found it)."""
    _STOPPING.clear()


def is_connection_error(exc):
    """Whether ``exc`` means the database could not be reached (not a bad statement).

    oslo.db raises DBConnectionError for a connection lost in use; a
    connection that could not even be opened (server down or starting up)
    arrives as SQLAlchemy's OperationalError without a statement, since
    recent libpq messages escape oslo.db's patterns. A login the server
    refused arrives the same way and is not one.
    """
    if health.is_credentials_error(exc):
        return False        # a refused login is no outage: never waited on
    if isinstance(exc, db_exc.DBConnectionError):
        return True
    if isinstance(exc, db_exc.DBError) and exc.inner_exception is not None:
        exc = exc.inner_exception
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    return bool(exc.connection_invalidated or (
        isinstance(exc, sa.exc.OperationalError) and exc.statement is None))


def conflict_kind(exc):
    """DEADLOCK or SERIALIZATION when ``exc`` is a lost lock race worth a retry, else None."""
    if isinstance(exc, db_exc.DBDeadlock):
        return DEADLOCK
    consistency = getattr(db_exc, 'DBConsistencyError', None)
    if consistency is not None and isinstance(exc, consistency):
        return SERIALIZATION
    if isinstance(exc, db_exc.DBError) and exc.inner_exception is not None:
        exc = exc.inner_exception
    orig = getattr(exc, 'orig', None)
    return _PG_CONFLICTS.get(getattr(orig, 'pgcode', None))


def transient_kind(exc):
    """What makes ``exc`` worth running the transaction again (None: nothing)."""
    kind = conflict_kind(exc)
    if kind is not None:
        return kind
    if is_connection_error(exc) and not _STOPPING.is_set():
        return CONNECTION
    return None


def _max_retries():
    limit = CONF.database.db_max_retries
    return sys.maxsize if limit < 0 else limit


def _retrier(first_kind):
    opts = CONF.database
    return oslo_db_api.wrap_db_retry(
        retry_interval=(DEADLOCK_RETRY_INTERVAL if first_kind != CONNECTION
                        else opts.db_retry_interval),
        max_retries=_max_retries(),
        inc_retry_interval=opts.db_inc_retry_interval,
        max_retry_interval=opts.db_max_retry_interval,
        # DBConnectionError is left to the checker (retry_on_disconnect
        # would retry it even once the process is stopping).
        retry_on_disconnect=False,
        retry_on_deadlock=True,
        jitter=True,
        exception_checker=lambda exc: transient_kind(exc) is not None)


def _log_retry(func, kind, exc, attempt):
    LOG.warning('Database %(kind)s in %(func)s (%(cls)s); retrying '
                '(retry %(n)d).',
                {'kind': kind, 'func': func.__name__,
                 'cls': type(exc).__name__, 'n': attempt})


def _retry(func, first_kind, args, kwargs):
    """The retries after a first failure of ``first_kind``: one at once, then ``db_max_retries`` paced ones."""
    retries = itertools.count(2)
    limit = _max_retries()

    def attempt():
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            kind = transient_kind(exc)
            number = next(retries)
            if kind is not None and number <= limit + 1:
                _log_retry(func, kind, exc, number)
            raise
    return _retrier(first_kind)(attempt)()


def retry_on_disconnect(func):
    """Decorate one transaction-sized DB function with the retry of transient failures."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if engine.in_transaction():
            return func(*args, **kwargs)
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            kind = transient_kind(exc)
            if kind is None:
                raise
            _log_retry(func, kind, exc, 1)
        return _retry(func, kind, args, kwargs)
    wrapper.without_retry = func
    return wrapper


def wrap_module_functions(namespace, skip=()):
    """Apply :func:`retry_on_disconnect` to every public function defined in ``namespace`` (a module's globals)."""
    module = namespace['__name__']
    for name, obj in list(namespace.items()):
        if (inspect.isfunction(obj) and obj.__module__ == module and
                not name.startswith('_') and name not in skip):
            namespace[name] = retry_on_disconnect(obj)
