"""Driver-assisted share migration through the real daemon, RabbitMQ and PostgreSQL: dummy and localfs backends, cancel, failures, snapshots."""

import os

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_share_servers
from tests.unit.share import helpers
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional


def _daemon(fresh_db, daemon_factory, **alpha):
    """One daemon serving alpha (the source, with ``alpha`` options) and beta."""
    backend = {'share_driver': 'dummy', 'driver_handles_share_servers': False}
    return daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'migration_driver_continue_update_interval': 1},
        'alpha': dict(backend, share_backend_name='alpha', **alpha),
        'beta': dict(backend, share_backend_name='beta')})


def _reconciling_daemon(fresh_db, daemon_factory):
    """A daemon whose reconciliation settles rows stranded for 2 seconds."""
    daemon = _daemon(fresh_db, daemon_factory)
    daemon.stop()
    daemon.configure({'DEFAULT': {'transitional_state_timeout': 2,
                                  'transitional_state_check_interval': 1}})
    daemon.start()
    return daemon


@pytest.fixture
def daemon(fresh_db, daemon_factory):
    return _daemon(fresh_db, daemon_factory)


def _available(pg, daemon, share_rpc):
    share = rows.share(pg, daemon, 'creating')
    share_rpc.create_share_instance(rows.user_ctx(), share['instance'],
                                    daemon.pool_host('alpha'),
                                    request_spec={}, filter_properties={})
    rows.wait_status(daemon, share['id'], 'available')
    return share


def _migrate(pg, daemon, share_rpc, share, **flags):
    """What upstream's API and scheduler do: task_state, source migrating, cast to the source host."""
    ctx = rows.admin_ctx()
    pg.share_update(ctx, share['id'], {'task_state': 'migration_starting'})
    pg.share_instance_update(ctx, share['instance']['id'],
                             {'status': 'migrating'})
    args = dict(force_host_assisted_migration=False, preserve_metadata=False,
                writable=False, nondisruptive=False, preserve_snapshots=False,
                new_share_network_id=None, new_share_type_id=None)
    args.update(flags)
    share_rpc.migration_start(rows.user_ctx(), pg.share_get(ctx, share['id']),
                              daemon.pool_host('beta'), **args)


def _task(daemon, share_id):
    return daemon.db.scalar('SELECT task_state FROM shares WHERE id = :i',
                            i=share_id)


def _wait_task(daemon, share_id, *task_states, timeout=60):
    daemon.wait_for(lambda: _task(daemon, share_id) in task_states,
                    timeout=timeout, message='share %s never %s' % (
                        share_id, task_states))
    return _task(daemon, share_id)


def _live(daemon, share_id):
    return {r['status']: r for r in daemon.db.rows(
        "SELECT * FROM share_instances WHERE share_id = :s AND "
        "deleted = 'False'", s=share_id)}


def _instance(daemon, instance_id):
    return daemon.db.row('SELECT * FROM share_instances WHERE id = :i',
                         i=instance_id)


