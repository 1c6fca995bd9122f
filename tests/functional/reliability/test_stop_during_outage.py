"""SIGTERM while the broker is down (lost while serving, or never reached): the daemon stops promptly and exits 0 when nothing was in flight."""

import time

import pytest

pytestmark = pytest.mark.functional

# The daemon is given a graceful shutdown timeout far above the liveness
# bound of the test: a stop that waited for it would fail the test.
GRACEFUL_TIMEOUT = 120
EXIT_BOUND = 60.0
OPTIONS = {'DEFAULT': {'graceful_shutdown_timeout': GRACEFUL_TIMEOUT}}


def _unreachable_logged(daemon):
    text = daemon.log_text()
    return 'is unreachable' in text or 'Connection refused' in text


def _stop_and_check(daemon):
    signalled = time.monotonic()
    code = daemon.stop(timeout=EXIT_BOUND)
    seconds = time.monotonic() - signalled
    assert code == 0, daemon.diagnostics()
    assert 'graceful_shutdown_timeout' not in daemon.log_text()
    assert daemon.db.scalar(
        "SELECT count(*) FROM services WHERE host = :h AND state = 'stopped'",
        h=daemon.service_hosts[0]) == 1, daemon.diagnostics()
    return seconds


def test_sigterm_after_the_broker_was_lost(rabbitmq_factory, fresh_db,
                                           daemon_factory):
    broker = rabbitmq_factory()
    daemon = daemon_factory(fresh_db, broker=broker, options=OPTIONS)
    broker.kill()
    daemon.wait_for(lambda: _unreachable_logged(daemon), timeout=60,
                    message='the daemon noticing the broker is gone')
    time.sleep(12)      # reconnection attempts back off to their longest
    seconds = _stop_and_check(daemon)
    print('stop after the broker was lost: exit 0 after %.1f s' % seconds)


def test_sigterm_while_the_broker_was_never_reached(rabbitmq_factory,
                                                    fresh_db, daemon_factory):
    broker = rabbitmq_factory()
    daemon = daemon_factory(fresh_db, broker=broker, options=OPTIONS,
                            start=False)
    broker.kill()
    daemon.start(wait=False)
    daemon.wait_for(lambda: _unreachable_logged(daemon), timeout=60,
                    message='the daemon trying to reach the broker')
    # Registered, not consuming: no heartbeat says "up" while it cannot
    # take requests.
    assert daemon.db.scalar('SELECT count(*) FROM services WHERE host = :h',
                            h=daemon.service_hosts[0]) == 1
    seconds = _stop_and_check(daemon)
    print('stop while the broker was never reached: exit 0 after %.1f s'
          % seconds)
