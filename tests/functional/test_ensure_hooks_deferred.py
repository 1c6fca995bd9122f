"""update_access_for_instances (RPC 1.21 cast) through the real daemon, RabbitMQ and PostgreSQL.

Several instances synced in one cast, and the driver failure.
"""

import os

import pytest

from tests.functional import hook_recorder
from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir,
                                    os.pardir))


def _set_status(daemon, table, row_id, status):
    daemon.db.execute('UPDATE %s SET status = :s WHERE id = :i' % table,
                      s=status, i=row_id)


def _status(daemon, table, row_id):
    return daemon.db.scalar('SELECT status FROM %s WHERE id = :i' % table,
                            i=row_id)


def _wait(daemon, table, row_id, status, timeout=30):
    daemon.wait_for(lambda: _status(daemon, table, row_id) == status,
                    timeout=timeout,
                    message='%s %s became %s' % (table, row_id, status))


def _count(daemon, text):
    return daemon.log_text().count(text)


def _wait_log(daemon, text, count=1, timeout=30):
    daemon.wait_for(lambda: _count(daemon, text) >= count, timeout=timeout,
                    message='%d x %r in the log' % (count, text))


def _ensuring_flag(daemon):
    return daemon.db.scalar('SELECT ensuring FROM services WHERE host = :h '
                            'AND deleted = 0', h=daemon.service_hosts[0])


# -- ensure ---------------------------------------------------------------

def test_ensure_rpc_and_restart_with_failing_ensure(fresh_db, pg_facade,
                                                    daemon_factory,
                                                    share_rpc):
    daemon = daemon_factory(fresh_db)
    first = rows.available_share(pg_facade, daemon, share_rpc)
    second = rows.available_share(pg_facade, daemon, share_rpc)
    creating = rows.share(pg_facade, daemon, 'creating', charge=False)
    ids = [s['instance']['id'] for s in (first, second)]
    locations = daemon.db.scalar(
        'SELECT count(*) FROM share_instance_export_locations WHERE '
        "share_instance_id = :i AND deleted = 0", i=ids[0])
    assert _count(daemon, 'Ensured 2 share instances.') == 0

    # 1.29 ensure_driver_resources: an instance a broken ensure left in
    # 'ensuring' is ensured again and returns to 'available'.
    _set_status(daemon, 'share_instances', ids[1], 'ensuring')
    share_rpc.ensure_driver_resources(rows.user_ctx(), daemon.service_hosts[0])
    _wait_log(daemon, 'Ensured 2 share instances.')
    _wait(daemon, 'share_instances', ids[1], 'available')
    assert _status(daemon, 'share_instances', ids[0]) == 'available'
    assert _ensuring_flag(daemon) is False
    assert _status(daemon, 'share_instances',
                   creating['instance']['id']) == 'creating'

    # A restart whose driver fails every ensure_share: each failure logged,
    # the instances end 'available' as upstream's per-share fallback leaves
    # them, nothing is lost, the daemon serves.
    daemon.configure({'alpha': {'dummy_driver_fail_methods': 'ensure_share'}})
    _set_status(daemon, 'share_instances', ids[0], 'ensuring')
    daemon.restart()
    for inst_id in ids:
        _wait_log(daemon, 'Driver ensure_share failed for share instance %s'
                  % inst_id)
    _wait_log(daemon, 'Ensured 2 share instances.', count=2)
    for inst_id in ids:
        _wait(daemon, 'share_instances', inst_id, 'available')
    assert daemon.db.scalar(
        'SELECT count(*) FROM share_instance_export_locations WHERE '
        "share_instance_id = :i AND deleted = 0", i=ids[0]) == locations
    assert _ensuring_flag(daemon) is False
    assert _status(daemon, 'share_instances',
                   creating['instance']['id']) == 'creating'

    # The RPC with the failing driver: the same, once more.
    share_rpc.ensure_driver_resources(rows.user_ctx(), daemon.service_hosts[0])
    _wait_log(daemon, 'Ensured 2 share instances.', count=3)
    assert _count(daemon, 'Driver ensure_share failed for share instance %s'
                  % ids[1]) == 2
    assert _ensuring_flag(daemon) is False
    assert rows.messages(daemon, first['id']) == []
    # still serving requests
    rows.available_share(pg_facade, daemon, share_rpc)


