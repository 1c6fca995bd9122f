"""Share replication through the real daemon, RabbitMQ and PostgreSQL: replicas, promotion, resync, replicated snapshots, revert, failures."""

import os

import pytest

from tests.functional import share_rows as rows
from tests.unit.share.replication import helpers as rh

pytestmark = pytest.mark.functional

_FAULTS = ('create_replica,promote_replica,update_replica_state,'
           'create_replicated_snapshot,delete_replica')


@pytest.fixture
def daemon(fresh_db, daemon_factory):
    """alpha replicates; beta (same replication_domain) fails every replication call."""
    backend = {'share_driver': 'dummy', 'driver_handles_share_servers': False,
               'replication_domain': 'rd1'}
    return daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'replica_state_update_interval': 1},
        'alpha': dict(backend, share_backend_name='alpha'),
        'beta': dict(backend, share_backend_name='beta',
                     dummy_driver_fail_methods=_FAULTS)})


def _replicated_share(pg, daemon, share_rpc, backend):
    ctx = rows.admin_ctx()
    share = rows.share(pg, daemon, 'creating', replication_type='readable')
    inst = share['instance']
    pg.share_instance_update(ctx, inst['id'], {
        'replica_state': 'active', 'host': daemon.pool_host(backend)})
    share_rpc.create_share_instance(rows.user_ctx(), inst,
                                    daemon.pool_host(backend),
                                    request_spec={}, filter_properties={})
    rows.wait_status(daemon, share['id'], 'available')
    return pg.share_get(ctx, share['id']), inst['id']


def _replica(daemon, replica_id):
    return daemon.db.row('SELECT * FROM share_instances WHERE id = :i',
                         i=replica_id)


def _wait(daemon, replica_id, **expected):
    daemon.wait_for(lambda: all(
        _replica(daemon, replica_id)[k] == v for k, v in expected.items()),
        timeout=30, message='replica %s never %s' % (replica_id, expected))


def _set(daemon, instance_id, **values):
    sets = ', '.join('%s = :%s' % (k, k) for k in values)
    daemon.db.execute('UPDATE share_instances SET %s WHERE id = :i' % sets,
                      i=instance_id, **values)


def _snap_statuses(daemon, snapshot_id):
    return {r['share_instance_id']: r['status'] for r in daemon.db.rows(
        "SELECT * FROM share_snapshot_instances WHERE snapshot_id = :s "
        "AND deleted = 'False'", s=snapshot_id)}


def test_replica_lifecycle(daemon, pg_facade, share_rpc):
    pg = pg_facade
    ctx = rows.admin_ctx()
    share, active_id = _replicated_share(pg, daemon, share_rpc, 'alpha')
    pg.reservation_commit(ctx, pg.quota_reserve(
        ctx, {'share_replicas': 1, 'replica_gigabytes': 1}, 'p1', 'u1'))
    replica_id = rh.add_replica(pg, ctx, share['id'],
                                host=daemon.pool_host('alpha'))
    share_rpc.create_share_replica(rows.user_ctx(), _replica(
        daemon, replica_id), daemon.pool_host('alpha'), {}, {})
    _wait(daemon, replica_id, status='available', replica_state='in_sync')

    # the periodic update brings an out_of_sync replica back
    _set(daemon, replica_id, replica_state='out_of_sync')
    _wait(daemon, replica_id, replica_state='in_sync')

    # a replicated snapshot on both replicas
    snapshot = rh.replicated_snapshot(pg, ctx, share, [replica_id])
    share_rpc.create_replicated_snapshot(rows.user_ctx(), share, snapshot)
    daemon.wait_for(lambda: set(_snap_statuses(
        daemon, snapshot['id']).values()) == {'available'},
        message='replicated snapshot available')

    # revert the active replica to it
    _set(daemon, active_id, status='reverting')
    daemon.db.execute("UPDATE share_snapshot_instances SET status = "
                      "'restoring' WHERE share_instance_id = :i", i=active_id)
    share_rpc.revert_to_snapshot(rows.user_ctx(), share, snapshot,
                                 daemon.pool_host('alpha'), None)
    _wait(daemon, active_id, status='available')

    # promotion swaps the roles
    _set(daemon, replica_id, status='replication_change')
    share_rpc.promote_share_replica(rows.user_ctx(), _replica(
        daemon, replica_id), quiesce_wait_time=2)
    _wait(daemon, replica_id, status='available', replica_state='active')
    old = _replica(daemon, active_id)
    assert (old['replica_state'], old['cast_rules_to_readonly']) == (
        'in_sync', True)

    # the replicated snapshot goes, then the old active replica
    daemon.db.execute("UPDATE share_snapshot_instances SET status = "
                      "'deleting' WHERE snapshot_id = :s", s=snapshot['id'])
    share_rpc.delete_replicated_snapshot(
        rows.user_ctx(), snapshot, daemon.pool_host('alpha'),
        share_id=share['id'])
    daemon.wait_for(lambda: _snap_statuses(daemon, snapshot['id']) == {},
                    message='replicated snapshot deleted')
    _set(daemon, active_id, status='deleting')
    share_rpc.delete_share_replica(rows.user_ctx(), _replica(
        daemon, active_id))
    _wait(daemon, active_id, deleted=active_id)
    assert rows.usage(pg, 'share_replicas') == (0, 0)
    assert rows.usage(pg, 'replica_gigabytes') == (0, 0)
    assert rows.messages(daemon, replica_id) == []


