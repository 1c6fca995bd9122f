"""Upstream's API reserving quota while the daemon deletes, through faults: no quota drift, no stranded row, no orphaned directory.

The faults: a daemon SIGKILL, a broker restart and a database restart,
on PostgreSQL and MariaDB; no share directory may be missing either.

Upstream manila 23.0.1's own code plays the API (tests/functional/interop/
api_load.py, in the upstream venv, on upstream's own schema from its
``db sync``): eight threads create shares (upstream's ``QUOTAS.reserve``,
``share_create``, ``QUOTAS.commit`` and the scheduler's cast) and delete
shares (``deleting`` and the cast) at once, so its reservations race the
releases the daemon commits with each deletion. One fault hits mid-run;
over a database restart the API's steps pause (requests in flight finish
first) while the daemon's deletions run through it: a step of upstream's
API cut off at its COMMIT and repeated leaves rows of the API's own (a
second instance of one share, a reservation never committed), which
upstream's share service would face the same way and which are not the
share service's drift. Then every share is deleted. After each phase, once the daemon settled
every row (the reconciliation drives stranded ones again), the test
compares ``quota_usages`` with the live shares, per user and per share
type: the totals of ``in_use`` (summed over duplicate rows, as upstream's
API reports them) must equal the shares' count and size, with nothing
left ``reserved``. Runs marked "duplicates" first seed two usage rows per
resource and owner, as upstream's API inserts them when a project's first
requests race. Figures (drift, stranded rows, transient DB errors retried
by the daemon, API errors and latency) are printed; run with ``-s``.
"""

import json
import os
import subprocess
import time

import pytest

from tests.functional import fixtures
from tests.functional.interop import conftest as interop
from tests.functional.interop.conftest import upstream_python  # noqa: F401

pytestmark = [pytest.mark.functional, pytest.mark.interop]

SEED = 16               # shares deleted while the API creates CREATES more
CREATES = 20
THREADS = 8
TIMEOUT = 10            # transitional_state_timeout of the daemon
SETTLE_TIMEOUT = 180.0
TRANSITIONAL = ('creating', 'deleting', 'error_deleting')
PROJECT, USER = 'interop-project', 'interop-user'


def _options(tmp_path):
    return {
        'DEFAULT': {'transitional_state_timeout': TIMEOUT,
                    'transitional_state_check_interval': 1},
        'database': {'db_max_retries': 20, 'db_retry_interval': 1,
                     'db_max_retry_interval': 2},
        'alpha': {'share_driver': 'localfs',
                  'localfs_pools': str(tmp_path / 'pools' / 'alpha'),
                  'localfs_export_ips': '127.0.0.1',
                  'localfs_enabled_share_protocols': 'NFS',
                  'localfs_apply_samba_config': False},
    }


class Api:
    """Runs api_load.py (upstream's API code) against one database and broker."""

    def __init__(self, python, db_url, broker_url, host, pause_file):
        self.python, self.db_url = python, db_url
        self.broker_url, self.host = broker_url, host
        self.pause_file = pause_file
        self.share_type_id = None

    def _cmd(self, creates, deletes):
        cmd = [self.python, os.path.join(interop.HERE, 'api_load.py'),
               '--transport-url', self.broker_url, '--connection',
               self.db_url, '--host', self.host, '--creates', str(creates),
               '--delete-ids', json.dumps(list(deletes)),
               '--threads', str(THREADS), '--pause-file', self.pause_file]
        if self.share_type_id:
            cmd += ['--share-type-id', self.share_type_id]
        return cmd

    def start(self, creates=0, deletes=()):
        env = dict(os.environ, PYTHONWARNINGS='ignore')
        return subprocess.Popen(self._cmd(creates, deletes),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)

    def finish(self, proc, timeout=300):
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err[-6000:]
        result = json.loads(out.strip().splitlines()[-1])
        self.share_type_id = result['share_type_id']
        assert not result['errors'], result['errors'][:5]
        return result

    def run(self, creates=0, deletes=()):
        return self.finish(self.start(creates, deletes))