def test_restart_with_failing_get_pool_ensures_the_rest(fresh_db, pg_facade,
                                                        daemon_factory,
                                                        share_rpc):
    """A failing get_pool is logged; the start-up goes on, as upstream's.

    Instances without a pool in their host: the ensure, the capabilities
    report and the reconciliation still run.
    """
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'transitional_state_timeout': 5,
                    'transitional_state_check_interval': 1}})
    shares = [rows.available_share(pg_facade, daemon, share_rpc)
              for _ in range(2)]
    ids = [s['instance']['id'] for s in shares]
    for inst_id in ids:       # as rows written before pools existed
        daemon.db.execute('UPDATE share_instances SET host = :h WHERE '
                          'id = :i', h=daemon.service_hosts[0], i=inst_id)
    stranded = rows.share(pg_facade, daemon, 'extending', charge=False)
    daemon.configure({'alpha': {'dummy_driver_fail_methods': 'get_pool'}})
    daemon.restart()
    for inst_id in ids:
        _wait_log(daemon, 'Driver get_pool failed for share instance %s'
                  % inst_id)
    _wait_log(daemon, 'Ensured 2 share instances.')
    assert 'Start-up ensure of' not in daemon.log_text()
    for inst_id in ids:
        assert _status(daemon, 'share_instances', inst_id) == 'available'
    assert _ensuring_flag(daemon) is False
    _wait(daemon, 'share_instances', stranded['instance']['id'],
          'extending_error')
    # still serving requests
    rows.available_share(pg_facade, daemon, share_rpc)


# -- hooks ----------------------------------------------------------------

def _hook_calls(daemon, kind, func):
    state = daemon.options['DEFAULT']['state_path']
    return [c for c in hook_recorder.calls(state)
            if c['kind'] == kind and c['func'] == func]


def _wait_hook(daemon, kind, func, predicate=lambda call: True):
    return daemon.wait_for(
        lambda: [c for c in _hook_calls(daemon, kind, func) if predicate(c)],
        message='%s hook of %s' % (kind, func))


def test_hooks_success_failure_and_suppression(fresh_db, pg_facade,
                                               daemon_factory, share_rpc,
                                               monkeypatch):
    # The daemon imports the hook by its dotted path from this checkout.
    monkeypatch.setenv('PYTHONPATH', os.pathsep.join(
        p for p in (ROOT, os.environ.get('PYTHONPATH')) if p))
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'periodic_hooks_interval': 1},
        'alpha': {'hook_drivers': hook_recorder.PATH,
                  'enable_pre_hooks': True, 'enable_post_hooks': True,
                  'enable_periodic_hooks': True}})
    state = daemon.options['DEFAULT']['state_path']
    assert 'Hook driver %s loaded' % hook_recorder.PATH in daemon.log_text()
    _wait_hook(daemon, 'post', 'init_host',
               lambda c: c['pre_hook_data'] == 'pre-data-init_host')

    # Success: pre and post hooks around the cast, with the RPC arguments
    # and the pre hook's data; the periodic hook sees the new instance.
    share = rows.available_share(pg_facade, daemon, share_rpc)
    inst_id = share['instance']['id']
    pre, = _hook_calls(daemon, 'pre', 'create_share_instance')
    assert pre['share_instance_id'] == inst_id
    assert pre['host'] == daemon.service_hosts[0]
    assert set(pre['kwargs']) >= {'share_instance_id', 'snapshot_id'}
    post = _wait_hook(daemon, 'post', 'create_share_instance')[0]
    assert post['pre_hook_data'] == 'pre-data-create_share_instance'
    _wait_hook(daemon, 'periodic', 'periodic',
               lambda c: c['instances'] == [inst_id])

    # Failing hooks (no suppression): a failing pre hook stops the action,
    # a failing post hook fails it after the driver did the work, a failing
    # periodic hook is logged and the next run comes anyway.
    hook_recorder.set_failures(state, pre=['create_share_instance'],
                               post=['delete_share_instance'],
                               periodic=['periodic'])
    stuck = rows.share(pg_facade, daemon, 'creating', charge=False)
    stuck_id = stuck['instance']['id']
    share_rpc.create_share_instance(rows.user_ctx(), stuck['instance'],
                                    daemon.pool_host(), request_spec={},
                                    filter_properties={})
    _wait_log(daemon, 'injected pre hook failure of create_share_instance')
    _wait_hook(daemon, 'pre', 'create_share_instance',
               lambda c: c['share_instance_id'] == stuck_id)
    assert not [c for c in _hook_calls(daemon, 'post', 'create_share_instance')
                if c['share_instance_id'] == stuck_id]
    assert _status(daemon, 'share_instances', stuck_id) == 'creating'

    rows.set_status(pg_facade, share['id'], 'deleting')
    share_rpc.delete_share_instance(rows.user_ctx(), share['instance'])
    _wait_log(daemon, 'injected post hook failure of delete_share_instance')
    assert _status(daemon, 'share_instances', inst_id) == 'deleted'
    periodic_failures = _count(daemon, 'injected periodic hook failure')
    _wait_log(daemon, 'injected periodic hook failure',
              count=periodic_failures + 2)
    assert daemon.running

    _suppressed_hook_errors(daemon, pg_facade, share_rpc, stuck)


