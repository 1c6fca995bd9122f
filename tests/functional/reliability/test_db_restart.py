"""Database restart under load.

PostgreSQL stops while the daemon works through a burst of creations and
deletions and starts again; nothing is half-written and nothing is lost.

The daemon retries database work that lost its connection ([database]
``db_max_retries``, ``db_retry_interval``, ``db_max_retry_interval``, kept
short here so that some operations run out of retries while the server is
down). An operation's outcome (status with its export locations) is one
transaction, which a sampler checks all along: no instance is ever seen
``creating`` with export locations or ``available`` without them.
Operations whose writes failed leave their rows transitional until the
reconciliation settles them, so at the end every creation is ``available``
(or ``error`` with a user message) and every deletion is done. Figures are
printed; run with ``-s`` to see them.
"""

import datetime
import threading
import time

import pytest
import sqlalchemy

from tests.functional.reliability import share_load as load

pytestmark = pytest.mark.functional

CREATES = 100
DELETES = 50
DOWN_SECONDS = 6.0
OPTIONS = {
    'DEFAULT': {'transitional_state_timeout': 10,
                'transitional_state_check_interval': 2,
                'executor_thread_pool_size': 4},
    'database': {'db_max_retries': 3, 'db_retry_interval': 1,
                 'db_max_retry_interval': 2},
    'alpha': {'dummy_driver_driver_methods_delays': 'create_share:0.2'},
}
SERVE_AGAIN_TIMEOUT = 60.0
SETTLE_TIMEOUT = 150.0

# A share instance seen half-written: created without exports or exports
# without its status (one statement: one snapshot on PostgreSQL).
_HALF_WRITTEN = """
SELECT si.id, si.status, count(el.id) AS n
FROM share_instances si LEFT JOIN share_instance_export_locations el
  ON el.share_instance_id = si.id AND el.deleted = 0
WHERE si.deleted = 'False' AND si.status IN ('creating', 'available')
GROUP BY si.id, si.status
HAVING (si.status = 'creating' AND count(el.id) > 0)
    OR (si.status = 'available' AND count(el.id) = 0)
"""


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Sampler(threading.Thread):
    """Looks for half-written instances every 0.2 s until stopped (bounded)."""

    def __init__(self, daemon, limit=900):
        super().__init__(daemon=True)
        self.db = daemon.db
        self.limit = limit
        self.samples = 0
        self.seen = {}
        self.halt = threading.Event()

    def run(self):
        for _ in range(self.limit):
            if self.halt.wait(0.2):
                return
            try:
                found = self.db.rows(_HALF_WRITTEN)
            except sqlalchemy.exc.SQLAlchemyError:
                continue          # the server is down
            self.samples += 1
            self.seen.update((r['id'], (r['status'], r['n'])) for r in found)

    def stop(self):
        self.halt.set()
        self.join(timeout=10)


def _all_available(daemon, share_ids):
    insts = load.instances(daemon, share_ids)
    return (len(insts) == len(share_ids) and
            all(i['status'] == 'available' for i in insts.values()))


def _burst(client, daemon, olds):
    casts = load.CastBuffer(client)
    news = load.create(load.api(casts), daemon, CREATES)
    load.delete(load.api(casts), olds)
    return news, casts


def _restart(pg):
    """Stop the server, keep it down DOWN_SECONDS, start it; return the outage in seconds."""
    began = time.monotonic()
    pg.stop()
    time.sleep(DOWN_SECONDS)
    pg.start()
    return time.monotonic() - began


def test_db_restart_under_load(postgres_factory, rabbitmq, daemon_factory):
    pg = postgres_factory()
    daemon = daemon_factory(pg.url, options=OPTIONS)
    sampler = Sampler(daemon)
    with load.facade(pg.url), load.share_client(rabbitmq.url) as client:
        api = load.api(client)
        olds = load.create(api, daemon, DELETES)
        daemon.wait_for(lambda: _all_available(daemon, olds), timeout=90,
                        message='the first %d shares available' % DELETES)
        news, casts = _burst(client, daemon, olds)
        sampler.start()
        sent = casts.flush()
        daemon.wait_for(lambda: load.instances(daemon, news[:4]) and
                        load.status_counts(daemon).get('available', 0) >
                        DELETES + 4, timeout=60, message='work under way')
        outage = _restart(pg)
        back_utc = _utcnow()
        beat_s = load.timed(lambda: all(b > back_utc for b in
                                        daemon.heartbeats().values()),
                            daemon, SERVE_AGAIN_TIMEOUT,
                            'heartbeat after the restart',
                            ignore=(sqlalchemy.exc.SQLAlchemyError,))
        probe_began = time.monotonic()
        probe = load.create(api, daemon, 1)
        load.timed(lambda: _all_available(daemon, probe), daemon,
                   SERVE_AGAIN_TIMEOUT, 'a share created after the restart')
        serve_s = time.monotonic() - probe_began + beat_s
        stranded_after = len(load.transitional(daemon))
        settle_s = load.timed(lambda: not load.transitional(daemon), daemon,
                              SETTLE_TIMEOUT, 'no row in a transitional state')
        sampler.stop()
        summary = load.check_outcomes(daemon, news + probe, olds)

    log = daemon.log_text()
    retries = log.count('Performing DB retry')
    settled = load.settled_in_log(daemon)
    print('\ndb restart: %d casts, PostgreSQL down %.1f s; heartbeat back '
          '%.1f s and serving again %.1f s after its return; %d DB retries; '
          '%d rows transitional once serving, %d settled by the '
          'reconciliation, all settled %.1f s later; outcomes %s; '
          '%d samples, %d half-written rows seen; rows stranded at the '
          'end: %d' % (sent, outage, beat_s, serve_s, retries,
                       stranded_after, settled, settle_s, summary,
                       sampler.samples, len(sampler.seen),
                       len(load.transitional(daemon))))
    assert sent == CREATES + DELETES
    assert summary['available'] + summary['deleted'] + summary['error'] == \
        CREATES + DELETES + 1
    assert not sampler.seen, sampler.seen
    assert sampler.samples > 10
    # The restart hit work in progress, and the daemon retried it.
    assert retries > 0, daemon.diagnostics()
    assert daemon.running