def _seed_duplicates(db, share_type_id):
    """Two usage rows per owner and resource, both at 0 (what racing first requests leave)."""
    for user_id, type_id in ((USER, None), (None, share_type_id)):
        for resource in ('shares', 'gigabytes'):
            for _ in range(2):
                db.execute(
                    'INSERT INTO quota_usages (created_at, updated_at, '
                    'deleted, project_id, user_id, share_type_id, resource, '
                    'in_use, reserved) VALUES (:now, :now, 0, :p, :u, :t, '
                    ':r, 0, 0)', now=fixtures._utcnow(), p=PROJECT,
                    u=user_id, t=type_id, r=resource)


def drift(db, share_type_id):
    """{(owner, resource): (in_use total - real, reserved total)} where not (0, 0)."""
    real = db.row(
        "SELECT count(*) AS shares, coalesce(sum(s.size), 0) AS gigabytes "
        "FROM shares s WHERE s.deleted = 'False' AND s.project_id = :p",
        p=PROJECT)
    found = {}
    for row in db.rows('SELECT user_id, share_type_id, resource, in_use, '
                       'reserved FROM quota_usages WHERE deleted = 0 AND '
                       'project_id = :p', p=PROJECT):
        owner = 'type' if row['share_type_id'] else 'user'
        key = (owner, row['resource'])
        in_use, reserved = found.get(key, (-int(real[row['resource']]), 0))
        found[key] = (in_use + row['in_use'], reserved + row['reserved'])
    for owner in ('user', 'type'):
        for resource in ('shares', 'gigabytes'):
            found.setdefault((owner, resource), (-int(real[resource]), 0))
    return {k: v for k, v in found.items() if v != (0, 0)}


def _stranded(db):
    return db.scalar("SELECT count(*) FROM share_instances WHERE deleted = "
                     "'False' AND status IN :s", s=list(TRANSITIONAL))


def _settle(daemon, expected_live):
    """Wait (bounded) until no instance is transitional and ``expected_live`` are available."""
    db = daemon.db

    def settled():
        counts = {r['status']: r['n'] for r in db.rows(
            "SELECT status, count(*) AS n FROM share_instances "
            "WHERE deleted = 'False' GROUP BY status")}
        return (not set(counts) & set(TRANSITIONAL) and
                counts.get('available', 0) == expected_live and
                sum(counts.values()) == expected_live)
    daemon.wait_for(settled, timeout=SETTLE_TIMEOUT, interval=0.5,
                    message='%d shares available, none transitional'
                    % expected_live)


def _check_directories(daemon, pool):
    """Live instances and share directories agree (no orphan, none missing)."""
    live = {'share-%s' % r['id'] for r in daemon.db.rows(
        "SELECT id FROM share_instances WHERE deleted = 'False'")}
    dirs = set(os.listdir(pool)) - {'.localfs'} if os.path.isdir(pool) \
        else set()
    return {'orphaned': len(dirs - live), 'missing': len(live - dirs)}