def _suppressed_hook_errors(daemon, pg_facade, share_rpc, stuck):
    """With suppress_*_hooks_errors a failing hook is logged, the action goes through and the post hook gets the pre hook's error as its data."""
    stuck_id = stuck['instance']['id']
    daemon.configure({'alpha': {'suppress_pre_hooks_errors': True,
                                'suppress_post_hooks_errors': True}})
    daemon.restart()
    share_rpc.create_share_instance(rows.user_ctx(), stuck['instance'],
                                    daemon.pool_host(), request_spec={},
                                    filter_properties={})
    _wait(daemon, 'share_instances', stuck_id, 'available')
    post = _wait_hook(daemon, 'post', 'create_share_instance',
                      lambda c: c['share_instance_id'] == stuck_id)[0]
    assert post['pre_hook_data'] == 'RuntimeError'
    assert 'Suppressed error of pre hook RecordingHook before ' \
        'create_share_instance' in daemon.log_text()
    rows.set_status(pg_facade, stuck['id'], 'deleting')
    share_rpc.delete_share_instance(rows.user_ctx(), stuck['instance'])
    _wait(daemon, 'share_instances', stuck_id, 'deleted')
    _wait_log(daemon, 'Suppressed error of post hook RecordingHook after '
              'delete_share_instance')


# -- deferred deletion ----------------------------------------------------

def _snapshot(pg, daemon, share_rpc, share):
    """A snapshot the daemon created; its quota committed as by the API."""
    ctx = rows.admin_ctx()
    snapshot = pg.share_snapshot_create(ctx, {
        'share_id': share['id'], 'size': share['size'], 'user_id': 'u1',
        'project_id': 'p1', 'status': 'creating', 'progress': '0%',
        'share_size': share['size'], 'display_name': 'snap',
        'share_proto': share['share_proto']})
    pg.reservation_commit(ctx, pg.quota_reserve(
        ctx, {'snapshots': 1, 'snapshot_gigabytes': share['size']}, 'p1',
        'u1', share_type_id=share['instance']['share_type_id']))
    share_rpc.create_snapshot(rows.user_ctx(), pg.share_get(ctx, share['id']),
                              snapshot)
    _wait(daemon, 'share_snapshot_instances', snapshot.instance['id'],
          'available')
    return snapshot


def _deferred_delete_snapshot(daemon, share_rpc, snapshot):
    _set_status(daemon, 'share_snapshot_instances', snapshot.instance['id'],
                'deferred_deleting')
    share_rpc.delete_snapshot(rows.user_ctx(), snapshot, daemon.pool_host(),
                              deferred_delete=True)


def _deferred_delete_share(daemon, share_rpc, share):
    _set_status(daemon, 'share_instances', share['instance']['id'],
                'deferred_deleting')
    share_rpc.delete_share_instance(rows.user_ctx(), share['instance'],
                                    deferred_delete=True)


def _quota(pg):
    return {r: rows.usage(pg, r) for r in
            ('shares', 'gigabytes', 'snapshots', 'snapshot_gigabytes')}