def test_migration_to_another_backend(daemon, pg_facade, share_rpc):
    pg = pg_facade
    share = _available(pg, daemon, share_rpc)
    src = share['instance']
    rule = pg.share_access_create(rows.admin_ctx(), {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.0.0.7', 'access_level': 'rw', 'state': 'active'})
    _migrate(pg, daemon, share_rpc, share, writable=True)
    _wait_task(daemon, share['id'], 'migration_driver_in_progress',
               'migration_driver_phase1_done')
    dest = _live(daemon, share['id'])['migrating_to']
    assert dest['host'] == daemon.pool_host('beta')
    if _task(daemon, share['id']) == 'migration_driver_in_progress':
        try:
            progress = share_rpc.migration_get_progress(
                rows.user_ctx(), src, dest['id'])
            assert progress['total_progress'] in (0, 50)
        except Exception as exc:     # phase 1 ended meanwhile
            assert 'not migrating' in str(exc), exc
    _wait_task(daemon, share['id'], 'migration_driver_phase1_done')
    share_rpc.migration_complete(rows.user_ctx(), src, dest['id'])
    _wait_task(daemon, share['id'], 'migration_success')
    live = _live(daemon, share['id'])
    assert list(live) == ['available']
    assert live['available']['id'] == dest['id']
    assert _instance(daemon, src['id'])['deleted'] == src['id']
    paths = [r['path'] for r in daemon.db.rows(
        "SELECT path FROM share_instance_export_locations WHERE "
        "share_instance_id = :i AND deleted = 0", i=dest['id'])]
    assert paths and all(dest['id'].replace('-', '_') in p for p in paths)
    mapping = daemon.db.row(
        "SELECT * FROM share_instance_access_map WHERE share_instance_id = "
        ":i AND deleted = 'False'", i=dest['id'])
    assert (mapping['access_id'], mapping['state']) == (rule['id'], 'active')
    assert rows.messages(daemon, share['id']) == []
    assert rows.usage(pg, 'shares') == (1, 0)


def test_cancel(daemon, pg_facade, share_rpc):
    pg = pg_facade
    share = _available(pg, daemon, share_rpc)
    src = share['instance']
    _migrate(pg, daemon, share_rpc, share)
    _wait_task(daemon, share['id'], 'migration_driver_in_progress',
               'migration_driver_phase1_done')
    dest = _live(daemon, share['id'])['migrating_to']
    share_rpc.migration_cancel(rows.user_ctx(), src, dest['id'])
    _wait_task(daemon, share['id'], 'migration_cancelled')
    assert list(_live(daemon, share['id'])) == ['available']
    assert _instance(daemon, dest['id'])['deleted'] == dest['id']


def test_driver_failure_at_start(fresh_db, daemon_factory, pg_facade,
                                 share_rpc):
    pg = pg_facade
    daemon = _daemon(fresh_db, daemon_factory,
                     dummy_driver_fail_methods='migration_start')
    share = _available(pg, daemon, share_rpc)
    # writable: no host-assisted fallback (that path: interop and
    # reliability test_*migration_host*)
    _migrate(pg, daemon, share_rpc, share, writable=True)
    _wait_task(daemon, share['id'], 'migration_error')
    assert list(_live(daemon, share['id'])) == ['available']
    assert [m[0] for m in rows.messages(daemon, share['id'])] == ['005']
    assert 'host-assisted migration' in daemon.log_text()


def test_driver_failure_at_complete(fresh_db, daemon_factory, pg_facade,
                                    share_rpc):
    pg = pg_facade
    daemon = _daemon(fresh_db, daemon_factory,
                     dummy_driver_fail_methods='migration_complete')
    share = _available(pg, daemon, share_rpc)
    src = share['instance']
    _migrate(pg, daemon, share_rpc, share)
    _wait_task(daemon, share['id'], 'migration_driver_phase1_done')
    dest = _live(daemon, share['id'])['migrating_to']
    share_rpc.migration_complete(rows.user_ctx(), src, dest['id'])
    _wait_task(daemon, share['id'], 'migration_error')
    assert _instance(daemon, src['id'])['status'] == 'error'
    assert _instance(daemon, dest['id'])['status'] == 'error'
    assert [m[0] for m in rows.messages(daemon, share['id'])] == ['005']


def _dhss_daemon(fresh_db, daemon_factory, pg, **beta):
    """alpha and beta, DHSS=True dummy backends with their own address ranges; returns (daemon, network id)."""
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'migration_driver_continue_update_interval': 1},
        'alpha': test_share_servers.backend_options(
            'alpha', '10.254.0.10', '10.254.0.99',
            delete_share_server_with_last_share=True),
        'beta': test_share_servers.backend_options(
            'beta', '10.254.0.100', '10.254.0.199', **beta)})
    net_id, _subnet_id = test_servers.make_network(pg)
    return daemon, net_id


def _server(daemon, server_id):
    return daemon.db.row('SELECT * FROM share_servers WHERE id = :i',
                         i=server_id)


