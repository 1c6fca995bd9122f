"""The retry of database operations that lost their connection (db/sqlalchemy/retry.py) and its use by the db.api facade."""

from oslo_config import cfg
from oslo_db import exception as db_exc
import pytest
import sqlalchemy as sa

from manila_lite.db import api as db_api
from manila_lite.db.sqlalchemy import retry

CONF = cfg.CONF


def _refused():
    """What SQLAlchemy raises when no connection could be opened."""
    return sa.exc.OperationalError(None, None, OSError('connection refused'))


def _bad_statement():
    return sa.exc.OperationalError('SELECT nope', {}, OSError('syntax'))


@pytest.fixture
def fast_retries():
    CONF.set_override('db_retry_interval', 0, group='database')
    CONF.set_override('db_max_retries', 2, group='database')
    yield
    CONF.clear_override('db_retry_interval', group='database')
    CONF.clear_override('db_max_retries', group='database')


@pytest.mark.parametrize('exc, expected', [
    (db_exc.DBConnectionError(), True),
    (_refused(), True),
    (db_exc.DBError(_refused()), True),
    (_bad_statement(), False),
    (db_exc.DBError(_bad_statement()), False),
    (db_exc.DBDuplicateEntry(), False),
    (ValueError('x'), False),
])
def test_is_connection_error(exc, expected):
    assert retry.is_connection_error(exc) is expected


def test_invalidated_connection_is_a_connection_error():
    exc = sa.exc.DBAPIError('SELECT 1', {}, OSError('gone'),
                            connection_invalidated=True)
    assert retry.is_connection_error(exc)


def _flaky(failures, exc_factory):
    calls = []

    def operation(value):
        calls.append(value)
        if len(calls) <= failures:
            raise exc_factory()
        return value * 2
    return operation, calls


def test_lost_connection_is_retried(fast_retries):
    operation, calls = _flaky(2, _refused)
    assert retry.retry_on_disconnect(operation)(21) == 42
    assert calls == [21, 21, 21]


def test_gives_up_after_db_max_retries(fast_retries):
    operation, calls = _flaky(100, db_exc.DBConnectionError)
    with pytest.raises(db_exc.DBConnectionError):
        retry.retry_on_disconnect(operation)(1)
    # the first attempt, one at once, then db_max_retries paced ones
    assert len(calls) == 4


def test_other_errors_are_not_retried(fast_retries):
    operation, calls = _flaky(1, _bad_statement)
    with pytest.raises(sa.exc.OperationalError):
        retry.retry_on_disconnect(operation)(1)
    assert calls == [1]


def test_facade_operations_are_wrapped():
    assert db_api.share_instance_get.without_retry.__name__ == \
        'share_instance_get'
    assert db_api.service_report_heartbeat.without_retry
    assert not hasattr(db_api.get_engine, 'without_retry')
    assert not hasattr(db_api.dispose_engine, 'without_retry')


def test_no_more_retries_once_the_process_stops(fast_retries, monkeypatch):
    """db_api.stop_retrying() (SIGTERM) makes a retrying operation give up at its next failure."""
    import threading
    monkeypatch.setattr(retry, '_STOPPING', threading.Event())
    calls = []

    def operation(value):
        calls.append(value)
        if len(calls) == 2:
            db_api.stop_retrying()
        raise db_exc.DBConnectionError()
    with pytest.raises(db_exc.DBConnectionError):
        retry.retry_on_disconnect(operation)(1)
    assert calls == [1, 1]          # not the 4 of test_gives_up_after...
    calls.clear()
    with pytest.raises(db_exc.DBConnectionError):
        retry.retry_on_disconnect(operation)(1)
    assert calls == [1]


class _PgError(Exception):
    def __init__(self, pgcode):
        super().__init__('could not serialize access')
        self.pgcode = pgcode


def _serialization_failure():
    return db_exc.DBError(sa.exc.OperationalError(
        'UPDATE quota_usages', {}, _PgError('40001')))


def _galera_certification_failure():
    """What oslo.db makes of Galera's answer to a certification failure at COMMIT."""
    return db_exc.DBDeadlock(sa.exc.OperationalError(
        'COMMIT', {}, OSError('(1213, Deadlock: wsrep aborted transaction)')))


@pytest.mark.parametrize('exc_factory, kind', [
    (db_exc.DBDeadlock, retry.DEADLOCK),
    (_galera_certification_failure, retry.DEADLOCK),
    (_serialization_failure, retry.SERIALIZATION),
    (lambda: db_exc.DBError(sa.exc.OperationalError(
        'SELECT', {}, _PgError('40P01'))), retry.DEADLOCK),
    (_refused, retry.CONNECTION),
    (_bad_statement, None),
    (db_exc.DBDuplicateEntry, None),
])
def test_transient_kind(exc_factory, kind):
    assert retry.transient_kind(exc_factory()) == kind


@pytest.mark.parametrize('exc_factory', [
    db_exc.DBDeadlock, _galera_certification_failure, _serialization_failure])
def test_lost_lock_race_is_retried_with_one_line_each(
        fast_retries, exc_factory, caplog):
    operation, calls = _flaky(2, exc_factory)
    caplog.set_level('DEBUG', logger='manila_lite')
    assert retry.retry_on_disconnect(operation)(21) == 42
    assert calls == [21, 21, 21]
    lines = [r for r in caplog.records if r.name.startswith('manila_lite')
             and r.levelname != 'DEBUG']
    assert [r.levelname for r in lines] == ['WARNING', 'WARNING']
    assert all('in operation' in r.getMessage() and 'retrying' in
               r.getMessage() and not r.exc_info for r in lines)


def test_deadlock_waits_are_short_and_random(fast_retries, monkeypatch):
    waits = []
    monkeypatch.setattr('time.sleep', waits.append)
    CONF.set_override('db_max_retries', 6, group='database')
    operation, calls = _flaky(6, db_exc.DBDeadlock)
    assert retry.retry_on_disconnect(operation)(1) == 2
    assert len(calls) == 7
    assert waits[0] == retry.DEADLOCK_RETRY_INTERVAL
    # later waits are drawn below a doubling bound (oslo.db's jitter)
    for n, wait in enumerate(waits[1:], 1):
        assert 0 <= wait <= retry.DEADLOCK_RETRY_INTERVAL * 2 ** n


def test_traceback_only_when_finally_failing(fast_retries, caplog):
    operation, calls = _flaky(100, db_exc.DBDeadlock)
    caplog.set_level('WARNING')
    with pytest.raises(db_exc.DBDeadlock):
        retry.retry_on_disconnect(operation)(1)
    assert len(calls) == 4
    warnings = [r for r in caplog.records if r.name.startswith('manila_lite')]
    assert len(warnings) == 3 and not any(r.exc_info for r in warnings)
    final = [r for r in caplog.records if r.exc_info]
    assert len(final) == 1 and final[0].levelname == 'ERROR'


def test_inner_operation_of_an_open_transaction_is_not_retried(
        fast_retries, monkeypatch):
    """A failure inside an open transaction is the outer transaction's to retry."""
    from manila_lite.db.sqlalchemy import engine
    monkeypatch.setattr(engine, 'in_transaction', lambda: True)
    operation, calls = _flaky(1, db_exc.DBDeadlock)
    with pytest.raises(db_exc.DBDeadlock):
        retry.retry_on_disconnect(operation)(1)
    assert calls == [1]
