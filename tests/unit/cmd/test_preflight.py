"""Start-up checks shared by the commands: one-line configuration errors, the database look and its retries (SQLite here)."""

import threading

from oslo_config import cfg
import psycopg2
import pytest
import sqlalchemy as sa

from manila_lite.cmd import preflight
from manila_lite.db import api as db_api
from manila_lite.db.sqlalchemy import health
from manila_lite.db.sqlalchemy import retry
from manila_lite import exception


def test_option_error_names_section_option_and_file(tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text('[DEFAULT]\nreport_interval = often\n')
    conf = cfg.ConfigOpts()
    conf.register_opt(cfg.IntOpt('report_interval'))
    conf(['--config-file', str(path)])
    with pytest.raises(exception.ConfigError) as info:
        preflight.read_options(conf, 'DEFAULT', ['report_interval'])
    line = str(info.value)
    assert line.startswith('Invalid configuration: [DEFAULT] '
                           'report_interval: '), line
    assert line.endswith("'often' (in %s)" % path), line
    assert 'LocationInfo' not in line and '\n' not in line


def test_parse_error_of_missing_file_is_one_line(tmp_path):
    conf = cfg.ConfigOpts()
    with pytest.raises(cfg.Error) as info:
        conf(['--config-file', str(tmp_path / 'nope.conf')])
    assert preflight.parse_error_line(info.value) == (
        'Invalid configuration: cannot read config file(s): %s'
        % (tmp_path / 'nope.conf'))


def test_schema_missing_on_an_empty_database(tmp_path):
    url = 'sqlite:///%s' % (tmp_path / 'empty.sqlite')
    with pytest.raises(exception.DatabaseSchemaMissing) as info:
        db_api.check_database(url)
    assert str(info.value).startswith(
        'Database schema missing: table services, shares, share_instances '
        'not found; create it with "manila-lite-manage db sync"')
    assert db_api.check_database(url, schema=False) == set()


def test_migrated_database_passes(db):
    assert {'services', 'shares', 'share_instances'} <= \
        db_api.check_database()


def test_unreachable_and_bad_urls(tmp_path):
    with pytest.raises(exception.DatabaseUnavailable) as info:
        db_api.check_database('sqlite:///%s/no/such/dir/x.sqlite' % tmp_path)
    assert str(info.value) == ('Database unreachable: unable to open '
                               'database file')
    with pytest.raises(exception.ConfigError) as info:
        db_api.check_database('nosuchdialect://x/y')
    assert str(info.value).startswith(
        'Invalid configuration: [database] connection: ')


def test_start_up_wait_tries_then_reports(tmp_path, db, caplog):
    cfg.CONF.set_override('connection', 'sqlite:///%s/no/dir/x.sqlite'
                          % tmp_path, group='database')
    try:
        with pytest.raises(exception.DatabaseUnavailable):
            preflight.wait_for_database(3, 0)
    finally:
        cfg.CONF.clear_override('connection', group='database')
    tries = [r for r in caplog.records if 'Database unreachable' in
             r.getMessage()]
    assert [r.levelname for r in tries] == ['WARNING', 'WARNING']
    assert 'attempt 1 of 3' in tries[0].getMessage()


def test_start_up_wait_ends_when_stopping(tmp_path):
    cfg.CONF.set_override('connection', 'sqlite:///%s/no/dir/x.sqlite'
                          % tmp_path, group='database')
    stopping = threading.Event()
    stopping.set()
    try:
        with pytest.raises(exception.DatabaseUnavailable):
            preflight.wait_for_database(-1, 3600, stopping=stopping)
    finally:
        cfg.CONF.clear_override('connection', group='database')


def _operational(message):
    """The OperationalError SQLAlchemy raises when psycopg2 fails to connect."""
    return sa.exc.OperationalError(None, None,
                                   psycopg2.OperationalError(message))


def test_a_refused_login_is_no_lost_connection():
    refused = _operational('connection to server at "127.0.0.1", port 5432 '
                           'failed: FATAL:  password authentication failed '
                           'for user "manila"')
    down = _operational('connection to server at "127.0.0.1", port 5432 '
                        'failed: Connection refused')
    assert health.is_credentials_error(refused)
    assert not retry.is_connection_error(refused)
    assert retry.is_connection_error(down)
    described = health.describe(refused)
    assert isinstance(described, exception.ConfigError)
    assert str(described) == (
        'Invalid configuration: [database] connection: the database refused '
        'the login: connection to server at "127.0.0.1", port 5432 failed: '
        'password authentication failed for user "manila"')
    assert isinstance(health.describe(down), exception.DatabaseUnavailable)


def test_a_statement_error_is_not_described_as_a_connection_problem():
    exc = sa.exc.IntegrityError('INSERT', {}, Exception('duplicate key'))
    assert db_api.describe_database_error(exc) is None