def test_migration_of_a_share_on_a_share_network(fresh_db, daemon_factory,
                                                 pg_facade, share_rpc):
    """The destination host provides a server of the network; the source's last share gone, its server goes too."""
    pg = pg_facade
    daemon, net_id = _dhss_daemon(fresh_db, daemon_factory, pg)
    src = test_share_servers._create(pg, daemon, share_rpc, net_id, 'alpha')
    assert src['status'] == 'available'
    share = dict(pg.share_get(rows.admin_ctx(), src['share_id']),
                 instance=src)
    _migrate(pg, daemon, share_rpc, share, new_share_network_id=net_id)
    _wait_task(daemon, share['id'], 'migration_driver_phase1_done')
    dest = _live(daemon, share['id'])['migrating_to']
    server = _server(daemon, dest['share_server_id'])
    assert (server['host'], server['status']) == (
        daemon.pool_host('beta').split('#')[0], 'active')
    assert {ip for _label, ip in test_share_servers.allocated_ips(
        daemon, server['id'])} <= {'10.254.0.%d' % i for i in range(100, 200)}
    share_rpc.migration_complete(rows.user_ctx(), src, dest['id'])
    _wait_task(daemon, share['id'], 'migration_success')
    live = _live(daemon, share['id'])
    assert list(live) == ['available']
    assert live['available']['share_server_id'] == server['id']
    daemon.wait_for(lambda: _server(daemon, src['share_server_id'])[
        'deleted'] != 'False', timeout=30,
        message='the source server deleted with its last share')
    assert test_share_servers.allocated_ips(
        daemon, src['share_server_id']) == []


def test_destination_server_failure(fresh_db, daemon_factory, pg_facade,
                                    share_rpc):
    pg = pg_facade
    daemon, net_id = _dhss_daemon(fresh_db, daemon_factory, pg,
                                  dummy_driver_fail_methods='_setup_server')
    src = test_share_servers._create(pg, daemon, share_rpc, net_id, 'alpha')
    share = dict(pg.share_get(rows.admin_ctx(), src['share_id']),
                 instance=src)
    _migrate(pg, daemon, share_rpc, share, new_share_network_id=net_id,
             writable=True)         # no host-assisted fallback
    _wait_task(daemon, share['id'], 'migration_error')
    live = _live(daemon, share['id'])
    assert list(live) == ['available']
    assert live['available']['share_server_id'] == src['share_server_id']
    assert [m[0] for m in rows.messages(daemon, share['id'])] == ['005']
    assert 'failed on creation' in daemon.log_text()


# -- localfs: real directories move from pool alpha to pool beta ---------------

