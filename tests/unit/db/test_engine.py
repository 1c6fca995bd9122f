"""The engine: configuration from CONF, SQLite WAL/busy timeout/immediate writers, native threads."""

import threading
import time

from oslo_config import cfg
import sqlalchemy as sa

from manila_lite import context as ml_context
from manila_lite.db import api as db
from manila_lite.db import migration
from manila_lite.db.sqlalchemy import engine
from tests.unit.db import helpers

CONF = cfg.CONF


def test_engine_follows_conf(db_url, tmp_path):
    assert db.get_engine().url.render_as_string(hide_password=False) == db_url
    other = 'sqlite:///%s' % (tmp_path / 'other.sqlite')
    CONF.set_override('connection', other, group='database')
    try:
        assert db.get_engine().url.render_as_string(
            hide_password=False) == db_url  # until disposed
        db.dispose_engine()
        assert str(db.get_engine().url) == other
    finally:
        CONF.clear_override('connection', group='database')
        db.dispose_engine()


def test_default_connection_is_under_state_path(tmp_path):
    CONF.set_override('state_path', str(tmp_path))
    try:
        assert CONF.database.connection == (
            'sqlite:///%s/manila_lite.sqlite' % tmp_path)
    finally:
        CONF.clear_override('state_path')


def test_sqlite_pragmas(synced_db, sqlite_only):
    with db.get_engine().connect() as conn:
        mode = conn.exec_driver_sql('PRAGMA journal_mode').scalar()
        timeout = conn.exec_driver_sql('PRAGMA busy_timeout').scalar()
    assert mode == 'wal'
    assert timeout == engine.SQLITE_BUSY_TIMEOUT_MS


def test_writers_begin_immediate_readers_do_not(ctxt, sqlite_only):
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.driver_private_data_update(ctxt, 'e', {'k': 'v'})
    assert counter.statements[0] == 'BEGIN IMMEDIATE'
    assert 'BEGIN' not in counter.statements[1:]
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.driver_private_data_get(ctxt, 'e')
    assert counter.statements[0] == 'BEGIN'


def test_nested_calls_share_one_transaction(ctxt, sqlite_only):
    with helpers.StatementCounter(db.get_engine()) as counter:
        with engine.writer(ctxt):
            db.driver_private_data_update(ctxt, 'e', {'k': 'v'})
            db.driver_private_data_update(ctxt, 'e', {'k2': 'v2'})
            assert db.driver_private_data_get(ctxt, 'e') == {'k': 'v',
                                                             'k2': 'v2'}
    begins = [s for s in counter.statements if s.startswith('BEGIN')]
    assert begins == ['BEGIN IMMEDIATE']


def test_concurrent_writers_from_threads(ctxt, make_share):
    """Read-then-write transactions from many threads must not fail as busy."""
    share = make_share(status='available')
    inst_id = share.instance['id']
    errors = []

    def work(n):
        context = ml_context.get_admin_context()
        try:
            for i in range(10):
                db.driver_private_data_update(context, 'ent%d' % n,
                                              {'i': i})
                db.share_instance_update(context, inst_id,
                                         {'progress': '%d%%' % i})
                db.export_locations_update(context, inst_id,
                                           ['/t%d' % n, '/common'])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert db.driver_private_data_get(ctxt, 'ent5') == {'i': '9'}
    live = helpers.raw_rows('SELECT path FROM share_instance_export_locations '
                            'WHERE deleted = 0')
    assert len(live) == 2


def test_db_sync_uses_the_configured_database(db_url):
    migration.db_sync()
    tables = sa.inspect(db.get_engine()).get_table_names()
    assert 'share_instances' in tables and 'alembic_version' in tables


def test_pooled_connections_are_pinged_only_after_idling(synced_db,
                                                         monkeypatch):
    eng = db.get_engine()
    assert eng.pool._pre_ping is False
    pings = []
    real_ping = eng.dialect.do_ping

    def ping(dbapi_conn):
        pings.append(dbapi_conn)
        if len(pings) == 2:
            raise RuntimeError('server closed the connection')
        return real_ping(dbapi_conn)

    monkeypatch.setattr(eng.dialect, 'do_ping', ping)
    ctx = ml_context.get_admin_context()
    db.service_get_all(ctx)
    db.service_get_all(ctx)
    assert pings == []  # in use a moment ago: no round trip
    monkeypatch.setattr(engine, 'IDLE_PING_SECONDS', 0.0)
    db.service_get_all(ctx)
    assert len(pings) == 1
    # A failed ping replaces the connection; the caller never notices.
    first = pings[0]
    db.service_get_all(ctx)
    assert len(pings) >= 3 and pings[2] is not first


def test_at_most_max_pool_size_threads_work_in_the_database(synced_db):
    CONF.set_override('max_pool_size', 2, group='database')
    db.dispose_engine()
    inside, most, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def work():
        ctx = ml_context.get_admin_context()
        with engine.reader(ctx):
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            # A nested session (another context, too) needs no new place.
            with engine.writer(ml_context.get_admin_context()):
                release.wait(5)
            with lock:
                inside[0] -= 1

    try:
        threads = [threading.Thread(target=work) for _ in range(5)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 5
        while most[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        assert inside[0] == 2
        release.set()
        for thread in threads:
            thread.join(10)
        assert most[0] == 2 and inside[0] == 0
    finally:
        release.set()
        CONF.clear_override('max_pool_size', group='database')
        db.dispose_engine()


def test_no_time_sleep_on_connection_checkin(synced_db, monkeypatch):
    """oslo.db's eventlet yield on check-in is gone with native threads."""
    sleeps = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, 'sleep', lambda s: (sleeps.append(s),
                                                  real_sleep(s)))
    ctx = ml_context.get_admin_context()
    db.service_get_all(ctx)
    db.driver_private_data_update(ctx, 'e', {'k': 'v'})
    assert sleeps == []