def test_replica_driver_failures(daemon, pg_facade, share_rpc):
    pg = pg_facade
    ctx = rows.admin_ctx()
    share, active_id = _replicated_share(pg, daemon, share_rpc, 'beta')
    failed = rh.add_replica(pg, ctx, share['id'],
                            host=daemon.pool_host('beta'))
    share_rpc.create_share_replica(rows.user_ctx(), _replica(daemon, failed),
                                   daemon.pool_host('beta'), {}, {})
    _wait(daemon, failed, status='error', replica_state='error')
    assert rows.messages(daemon, failed) == [
        ('002', '001', 'SHARE_REPLICA', 'p1')]

    # a promotion the driver refuses: every replica in error, roles kept
    other = rh.add_replica(pg, ctx, share['id'], status='replication_change',
                           replica_state='in_sync',
                           host=daemon.pool_host('beta'))
    share_rpc.promote_share_replica(rows.user_ctx(), _replica(daemon, other))
    _wait(daemon, other, status='error', replica_state='in_sync')
    _wait(daemon, active_id, status='error', replica_state='active')

    # a failed deletion ends in error_deleting; forced, the row goes
    _set(daemon, failed, status='deleting')
    share_rpc.delete_share_replica(rows.user_ctx(), _replica(daemon, failed))
    _wait(daemon, failed, status='error_deleting')
    _set(daemon, failed, status='deleting')
    share_rpc.delete_share_replica(rows.user_ctx(), _replica(daemon, failed),
                                   force=True)
    _wait(daemon, failed, deleted=failed)
    assert daemon.running


def _dir(pg, instance_id):
    inst = pg.share_instance_get(rows.admin_ctx(), instance_id,
                                 with_share_data=True)
    return inst['export_locations'][0]['path'].split(':', 1)[1]


def _wait_file(daemon, path, text):
    def there():
        try:
            with open(path) as f:
                return f.read() == text
        except OSError:
            return False
    daemon.wait_for(there, timeout=30, message='%s holds %r' % (path, text))


def test_localfs_replicas_hold_the_data(fresh_db, daemon_factory, pg_facade,
                                        share_rpc, tmp_path):
    """Two localfs backends of one domain: the replica is a synced directory, a file written before promotion is on the promoted one."""
    pg = pg_facade
    ctx = rows.admin_ctx()
    options = {'DEFAULT': {'enabled_share_backends': 'gamma,delta',
                           'replica_state_update_interval': 1}}
    for name, ip in (('gamma', '127.0.0.1'), ('delta', '127.0.0.2')):
        options[name] = {
            'share_driver': 'localfs', 'share_backend_name': name,
            'driver_handles_share_servers': False,
            'replication_domain': 'rd2',
            'localfs_pools': str(tmp_path / 'pools' / name),
            'localfs_export_ips': ip}
    daemon = daemon_factory(fresh_db, options=options)
    share, active_id = _replicated_share(pg, daemon, share_rpc, 'gamma')
    active_dir = _dir(pg, active_id)
    with open(active_dir + '/a.txt', 'w') as f:
        f.write('one')
    replica_id = rh.add_replica(pg, ctx, share['id'],
                                host=daemon.pool_host('delta'))
    share_rpc.create_share_replica(rows.user_ctx(), _replica(
        daemon, replica_id), daemon.pool_host('delta'), {}, {})
    _wait(daemon, replica_id, status='available', replica_state='in_sync')
    replica_dir = _dir(pg, replica_id)
    assert replica_dir.startswith(str(tmp_path / 'pools' / 'delta'))
    _wait_file(daemon, replica_dir + '/a.txt', 'one')
    # the periodic update carries later writes over
    with open(active_dir + '/b.txt', 'w') as f:
        f.write('two')
    _wait_file(daemon, replica_dir + '/b.txt', 'two')

    snapshot = rh.replicated_snapshot(pg, ctx, share, [replica_id])
    share_rpc.create_replicated_snapshot(rows.user_ctx(), share, snapshot)
    daemon.wait_for(lambda: set(_snap_statuses(
        daemon, snapshot['id']).values()) == {'available'},
        message='replicated snapshot available on both replicas')

    with open(active_dir + '/c.txt', 'w') as f:
        f.write('before promotion')
    _set(daemon, replica_id, status='replication_change')
    share_rpc.promote_share_replica(rows.user_ctx(), _replica(
        daemon, replica_id))
    _wait(daemon, replica_id, status='available', replica_state='active')
    with open(replica_dir + '/c.txt') as f:
        assert f.read() == 'before promotion'
    # the old active replica now follows the new one
    with open(replica_dir + '/d.txt', 'w') as f:
        f.write('after promotion')
    _wait_file(daemon, active_dir + '/d.txt', 'after promotion')

    daemon.db.execute("UPDATE share_snapshot_instances SET status = "
                      "'deleting' WHERE snapshot_id = :s", s=snapshot['id'])
    share_rpc.delete_replicated_snapshot(
        rows.user_ctx(), snapshot, daemon.pool_host('delta'),
        share_id=share['id'])
    daemon.wait_for(lambda: _snap_statuses(daemon, snapshot['id']) == {},
                    message='replicated snapshot deleted on both')
    _set(daemon, active_id, status='deleting')
    share_rpc.delete_share_replica(rows.user_ctx(), _replica(
        daemon, active_id))
    _wait(daemon, active_id, deleted=active_id)
    assert not os.path.exists(active_dir)
    assert os.listdir(str(tmp_path / 'pools' / 'gamma' / '.localfs' /
                          'snapshots')) == []