@pytest.fixture
def localfs_daemon(fresh_db, daemon_factory, tmp_path):
    """One daemon serving two localfs backends, alpha and beta (pools named alike)."""
    options = {'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                           'migration_driver_continue_update_interval': 1}}
    for name, ip in (('alpha', '127.0.0.1'), ('beta', '127.0.0.2')):
        options[name] = {
            'share_driver': 'localfs', 'share_backend_name': name,
            'driver_handles_share_servers': False,
            'localfs_pools': str(tmp_path / 'pools' / name),
            'localfs_export_ips': ip}
    return daemon_factory(fresh_db, options=options)


def _directory(daemon, instance_id):
    path = daemon.db.scalar(
        "SELECT path FROM share_instance_export_locations WHERE "
        "share_instance_id = :i AND deleted = 0", i=instance_id)
    return path.split(':', 1)[1]


def _snapshot(pg, daemon, share_rpc, share):
    """A snapshot of ``share`` taken by the daemon, waited for ``available``."""
    snap, snapinst = helpers.make_snapshot(pg, rows.admin_ctx(), share)
    share_rpc.create_snapshot(rows.user_ctx(), pg.share_get(
        rows.admin_ctx(), share['id']), snap)
    daemon.wait_for(lambda: snapshot_statuses(daemon, snap['id']) == [
        'available'], message='snapshot %s available' % snap['id'])
    return snap


def snapshot_statuses(daemon, snapshot_id):
    """Statuses of a snapshot's live instances, sorted."""
    return sorted(r['status'] for r in daemon.db.rows(
        "SELECT status FROM share_snapshot_instances WHERE snapshot_id = :s "
        "AND deleted = 'False'", s=snapshot_id))


def _localfs_phase1(pg, daemon, share_rpc, tmp_path, snapshot=False):
    """A localfs share on alpha holding a file (and a snapshot), migrated to beta up to phase1_done."""
    share = _available(pg, daemon, share_rpc)
    src_dir = _directory(daemon, share['instance']['id'])
    with open(os.path.join(src_dir, 'before.txt'), 'w') as f:
        f.write('written before the migration')
    snap = None
    if snapshot:
        snap = _snapshot(pg, daemon, share_rpc, share)
        with open(os.path.join(src_dir, 'before.txt'), 'w') as f:
            f.write('changed after the snapshot')
    _migrate(pg, daemon, share_rpc, share, writable=True,
             preserve_snapshots=snapshot)
    _wait_task(daemon, share['id'], 'migration_driver_phase1_done')
    dest = _live(daemon, share['id'])['migrating_to']
    assert os.path.isdir(src_dir)
    return share, src_dir, dest, snap


def test_localfs_migration_moves_the_data(localfs_daemon, pg_facade,
                                          share_rpc, tmp_path):
    pg, daemon = pg_facade, localfs_daemon
    share, src_dir, dest, _snap = _localfs_phase1(pg, daemon, share_rpc,
                                                  tmp_path)
    with open(os.path.join(src_dir, 'late.txt'), 'w') as f:
        f.write('written during phase 1')
    share_rpc.migration_complete(rows.user_ctx(), share['instance'],
                                 dest['id'])
    _wait_task(daemon, share['id'], 'migration_success')
    dest_dir = _directory(daemon, dest['id'])
    assert dest_dir == str(tmp_path / 'pools' / 'beta' /
                           ('share-' + dest['id']))
    for name, text in (('before.txt', 'written before the migration'),
                       ('late.txt', 'written during phase 1')):
        with open(os.path.join(dest_dir, name)) as f:
            assert f.read() == text
    assert not os.path.exists(src_dir)
    assert list(_live(daemon, share['id'])) == ['available']
    assert rows.messages(daemon, share['id']) == []


def test_localfs_migration_cancel(localfs_daemon, pg_facade, share_rpc,
                                  tmp_path):
    pg, daemon = pg_facade, localfs_daemon
    share, src_dir, dest, _snap = _localfs_phase1(pg, daemon, share_rpc,
                                                  tmp_path)
    share_rpc.migration_cancel(rows.user_ctx(), share['instance'],
                               dest['id'])
    _wait_task(daemon, share['id'], 'migration_cancelled')
    beta = tmp_path / 'pools' / 'beta'
    assert os.listdir(str(beta / '.localfs' / 'staging')) == []
    assert not os.path.exists(str(beta / ('share-' + dest['id'])))
    with open(os.path.join(src_dir, 'before.txt')) as f:
        assert f.read() == 'written before the migration'
    assert list(_live(daemon, share['id'])) == ['available']


def test_localfs_migration_takes_the_snapshots(localfs_daemon, pg_facade,
                                               share_rpc, tmp_path):
    pg, daemon = pg_facade, localfs_daemon
    share, src_dir, dest, snap = _localfs_phase1(
        pg, daemon, share_rpc, tmp_path, snapshot=True)
    share_rpc.migration_complete(rows.user_ctx(), share['instance'],
                                 dest['id'])
    _wait_task(daemon, share['id'], 'migration_success')
    snapinst = daemon.db.row(
        "SELECT * FROM share_snapshot_instances WHERE snapshot_id = :s AND "
        "deleted = 'False'", s=snap['id'])
    assert (snapinst['share_instance_id'], snapinst['status']) == (
        dest['id'], 'available')
    location = snapinst['provider_location']
    assert location.startswith(str(tmp_path / 'pools' / 'beta'))
    with open(os.path.join(location, 'before.txt')) as f:
        assert f.read() == 'written before the migration'
    with open(os.path.join(_directory(daemon, dest['id']),
                           'before.txt')) as f:
        assert f.read() == 'changed after the snapshot'
    assert not os.path.exists(src_dir)
    assert os.listdir(str(tmp_path / 'pools' / 'alpha' / '.localfs' /
                          'snapshots')) == []
