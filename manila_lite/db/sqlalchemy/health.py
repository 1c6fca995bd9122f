"""What is wrong with the database, in one line: unreachable, credentials refused, database or schema missing.

A start-up or a command asks :func:`check` once, without the retries of
``retry.py``: a refused login or a missing schema is then named for what
it is at once instead of being waited on as a lost connection, and an
unreachable server is reported in one line the caller may retry.
"""

import re

from oslo_config import cfg
from oslo_db import exception as db_exc
import sqlalchemy as sa
from sqlalchemy import pool

from manila_lite import exception

CONF = cfg.CONF

# Tables a share service reads and writes from its first second on; an
# upstream manila schema has them too.
REQUIRED_TABLES = ('services', 'shares', 'share_instances')
CONNECT_TIMEOUT = 5     # seconds, for the check's own connection

# Login refused: PostgreSQL (libpq's texts; SQLSTATE class 28 when set) and
# MySQL/MariaDB (error numbers).
_PG_CREDENTIALS = re.compile(
    r'authentication failed|no pg_hba\.conf entry|role "[^"]*" does not '
    r'exist|password authentication|SSL authentication')
_PG_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')
_MYSQL_CREDENTIALS = (1044, 1045, 1698)
_MYSQL_NO_DATABASE = (1049,)


def _driver_error(exc):
    """The DB-API exception behind an oslo.db or SQLAlchemy one (or ``exc``)."""
    if isinstance(exc, db_exc.DBError) and exc.inner_exception is not None:
        exc = exc.inner_exception
    return getattr(exc, 'orig', None) or exc


def _first_line(exc):
    """The driver's message without SQLAlchemy's decorations, on one line."""
    text = str(_driver_error(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    text = ' '.join(line for line in lines if not line.startswith('(Back'))
    return re.sub(r'\s+', ' ', text.replace('FATAL: ', '')) or \
        type(exc).__name__


def _mysql_code(orig):
    args = getattr(orig, 'args', ())
    return args[0] if args and isinstance(args[0], int) else None


def is_credentials_error(exc):
    """Whether the server refused the login (user, password, host rule)."""
    orig = _driver_error(exc)
    if str(getattr(orig, 'pgcode', '') or '').startswith('28'):
        return True
    if _mysql_code(orig) in _MYSQL_CREDENTIALS:
        return True
    return bool(_PG_CREDENTIALS.search(str(orig)))


def is_missing_database(exc):
    """Whether the server has no database of the configured name."""
    if isinstance(exc, db_exc.DBNonExistentDatabase):
        return True
    orig = _driver_error(exc)
    return (_mysql_code(orig) in _MYSQL_NO_DATABASE or
            bool(_PG_NO_DATABASE.search(str(orig))))


def describe(exc, connecting=True):
    """The one-line exception ``exc`` stands for; None if it is no connection problem.

    ``connecting``: ``exc`` was met opening a connection, so anything
    else than a refused login, an unknown database or a bad URL means
    the server could not be reached.
    """
    reason = _first_line(exc)
    if is_credentials_error(exc):
        return exception.ConfigError(
            section='database', option='connection',
            reason='the database refused the login: %s' % reason)
    if is_missing_database(exc):
        return exception.ConfigError(
            section='database', option='connection',
            reason='no such database: %s' % reason)
    if isinstance(exc, (sa.exc.ArgumentError, sa.exc.NoSuchModuleError,
                        ValueError)):
        return exception.ConfigError(
            section='database', option='connection', reason=reason)
    if connecting or isinstance(exc, (db_exc.DBConnectionError,
                                      sa.exc.OperationalError,
                                      sa.exc.InterfaceError)):
        return exception.DatabaseUnavailable(reason=reason)
    return None


def _check_engine(url):
    """A throwaway engine for one check, with a bounded connect time."""
    url = sa.engine.make_url(url)
    if url.get_backend_name() in ('postgresql', 'mysql') and \
            'connect_timeout' not in url.query:
        url = url.update_query_dict({'connect_timeout': str(CONNECT_TIMEOUT)})
    return sa.create_engine(url, poolclass=pool.NullPool)


def check(url=None, required_tables=REQUIRED_TABLES):
    """Open one connection to ``url`` (default ``[database] connection``) and look for the schema.

    :returns: the set of table names found.
    :raises ConfigError: bad URL, login refused, no such database.
    :raises DatabaseUnavailable: the server could not be reached.
    :raises DatabaseSchemaMissing: a required table is missing.
    """
    url = url or CONF.database.connection
    try:
        engine = _check_engine(url)
    except Exception as exc:
        raise describe(exc) from None
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
    except Exception as exc:
        raise describe(exc) from None
    finally:
        engine.dispose()
    missing = [t for t in required_tables if t not in tables]
    if missing:
        raise exception.DatabaseSchemaMissing(
            reason='table %s not found' % ', '.join(missing))
    return tables
