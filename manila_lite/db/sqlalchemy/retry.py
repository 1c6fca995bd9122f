"""Running a database operation again when it lost its connection (server restart, failover), paced by the [database] db_*retry* options.

Every public function of ``manila_lite.db.api`` is one transaction (see
that module's docstring), so the whole function is what is retried: a
transaction that lost its connection was rolled back by the server, and
the pool hands out a new connection on the next attempt. The fast path is
one ``try``; the pacing is oslo.db's ``wrap_db_retry`` built from
``db_retry_interval``, ``db_inc_retry_interval``, ``db_max_retry_interval``
and ``db_max_retries`` (-1: without limit) when a failure happens.
Upstream retries only with ``use_db_reconnect = True``; manila_lite always
does, since a lost connection would otherwise strand the operation.

A connection lost while a COMMIT was on its way cannot tell whether the
server committed; such an operation runs again, which the conditional
status updates of the state machine make harmless for status changes.
"""

import functools
import inspect
import sys
import threading

from oslo_config import cfg
from oslo_db import api as oslo_db_api
from oslo_db import exception as db_exc
from oslo_log import log as logging
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import health

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

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


def _should_retry(exc):
    return is_connection_error(exc) and not _STOPPING.is_set()


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


def _retrying(func):
    opts = CONF.database
    max_retries = opts.db_max_retries
    return oslo_db_api.wrap_db_retry(
        retry_interval=opts.db_retry_interval,
        max_retries=sys.maxsize if max_retries < 0 else max_retries,
        inc_retry_interval=opts.db_inc_retry_interval,
        max_retry_interval=opts.db_max_retry_interval,
        # DBConnectionError too is left to the checker (retry_on_disconnect
        # would retry it even once the process is stopping).
        retry_on_disconnect=False,
        exception_checker=_should_retry)(func)


def retry_on_disconnect(func):
    """Decorate one transaction-sized DB function with the retry."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except Exception as exc:
            if not _should_retry(exc):
                raise
            LOG.warning('Database connection lost in %(func)s (%(cls)s); '
                        'retrying.', {'func': func.__name__,
                                      'cls': type(exc).__name__})
        return _retrying(func)(*args, **kwargs)
    wrapper.without_retry = func
    return wrapper


def wrap_module_functions(namespace, skip=()):
    """Apply :func:`retry_on_disconnect` to every public function defined in ``namespace`` (a module's globals)."""
    module = namespace['__name__']
    for name, obj in list(namespace.items()):
        if (inspect.isfunction(obj) and obj.__module__ == module and
                not name.startswith('_') and name not in skip):
            namespace[name] = retry_on_disconnect(obj)
