"""Start-up failures of manila-lite-share as an operator meets them: one line each with its exit code, a generous bound, no traceback.

* database unreachable: one WARNING per attempt ([database] max_retries,
  retry_interval), then one ERROR line and exit 1;
* login refused, database schema missing: named at once, exit 2 / 1;
* one backend of two cannot start: one line for it, the other serves;
  every backend fails: exit 1.
"""

import time

import pytest

import local_services

from tests.functional import fixtures

pytestmark = pytest.mark.functional

EXIT_BOUND = 60.0       # liveness bound for a failing start, not a timing


def _run_to_exit(daemon):
    """Start the daemon, wait for it to exit; return (code, seconds)."""
    began = time.monotonic()
    daemon.start(wait=False)
    try:
        code = daemon.proc.wait(timeout=EXIT_BOUND)
    except Exception:
        daemon.kill()
        raise AssertionError('daemon still running after %.0f s\n%s'
                             % (EXIT_BOUND, daemon.diagnostics()))
    return code, time.monotonic() - began


def _error_lines(daemon):
    return [line for line in daemon.log_text().splitlines()
            if ' ERROR ' in line or ' CRITICAL ' in line]


def _stderr_lines(daemon):
    return [line for line in daemon.output_text().splitlines()
            if line.strip()]


def _assert_one_line(daemon, code, expected_code, start):
    assert code == expected_code, daemon.diagnostics()
    errors = _error_lines(daemon)
    assert len(errors) == 1, daemon.diagnostics()
    assert errors[0].split('] ', 1)[1].startswith(start), errors[0]
    out = _stderr_lines(daemon)
    assert out == ['manila-lite-share: ' + errors[0].split('] ', 1)[1]], out
    assert 'Traceback' not in daemon.log_text() + daemon.output_text()
    return errors[0]


def test_database_unreachable_exits_1_after_its_retries(daemon_factory,
                                                        fresh_db):
    port = local_services.free_port()
    url = 'postgresql+psycopg2://manila:manila@127.0.0.1:%d/manila' % port
    daemon = daemon_factory(url, db_sync=False, start=False, options={
        'database': {'max_retries': 3, 'retry_interval': 1}})
    code, seconds = _run_to_exit(daemon)
    line = _assert_one_line(daemon, code, 1, 'Database unreachable: ')
    assert 'port %d failed: Connection refused' % port in line
    retries = [ln for ln in daemon.log_text().splitlines()
               if ' WARNING ' in ln and 'Database unreachable' in ln]
    assert len(retries) == 2, daemon.log_text()     # attempts 1 and 2 of 3
    assert 'attempt 1 of 3' in retries[0]
    print('database unreachable: exit 1 after %.1f s' % seconds)


def test_refused_login_is_named_at_once(daemon_factory, fresh_db):
    url = fresh_db.replace('manila:manila@', 'manila:wrong@')
    daemon = daemon_factory(url, db_sync=False, start=False, options={
        'database': {'max_retries': 10, 'retry_interval': 10}})
    code, seconds = _run_to_exit(daemon)
    line = _assert_one_line(
        daemon, code, 2, 'Invalid configuration: [database] connection: '
        'the database refused the login: ')
    assert 'password authentication failed for user "manila"' in line
    assert 'wrong' not in daemon.log_text() + daemon.output_text()
    assert 'WARNING' not in daemon.log_text()        # no retry was waited
    assert seconds < 10 * 10
    print('login refused: exit 2 after %.1f s' % seconds)


def test_missing_schema_is_named_at_once(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db, db_sync=False, start=False, options={
        'database': {'max_retries': 10, 'retry_interval': 10}})
    code, seconds = _run_to_exit(daemon)
    _assert_one_line(daemon, code, 1, 'Database schema missing: table '
                     'services, shares, share_instances not found; create '
                     'it with "manila-lite-manage db sync"')
    assert seconds < 10 * 10
    print('schema missing: exit 1 after %.1f s' % seconds)


def _refuse_services_rows(daemon, pattern):
    """A CHECK constraint makes the services row of matching hosts fail to insert (a real DB error)."""
    daemon.db.execute(
        "ALTER TABLE services ADD CONSTRAINT ft_refuse CHECK "
        "(host NOT LIKE '%s')" % pattern)


def test_one_backend_failing_leaves_the_other_serving(daemon_factory,
                                                      fresh_db):
    options = {'DEFAULT': {'enabled_share_backends': 'alpha,beta'},
               'beta': dict(fixtures.base_options('', '', '', '')['alpha'],
                            share_backend_name='beta')}
    daemon = daemon_factory(fresh_db, start=False, options=options)
    _refuse_services_rows(daemon, '%@beta')
    daemon.start(wait=False)
    alpha = '%s@alpha' % daemon.host
    daemon.wait_for(lambda: alpha in daemon.heartbeats() and
                    daemon.rpc_consumers('alpha'), timeout=60,
                    message='alpha serving', ignore=(Exception,))
    errors = _error_lines(daemon)
    assert len(errors) == 1, daemon.diagnostics()
    assert ('Backend beta (%s@beta) did not start: CheckViolation: new row '
            'for relation "services" violates check constraint "ft_refuse"'
            % daemon.host) in errors[0]
    assert ('Serving 1 of 2 backends: %s.' % alpha) in daemon.log_text()
    assert daemon.running
    assert 'Traceback' not in daemon.log_text() + daemon.output_text()


def test_every_backend_failing_exits_1(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db, start=False)
    _refuse_services_rows(daemon, '%@alpha')
    code, seconds = _run_to_exit(daemon)
    assert code == 1, daemon.diagnostics()
    errors = _error_lines(daemon)
    assert len(errors) == 2, daemon.diagnostics()
    assert 'Backend alpha (%s@alpha) did not start: ' % daemon.host \
        in errors[0]
    assert errors[1].endswith('No backend started (1 of 1 failed); '
                              'exiting.'), errors
    assert 'Traceback' not in daemon.log_text() + daemon.output_text()
    print('every backend failed: exit 1 after %.1f s' % seconds)
