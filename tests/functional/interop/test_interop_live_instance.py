"""Readers using upstream's DB API never see a live share without a live instance while the daemon works.

The daemon creates, snapshots, deletes, manages, unmanages and reconciles
shares; processes reading them with upstream manila 23.0.1's own DB API in a
tight loop must never find a live share without a live instance (upstream's
API answers HTTP 500 for one at microversion 2.90 and later).


The readers (watch_shares.py) call upstream's ``share_get`` and its model's
``instance`` property, what ``GET /v2/shares/{id}`` reads; the flows are
upstream's API code (lifecycle.py) with the dummy driver slowed down a
little, so the readers also see each transitional status on the way. One
reader reads each share from one database snapshot (MySQL's default
isolation): it proves every write sequence of the daemon atomic. The other
reads as upstream's API does on PostgreSQL (read committed: the share and
its instances in two snapshots); it may catch a share whose last instance
was deleted, together with the share, in the one transaction that
committed between its two SELECTs (upstream's share service commits the
same way), and nothing else.
"""

import datetime
import json
import os
import subprocess
import time
import uuid

import pytest

from tests.functional import fixtures
from tests.functional.interop import conftest as interop

pytestmark = [pytest.mark.functional, pytest.mark.interop]

DELAYS = ('create_share:0.3,create_share_from_snapshot:0.3,'
          'delete_share:0.3,manage_existing:0.3,unmanage:0.3,'
          'create_snapshot:0.2,delete_snapshot:0.2')
STRANDED_AFTER = 5


def _upstream_process(python, script, *args, stdin=None):
    """Start ``script`` of this directory in the upstream venv."""
    env = dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning')
    return subprocess.Popen(
        [python, os.path.join(interop.HERE, script)] + list(args),
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env)


class Flows:
    """lifecycle.py steps (one ``serve`` process) against one daemon; every new share is watched."""

    def __init__(self, python, transport_url, db_url, daemon, watch_file):
        self.daemon = daemon
        self.project = 'interop-%s' % uuid.uuid4().hex[:12]
        options = daemon.options
        self.proc = _upstream_process(
            python, 'lifecycle.py', 'serve', '--transport-url', transport_url,
            '--connection', db_url,
            '--state-path', options['DEFAULT']['state_path'],
            '--lock-path', options['oslo_concurrency']['lock_path'],
            '--project-id', self.project, '--watch-file', watch_file,
            stdin=subprocess.PIPE)

    def step(self, name, *args, share=None, snapshot=None, backend='alpha'):
        argv = [name, '--host', self.daemon.pool_host(backend)] + list(args)
        if share:
            argv += ['--share-id', share['share_id'],
                     '--instance-id', share['instance']['id']]
        if snapshot:
            argv += ['--snapshot-id', snapshot]
        self.proc.stdin.write(json.dumps(argv) + '\n')
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError('lifecycle.py serve died at %s:\n%s' % (
                argv, self.proc.communicate()[1][-6000:]))
        out = json.loads(line)
        assert not out['timed_out'], (
            'share service did not answer %s:\n%s\n%s'
            % (name, out, self.daemon.diagnostics()))
        return out

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.communicate(timeout=60)     # EOF ends the loop
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.communicate()


@pytest.fixture(scope='module')
def stack(upstream_module, module_db, rabbitmq, tmp_path_factory):
    upstream_module('db_sync.py', '--connection', module_db)
    factory = fixtures.DaemonFactory(tmp_path_factory.mktemp('live'),
                                     rabbitmq.url, amqp_url=rabbitmq.amqp_url)
    healthy = dict(fixtures.base_options('', '', '', '')['alpha'],
                   dummy_driver_driver_methods_delays=DELAYS)
    options = {
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'transitional_state_timeout': STRANDED_AFTER,
                    'transitional_state_check_interval': 1},
        'alpha': healthy,
        'beta': dict(healthy, share_backend_name='beta',
                     dummy_driver_fail_methods='delete_share'),
    }
    try:
        yield module_db, factory(module_db, db_sync=False, options=options)
    finally:
        errors = factory.cleanup()
    if errors:
        pytest.fail('\n\n'.join(errors), pytrace=False)


class Watcher:
    """watch_shares.py reading the shares named in ``watch_file`` until ``stop_file`` exists."""

    def __init__(self, python, transport_url, db_url, workdir, isolation):
        ready = str(workdir / ('ready-' + isolation))
        self.proc = _upstream_process(
            python, 'watch_shares.py', '--transport-url', transport_url,
            '--connection', db_url, '--watch-file', str(workdir / 'watch'),
            '--stop-file', str(workdir / 'stop'), '--ready-file', ready,
            '--isolation', isolation)
        fixtures.wait_for(lambda: os.path.exists(ready) or
                          self.proc.poll() is not None, timeout=120,
                          message='watcher started')
        assert self.proc.poll() is None, self.proc.communicate()

    def report(self):
        """What it saw (once the stop file exists)."""
        out, err = self.proc.communicate(timeout=120)
        assert self.proc.returncode == 0, err[-6000:]
        return json.loads(out.strip().splitlines()[-1])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def _share(out):
    return {'share_id': out['share']['id'],
            'instance': {'id': out['instance']['id']}}


