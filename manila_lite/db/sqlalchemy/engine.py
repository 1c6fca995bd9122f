"""The oslo.db enginefacade configured from [database], with SQLite tuned for several writer threads."""

import contextlib
import sys
import threading
import time

from oslo_config import cfg
from oslo_db.sqlalchemy import enginefacade
from oslo_db.sqlalchemy import engines as oslo_engines
import sqlalchemy as sa

from manila_lite import conf as _conf  # noqa: F401  (registers the options)

CONF = cfg.CONF

SQLITE_BUSY_TIMEOUT_MS = 30000
_IMMEDIATE = 'manila_lite_begin_immediate'
# Pooled connections idle for longer than this are pinged before reuse.
IDLE_PING_SECONDS = 5.0
_RETURNED_AT = 'manila_lite_returned_at'

_lock = threading.Lock()
_manager = None


def _sqlite_setup(engine):
    """WAL journal, busy timeout and BEGIN IMMEDIATE for writer sessions."""
    if engine.dialect.name != 'sqlite':
        return
    is_file = engine.url.database not in (None, '', ':memory:')

    @sa.event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, record):
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute('PRAGMA busy_timeout = %d' % SQLITE_BUSY_TIMEOUT_MS)
            if is_file:
                cursor.execute('PRAGMA journal_mode = WAL')
        finally:
            cursor.close()

    # Must run before oslo.db's own "begin" listener, which emits a plain
    # BEGIN unless conn.info has "in_transaction". A deferred BEGIN that
    # reads and later writes fails with SQLITE_BUSY when another writer
    # committed in between; taking the write lock up front makes
    # concurrent writers wait on the busy timeout instead. (SQLAlchemy
    # ignores insert=True for engine events, hence the re-registering.)
    def _on_begin(conn):
        if (conn.get_execution_options().get(_IMMEDIATE) and
                'in_transaction' not in conn.info):
            conn.exec_driver_sql('BEGIN IMMEDIATE')
            conn.info['in_transaction'] = True

    existing = list(engine.dispatch.begin)
    for listener in existing:
        sa.event.remove(engine, 'begin', listener)
    sa.event.listen(engine, 'begin', _on_begin)
    for listener in existing:
        sa.event.listen(engine, 'begin', listener)


def _ping_when_idle(engine):
    """Test a pooled connection on checkout only if it sat idle a while.

    oslo.db turns on SQLAlchemy's pre-ping, which costs one round trip
    (``SELECT 1``) on every checkout, i.e. on every transaction. A
    connection returned less than ``IDLE_PING_SECONDS`` ago was working
    then; older ones are pinged as before, and a dead one is replaced
    (DisconnectionError makes the pool retry with a new connection).
    """
    pool = engine.pool
    if not getattr(pool, '_pre_ping', False):
        return
    pool._pre_ping = False

    @sa.event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, record):
        record.info[_RETURNED_AT] = time.monotonic()

    @sa.event.listens_for(engine, 'checkin')
    def _on_checkin(dbapi_conn, record):
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @sa.event.listens_for(engine, 'checkout')
    def _on_checkout(dbapi_conn, record, proxy):
        returned = record.info.get(_RETURNED_AT)
        if (returned is not None and
                time.monotonic() - returned < IDLE_PING_SECONDS):
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise sa.exc.DisconnectionError(str(exc))
        if alive is False:
            raise sa.exc.DisconnectionError('ping failed')


def _no_yield_on_checkin(engine):
    """Drop oslo.db's ``time.sleep(0)`` on every connection check-in, unless eventlet patched time.

    It lets other green threads run under eventlet; with native threads
    it only hands the GIL to another thread once per transaction (a
    context switch each time, 500 casts at once meaning 64 threads).
    """
    eventlet = sys.modules.get('eventlet')
    if eventlet is not None:
        from eventlet import patcher
        if patcher.is_monkey_patched('time'):
            return
    listener = getattr(oslo_engines, '_thread_yield', None)
    if listener is not None and sa.event.contains(engine, 'checkin',
                                                  listener):
        sa.event.remove(engine, 'checkin', listener)


def _on_engine_create(engine):
    _sqlite_setup(engine)
    _ping_when_idle(engine)
    _no_yield_on_checkin(engine)


class _Gate:
    """Lets at most ``size`` threads work in the database at once (None: no limit).

    A thread takes a place when it opens its outermost session and gives
    it back when that session ends; sessions it opens meanwhile (joined
    or not) need no other place, and no thread waits for a place while
    it holds a transaction, so the gate cannot deadlock. The RPC
    executor runs up to 64 requests in native threads: a driver call
    waiting for its backend takes no place, while the database work,
    which is mostly Python, is shared by few threads. More would only
    take turns on the GIL, hold row locks (quota usages, shared by every
    share of a project) longer while they wait for it, and need pooled
    connections beyond ``max_pool_size``, which the pool opens and closes
    again for each transaction.
    """

    def __init__(self, size):
        self._slots = threading.BoundedSemaphore(size) if size else None
        self._depth = threading.local()

    def inside(self):
        """Whether this thread has a session open (a transaction under way)."""
        return getattr(self._depth, 'value', 0) > 0

    @contextlib.contextmanager
    def enter(self):
        depth = getattr(self._depth, 'value', 0)
        outermost = depth == 0 and self._slots is not None
        if outermost:
            self._slots.acquire()
        self._depth.value = depth + 1
        try:
            yield
        finally:
            self._depth.value = depth
            if outermost:
                self._slots.release()


def _new_manager():
    manager = enginefacade.transaction_context()
    manager.configure(sqlite_fk=False, expire_on_commit=False)
    manager.append_on_engine_create(_on_engine_create)
    size = CONF.database.max_pool_size
    manager.manila_lite_gate = _Gate(size if size and size > 0 else None)
    return manager


def _get_manager():
    global _manager
    manager = _manager
    if manager is None:
        with _lock:
            if _manager is None:
                _manager = _new_manager()
            manager = _manager
    return manager


def get_engine():
    """The writer Engine (created on first use from CONF.database)."""
    return _get_manager().writer.get_engine()


def dispose_engine():
    """Close pooled connections and forget the engine.

    The next database call builds a new engine from the then-current
    ``CONF.database`` options, which is how tests point the facade at
    another URL.
    """
    global _manager
    with _lock:
        manager, _manager = _manager, None
    if manager is not None and manager.is_started:
        manager.dispose_pool()


def in_transaction():
    """Whether this thread already works in a session (so a failure belongs to the outer transaction)."""
    manager = _manager
    return manager is not None and manager.manila_lite_gate.inside()


@contextlib.contextmanager
def reader(context):
    """A session for reading; joins the caller's transaction if one is open."""
    manager = _get_manager()
    with manager.manila_lite_gate.enter(), \
            manager.reader.using(context) as session:
        yield session


@contextlib.contextmanager
def writer(context):
    """A session in a write transaction, committed when the outermost block exits."""
    manager = _get_manager()
    with manager.manila_lite_gate.enter(), \
            manager.writer.using(context) as session:
        if not session.info.get(_IMMEDIATE):
            session.info[_IMMEDIATE] = True
            if session.get_bind().dialect.name == 'sqlite':
                session.connection(execution_options={_IMMEDIATE: True})
        yield session
