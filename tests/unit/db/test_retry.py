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