def _strand(daemon, instance_id, status):
    """The instance left in ``status`` long ago, as after a lost cast."""
    old = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
           - datetime.timedelta(hours=1))
    daemon.db.execute('UPDATE share_instances SET status = :s, '
                      'updated_at = :t WHERE id = :i', s=status, t=old,
                      i=instance_id)


def _share_gone(daemon, share_id):
    return daemon.db.scalar('SELECT deleted FROM shares WHERE id = :i',
                            i=share_id) == share_id


def test_reader_never_sees_a_share_without_its_instance(
        stack, upstream_python, rabbitmq, tmp_path):
    db_url, daemon = stack
    (tmp_path / 'watch').write_text('')
    watchers, flows = {}, None
    try:
        for isolation in ('repeatable_read', 'read_committed'):
            watchers[isolation] = Watcher(upstream_python, rabbitmq.url,
                                          db_url, tmp_path, isolation)
        flows = Flows(upstream_python, rabbitmq.url, db_url, daemon,
                      str(tmp_path / 'watch'))
        shares = _run_flows(flows, daemon)
        time.sleep(0.5)
        (tmp_path / 'stop').write_text('')
        seen = {name: w.report() for name, w in watchers.items()}
    finally:
        if flows is not None:
            flows.close()
        for watcher in watchers.values():
            watcher.kill()
    consistent, committed = seen['repeatable_read'], seen['read_committed']
    assert consistent['anomalies'] == [], consistent['anomalies']
    assert consistent['straddled'] == [], consistent['straddled']
    assert committed['anomalies'] == [], committed['anomalies']
    statuses = set()
    for name, share_id in shares.items():
        assert _share_gone(daemon, share_id), name
        for reader in (consistent, committed):
            assert reader['reads'].get(share_id, 0) >= 5, (name, reader)
            statuses.update(reader['statuses'].get(share_id, ()))
    # the readers saw the flows in progress, not only their ends
    assert {'creating', 'deleting', 'manage_starting', 'unmanage_starting',
            'manage_error_unmanage_starting', 'deferred_deleting',
            'error_deleting', 'manage_error', 'available'} <= statuses, (
        statuses)


def _run_flows(flows, daemon):
    """Every flow that creates, replaces or deletes instances; returns the shares it made."""
    made = {}
    # create, snapshot, create from the snapshot, delete both
    out = flows.step('create', '--size', '1')
    assert out['share']['status'] == 'available', out
    first = _share(out)
    made['created'] = first['share_id']
    snap = flows.step('snapshot-create', share=first)['snapshot_id']
    out = flows.step('create', '--from-snapshot', snapshot=snap)
    assert out['share']['status'] == 'available', out
    child = _share(out)
    made['from snapshot'] = child['share_id']
    flows.step('delete', share=child)
    flows.step('snapshot-delete', share=first, snapshot=snap)
    # unmanage, manage it again, manage an invalid export, unmanage both
    path = flows.step('show', share=first)['instance']['export_locations'][0]
    out = flows.step('unmanage', share=first)
    assert not out['share']['live'], out
    out = flows.step('manage', '--export-path', path)
    assert out['share']['status'] == 'available', out
    managed = _share(out)
    made['managed'] = managed['share_id']
    out = flows.step('manage', '--export-path', '10.0.0.1:/not a uuid')
    assert out['share']['status'] == 'manage_error', out
    bad = _share(out)
    made['manage error'] = bad['share_id']
    assert not flows.step('unmanage', share=bad)['share']['live']
    out = flows.step('delete', '--deferred', share=managed)
    assert not out['share']['live'], out
    # a failed deletion, then a forced one
    out = flows.step('create', backend='beta')
    failing = _share(out)
    made['force deleted'] = failing['share_id']
    out = flows.step('delete', share=failing, backend='beta')
    assert out['share']['status'] == 'error_deleting', out
    assert not flows.step('delete', '--force', share=failing,
                          backend='beta')['share']['live']
    # reconciliation: a create and a delete whose casts were lost
    out = flows.step('create', '--no-cast')
    lost = {'share_id': out['share_id'],
            'instance': {'id': out['instance']['id']}}
    made['reconciled'] = lost['share_id']
    _strand(daemon, lost['instance']['id'], 'creating')
    daemon.wait_for(lambda: daemon.db.scalar(
        'SELECT status FROM share_instances WHERE id = :i',
        i=lost['instance']['id']) == 'available', timeout=60,
        message='stranded creation reconciled')
    _strand(daemon, lost['instance']['id'], 'deleting')
    daemon.wait_for(lambda: _share_gone(daemon, lost['share_id']),
                    timeout=60, message='stranded deletion reconciled')
    return made