def _gone(daemon, share, snapshot=None):
    assert daemon.db.scalar('SELECT deleted FROM shares WHERE id = :i',
                            i=share['id']) == share['id']
    if snapshot is not None:
        assert daemon.db.scalar('SELECT deleted FROM share_snapshots WHERE '
                                'id = :i', i=snapshot['id']) == snapshot['id']


def test_deferred_deletion(fresh_db, pg_facade, daemon_factory, share_rpc):
    interval = {'DEFAULT': {'periodic_deferred_delete_interval': 1}}
    good = daemon_factory(fresh_db, options=interval, wait=False)
    bad = daemon_factory(fresh_db, db_sync=False, wait=False, options=dict(
        interval, alpha={'dummy_driver_fail_methods':
                         'delete_share,delete_snapshot'}))
    good.wait_ready()
    bad.wait_ready()
    zero = {'shares': (0, 0), 'gigabytes': (0, 0), 'snapshots': (0, 0),
            'snapshot_gigabytes': (0, 0)}

    # Success: the casts delete at once; the quota is given back once.
    share = rows.available_share(pg_facade, good, share_rpc)
    snapshot = _snapshot(pg_facade, good, share_rpc, share)
    _deferred_delete_snapshot(good, share_rpc, snapshot)
    _wait(good, 'share_snapshot_instances', snapshot.instance['id'],
          'deleted')
    _deferred_delete_share(good, share_rpc, share)
    _wait(good, 'share_instances', share['instance']['id'], 'deleted')
    _gone(good, share, snapshot)
    assert _quota(pg_facade) == zero
    assert rows.messages(good, share['instance']['id']) == []

    # Failure: error_deferred_deleting with a user message, the quota given
    # back at once; a share whose snapshot remains waits for it.
    with_snap = rows.available_share(pg_facade, bad, share_rpc)
    snapshot = _snapshot(pg_facade, bad, share_rpc, with_snap)
    plain = rows.available_share(pg_facade, bad, share_rpc)
    snapinst_id = snapshot.instance['id']
    _deferred_delete_snapshot(bad, share_rpc, snapshot)
    _wait(bad, 'share_snapshot_instances', snapinst_id,
          'error_deferred_deleting')
    assert rows.messages(bad, snapinst_id) == [
        ('007', '001', 'SHARE_SNAPSHOT', 'p1')]
    for share in (with_snap, plain):
        _deferred_delete_share(bad, share_rpc, share)
        _wait(bad, 'share_instances', share['instance']['id'],
              'error_deferred_deleting')
    assert rows.messages(bad, plain['instance']['id']) == [
        ('007', '001', 'SHARE', 'p1')]
    assert rows.messages(bad, with_snap['instance']['id']) == []
    assert _quota(pg_facade) == zero

    _deferred_retries(bad, pg_facade, with_snap, plain, snapshot)


def _deferred_retries(bad, pg_facade, with_snap, plain, snapshot):
    """The periodic tasks retry every second, failing quietly (logged, no more user messages), and finish once the backend accepts."""
    snapinst_id = snapshot.instance['id']
    zero = {'shares': (0, 0), 'gigabytes': (0, 0), 'snapshots': (0, 0),
            'snapshot_gigabytes': (0, 0)}
    _wait_log(bad, 'Deferred deletion of snapshot instance %s failed again'
              % snapinst_id, count=2)
    _wait_log(bad, 'Deferred deletion of share instance %s failed'
              % plain['instance']['id'], count=2)
    assert rows.messages(bad, snapinst_id) == [
        ('007', '001', 'SHARE_SNAPSHOT', 'p1')]
    assert rows.messages(bad, plain['instance']['id']) == [
        ('007', '001', 'SHARE', 'p1')]
    assert _status(bad, 'share_instances',
                   with_snap['instance']['id']) == 'error_deferred_deleting'

    # ... and finish once the backend accepts: snapshot first, then both
    # shares, without touching the quota again.
    bad.configure({'alpha': {'dummy_driver_fail_methods': ''}})
    bad.restart()
    _wait(bad, 'share_snapshot_instances', snapinst_id, 'deleted')
    for share in (plain, with_snap):
        _wait(bad, 'share_instances', share['instance']['id'], 'deleted')
        _gone(bad, share)
    _gone(bad, with_snap, snapshot)
    assert _quota(pg_facade) == zero
