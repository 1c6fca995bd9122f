"""Broker restart under load.

RabbitMQ stops with 200 create and delete casts in flight and starts again; the
daemon serves again and no row stays transitional.

The broker is stopped hard (SIGKILL) right after the burst and started
again. The daemon works
through two requests at a time (``executor_thread_pool_size``), takes two
deliveries ahead (``rabbit_qos_prefetch_count``) and each creation takes a
moment on the driver, so when the broker stops most of the burst is still
queued there: those casts are lost with the broker. Their
rows (``creating``, ``deleting``) are what upstream strands forever; here
the reconciliation settles them after ``transitional_state_timeout``.
Figures (recovery times, operations, stranded rows) are printed; run with
``-s`` to see them.
"""

import datetime
import time

import pytest

from tests.functional.reliability import share_load as load

pytestmark = pytest.mark.functional

SHARES = 100            # deleted during the fault; as many created
TIMEOUT = 20            # transitional_state_timeout of the daemon
OPTIONS = {
    'DEFAULT': {'transitional_state_timeout': TIMEOUT,
                'transitional_state_check_interval': 2,
                'executor_thread_pool_size': 2},
    # Unacknowledged deliveries at most: the rest of a burst waits on the
    # broker (and goes down with it).
    'oslo_messaging_rabbit': {'rabbit_qos_prefetch_count': 2},
    'alpha': {'dummy_driver_driver_methods_delays': 'create_share:0.1'},
}
SERVE_AGAIN_TIMEOUT = 30.0      # the bound after the broker is back
SETTLE_TIMEOUT = 150.0


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _interleaved(first, second):
    merged = []
    for pair in zip(first, second):
        merged.extend(pair)
    return merged


def _burst(client, daemon, olds):
    """Write the rows of SHARES creations and deletions; return (new ids, buffer of their casts)."""
    creates, deletes = load.CastBuffer(client), load.CastBuffer(client)
    news = load.create(load.api(creates), daemon, SHARES)
    load.delete(load.api(deletes), olds)
    creates.pending = _interleaved(creates.pending, deletes.pending)
    return news, creates


def _all_available(daemon, share_ids):
    insts = load.instances(daemon, share_ids)
    return (len(insts) == len(share_ids) and
            all(i['status'] == 'available' for i in insts.values()))


def test_broker_restart_under_load(rabbitmq_factory, fresh_db,
                                   daemon_factory):
    broker = rabbitmq_factory()
    daemon = daemon_factory(fresh_db, broker=broker, options=OPTIONS)
    with load.facade(fresh_db), load.share_client(broker.url) as client:
        api = load.api(client)
        olds = load.create(api, daemon, SHARES)
        daemon.wait_for(lambda: _all_available(daemon, olds), timeout=120,
                        message='the first %d shares available' % SHARES)
        news, casts = _burst(client, daemon, olds)

        flush_began = time.monotonic()
        sent = casts.flush()
        flush_s = time.monotonic() - flush_began
        broker.kill()       # a graceful stop takes seconds: the burst drains
        stopped = time.monotonic()
        broker.start()
        back, back_utc = time.monotonic(), _utcnow()
        outage = back - stopped
        stranded_at_return = len(load.transitional(daemon))

        consume_s = load.timed(lambda: daemon.rpc_consumers() > 0, daemon,
                               SERVE_AGAIN_TIMEOUT,
                               'the daemon consuming again',
                               ignore=(Exception,))
        probe = load.create(api, daemon, 1)
        serve_s = time.monotonic() - back + load.timed(
            lambda: _all_available(daemon, probe), daemon,
            SERVE_AGAIN_TIMEOUT, 'a share created after the broker returned')
        load.timed(lambda: all(b > back_utc for b in
                               daemon.heartbeats().values()), daemon, 30,
                   'heartbeat after the broker returned')
        settle_s = load.timed(lambda: not load.transitional(daemon), daemon,
                              SETTLE_TIMEOUT, 'no row in a transitional state')
        summary = load.check_outcomes(daemon, news + probe, olds)

    settled = load.settled_in_log(daemon)
    print('\nbroker restart: %d casts sent in %.1f s, broker down %.1f s; '
          'consuming again %.1f s and serving again %.1f s after its return; '
          '%d rows transitional at its return, %d settled by the '
          'reconciliation, all settled %.1f s later; outcomes %s; '
          'rows stranded at the end: %d'
          % (sent, flush_s, outage, consume_s, serve_s, stranded_at_return, settled,
             settle_s, summary, len(load.transitional(daemon))))
    assert sent == 2 * SHARES
    assert summary['available'] + summary['deleted'] + summary['error'] == \
        2 * SHARES + 1
    # The broker took casts with it: their rows were left transitional and
    # the reconciliation settled them.
    assert stranded_at_return > 0 and settled > 0, daemon.diagnostics()
    assert daemon.running