def _retries(daemon):
    """Transient DB errors the daemon retried, by kind, and operations that finally failed."""
    text = daemon.log_text()
    kinds = {}
    for line in text.splitlines():
        if ' WARNING ' in line and '; retrying (retry ' in line:
            kind = line.split('Database ', 1)[1].split(' in ', 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds, text.count('DB exceeded retry limit')


def _fault(kind, daemon, broker, server, pause_file):
    if kind == 'kill':
        daemon.kill()
        time.sleep(1)
        daemon.start()
    elif kind == 'broker':
        broker.kill()
        time.sleep(2)
        broker.start()
    else:
        # The API's steps wait over the outage (see api_load.py); the
        # daemon's deletions run through it.
        open(pause_file, 'w').close()
        fixtures.wait_for(lambda: os.path.exists(pause_file + '.idle'),
                          timeout=120, interval=0.05,
                          message="the API's steps paused")
        server.stop()
        time.sleep(4)
        server.start()
        os.unlink(pause_file)


def _live_share_ids(db):
    return [r['id'] for r in db.rows(
        "SELECT id FROM shares WHERE deleted = 'False' AND project_id = :p",
        p=PROJECT)]


def _servers(fault, request):
    """(database URL, database server, broker): private servers only for the one the fault restarts."""
    if fault == 'database':
        server = request.getfixturevalue('db_server_factory')()
        url = server.url
    else:
        server, url = None, request.getfixturevalue('fresh_db')
    broker = (request.getfixturevalue('rabbitmq_factory')()
              if fault == 'broker' else request.getfixturevalue('rabbitmq'))
    return url, server, broker


def _run_under_fault(fault, duplicates, db_backend, daemon_factory,
                     upstream_python, tmp_path, request):  # noqa: F811
    db_url, server, broker = _servers(fault, request)
    interop.make_runner(upstream_python, broker.url)(
        'db_sync.py', '--connection', db_url)
    daemon = daemon_factory(db_url, options=_options(tmp_path),
                            db_sync=False, broker=broker)
    db, pool = daemon.db, str(tmp_path / 'pools' / 'alpha')
    pause_file = str(tmp_path / 'api-pause')
    api = Api(upstream_python, db_url, broker.url, daemon.pool_host(),
              pause_file)
    api.run()                                   # the share type
    if duplicates:
        _seed_duplicates(db, api.share_type_id)
    seeded = [c['share_id'] for c in api.run(creates=SEED)['created']]
    _settle(daemon, SEED)

    proc = api.start(creates=CREATES, deletes=seeded)
    daemon.wait_for(lambda: db.scalar(
        "SELECT count(*) FROM share_instances WHERE deleted != 'False'")
        >= 4, timeout=120, interval=0.05, message='deletions under way')
    _fault(fault, daemon, broker, server, pause_file)
    busy = api.finish(proc)
    _settle(daemon, CREATES)
    figures = {'during': drift(db, api.share_type_id),
               'stranded': _stranded(db),
               'dirs': _check_directories(daemon, pool)}

    api.run(deletes=_live_share_ids(db))
    _settle(daemon, 0)
    figures.update(after=drift(db, api.share_type_id),
                   stranded_after=_stranded(db),
                   dirs_after=_check_directories(daemon, pool))
    retried, gave_up = _retries(daemon)
    latencies = sorted(busy['latencies'])
    print('\n[%s %s%s] drift after the fault run %s, after deleting all %s; '
          'stranded %d/%d; directories %s/%s; daemon retried %s, gave up %d;'
          ' API: %d creates, %d deletes, %d steps repeated (DB down), '
          'create latency median %.3f s, max %.3f s'
          % (db_backend, fault, ' with duplicates' if duplicates else '',
             figures['during'] or 0, figures['after'] or 0,
             figures['stranded'], figures['stranded_after'],
             figures['dirs'], figures['dirs_after'], retried or 0, gave_up,
             len(busy['created']), len(busy['deleted']),
             busy['retried_steps'], latencies[len(latencies) // 2],
             latencies[-1]))
    assert figures['during'] == {} and figures['after'] == {}, figures
    assert figures['stranded'] == figures['stranded_after'] == 0
    assert figures['dirs'] == figures['dirs_after'] == {'orphaned': 0,
                                                        'missing': 0}
    assert gave_up == 0
    log = daemon.log_text()
    assert 'Could not release quota' not in log
    assert 'keeping 0' not in log


# The matrix, kept small for the suite's time: on each database a
# database restart with duplicate usage rows seeded (the case that needs
# both the retried transaction and the duplicate handling); the broker
# restart, which touches no database code, on PostgreSQL only. A daemon
# SIGKILL in the middle (its crash recovery is also tested by
# test_crash_restart) joins with MANILA_LITE_FULL_MATRIX=1.
_FAULTS = [('database', True)] + (
    [('kill', False)] if os.environ.get('MANILA_LITE_FULL_MATRIX') else [])


@pytest.mark.parametrize('fault, duplicates', _FAULTS,
                         ids=['%s%s' % (f, '-duplicates' if d else '')
                              for f, d in _FAULTS])
def test_upstream_api_reserving_beside_deletions_under_fault(
        fault, duplicates, db_backend, daemon_factory,
        upstream_python, tmp_path, request):  # noqa: F811
    _run_under_fault(fault, duplicates, db_backend, daemon_factory,
                     upstream_python, tmp_path, request)


@pytest.mark.postgres_only
def test_upstream_api_reserving_beside_deletions_through_broker_restart(
        db_backend, daemon_factory,
        upstream_python, tmp_path, request):  # noqa: F811
    _run_under_fault('broker', True, db_backend, daemon_factory,
                     upstream_python, tmp_path, request)
