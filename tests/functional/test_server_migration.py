"""Share server migration through the real daemon, RabbitMQ and PostgreSQL: dummy servers alpha to beta, failure, cancel; localfs data moving."""

import os

import pytest

from tests.functional import share_rows as rows
from tests.functional import test_share_servers as ts
from tests.unit.share import test_servers

pytestmark = pytest.mark.functional


def _daemon(fresh_db, daemon_factory, **beta):
    """One daemon serving DHSS backends alpha (source) and beta (destination, with ``beta`` options)."""
    return daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'server_migration_driver_continue_update_interval': 1},
        'alpha': ts.backend_options('alpha', '10.254.0.10', '10.254.0.99'),
        'beta': ts.backend_options('beta', '10.254.0.100', '10.254.0.199',
                                   **beta)})


def _server_with_a_share(pg, daemon, share_rpc):
    net_id, _subnet = test_servers.make_network(pg)
    inst = ts._create(pg, daemon, share_rpc, net_id, 'alpha')
    assert inst['status'] == 'available'
    return inst, net_id


def _host(daemon, backend):
    return daemon.pool_host(backend).split('#')[0]


def _start(pg, daemon, share_rpc, inst, net_id, **flags):
    """What upstream's API does: source server and instance server_migrating, cast to the destination host."""
    ctx = rows.admin_ctx()
    server_id = inst['share_server_id']
    pg.share_server_update(ctx, server_id, {
        'status': 'server_migrating', 'task_state': 'migration_starting'})
    pg.share_instance_update(ctx, inst['id'], {'status': 'server_migrating'})
    args = dict(writable=True, nondisruptive=False, preserve_snapshots=True)
    args.update(flags)
    share_rpc.share_server_migration_start(
        rows.user_ctx(), {'id': server_id}, _host(daemon, 'beta'),
        new_share_network_id=net_id, **args)
    return server_id


def _server(daemon, server_id):
    return daemon.db.row('SELECT * FROM share_servers WHERE id = :i',
                         i=server_id)


def _wait_task(daemon, server_id, *task_states, timeout=60):
    daemon.wait_for(
        lambda: _server(daemon, server_id)['task_state'] in task_states,
        timeout=timeout, message='server %s never %s' % (server_id,
                                                         task_states))
    return _server(daemon, server_id)


def _dest(daemon, server_id):
    return daemon.db.row(
        "SELECT * FROM share_servers WHERE source_share_server_id = :s "
        "ORDER BY created_at DESC LIMIT 1", s=server_id)


def test_server_migration_to_another_backend(fresh_db, pg_facade,
                                             daemon_factory, share_rpc):
    pg = pg_facade
    daemon = _daemon(fresh_db, daemon_factory)
    inst, net_id = _server_with_a_share(pg, daemon, share_rpc)
    check = share_rpc.share_server_migration_check(
        rows.user_ctx(), inst['share_server_id'], _host(daemon, 'beta'),
        True, False, True, net_id)
    assert check['compatible'] is True
    server_id = _start(pg, daemon, share_rpc, inst, net_id)
    _wait_task(daemon, server_id, 'migration_driver_phase1_done')
    dest = _dest(daemon, server_id)
    assert (dest['status'], dest['host']) == ('server_migrating_to',
                                              _host(daemon, 'beta'))
    assert [ip for label, ip in ts.allocated_ips(daemon, dest['id'])
            if label == 'user'][0].startswith('10.254.0.1')
    share_rpc.share_server_migration_complete(
        rows.user_ctx(), _host(daemon, 'beta'), {'id': server_id},
        {'id': dest['id']})
    daemon.wait_for(lambda: _server(daemon, dest['id'])['status'] == 'active',
                    timeout=60, message='destination server active')
    assert _server(daemon, dest['id'])['task_state'] == 'migration_success'
    moved = rows.instance(daemon, inst['share_id'])
    assert (moved['status'], moved['share_server_id']) == ('available',
                                                           dest['id'])
    assert moved['host'].startswith(_host(daemon, 'beta'))
    # the source's own service deletes it, allocations too
    daemon.wait_for(lambda: _server(daemon, server_id)['deleted'] != 'False',
                    timeout=60, message='source server deleted')
    assert ts.allocated_ips(daemon, server_id) == []


def test_server_migration_driver_failure_and_cancel(fresh_db, pg_facade,
                                                    daemon_factory,
                                                    share_rpc):
    pg = pg_facade
    daemon = _daemon(fresh_db, daemon_factory,
                     dummy_driver_fail_methods='share_server_migration_start')
    inst, net_id = _server_with_a_share(pg, daemon, share_rpc)
    server_id = _start(pg, daemon, share_rpc, inst, net_id)
    failed = _wait_task(daemon, server_id, 'migration_error')
    assert failed['status'] == 'active'
    assert rows.instance(daemon, inst['share_id'])['status'] == 'available'
    assert ('005', 'SHARE') in [(m[0], m[2]) for m in
                                rows.messages(daemon, inst['share_id'])]
    daemon.wait_for(lambda: _dest(daemon, server_id)['deleted'] != 'False',
                    timeout=60, message='failed destination removed')


def test_server_migration_cancel(fresh_db, pg_facade, daemon_factory,
                                 share_rpc):
    pg = pg_facade
    daemon = _daemon(fresh_db, daemon_factory)
    inst, net_id = _server_with_a_share(pg, daemon, share_rpc)
    server_id = _start(pg, daemon, share_rpc, inst, net_id)
    _wait_task(daemon, server_id, 'migration_driver_in_progress',
               'migration_driver_phase1_done')
    dest = _dest(daemon, server_id)
    share_rpc.share_server_migration_cancel(
        rows.user_ctx(), _host(daemon, 'beta'), {'id': server_id},
        {'id': dest['id']})
    cancelled = _wait_task(daemon, server_id, 'migration_cancelled')
    assert cancelled['status'] == 'active'
    assert rows.instance(daemon, inst['share_id'])['status'] == 'available'
    daemon.wait_for(lambda: _server(daemon, dest['id'])['deleted'] != 'False',
                    timeout=60, message='cancelled destination removed')
    assert ts.allocated_ips(daemon, dest['id']) == []


# -- localfs: real directories move from server to server ----------------------

def _localfs_daemon(fresh_db, daemon_factory, tmp_path):
    """One daemon serving two DHSS=True localfs backends, alpha and beta."""
    def backend(name, first, last):
        return ts.backend_options(
            name, first, last, share_driver='localfs',
            localfs_pools=str(tmp_path / 'pools' / name),
            localfs_export_ips='',
            localfs_exports_file=str(tmp_path / ('%s.exports' % name)),
            localfs_apply_samba_config=False)
    return daemon_factory(fresh_db, options={
        'DEFAULT': {'enabled_share_backends': 'alpha,beta',
                    'server_migration_driver_continue_update_interval': 1,
                    'migration_driver_continue_update_interval': 1},
        'alpha': backend('alpha', '10.254.0.10', '10.254.0.99'),
        'beta': backend('beta', '10.254.0.100', '10.254.0.199')})


def _export_paths(daemon, instance_id):
    return sorted(r['path'] for r in daemon.db.rows(
        "SELECT path FROM share_instance_export_locations WHERE "
        "share_instance_id = :i AND deleted = 0", i=instance_id))


def _copies_of(root, instance_id):
    """Every directory under ``root`` named after the instance (share or staged copy)."""
    return [os.path.join(d, n) for d, dirs, _f in os.walk(str(root))
            for n in dirs if instance_id in n]


def test_localfs_server_migration_cancel_then_complete_then_share(
        fresh_db, pg_facade, daemon_factory, share_rpc, tmp_path):
    pg = pg_facade
    daemon = _localfs_daemon(fresh_db, daemon_factory, tmp_path)
    inst, net_id = _server_with_a_share(pg, daemon, share_rpc)
    server_id = inst['share_server_id']
    src_dir = _export_paths(daemon, inst['id'])[0].split(':', 1)[1]
    assert src_dir.startswith(str(tmp_path / 'pools' / 'alpha'))
    with open(os.path.join(src_dir, 'before.txt'), 'w') as f:
        f.write('written before the migration')
    beta = tmp_path / 'pools' / 'beta'

    # cancel: the copies go, the source is untouched
    _start(pg, daemon, share_rpc, inst, net_id)
    _wait_task(daemon, server_id, 'migration_driver_phase1_done')
    cancelled = _dest(daemon, server_id)
    assert _copies_of(beta, inst['id'])
    share_rpc.share_server_migration_cancel(
        rows.user_ctx(), _host(daemon, 'beta'), {'id': server_id},
        {'id': cancelled['id']})
    assert _wait_task(daemon, server_id,
                      'migration_cancelled')['status'] == 'active'
    daemon.wait_for(
        lambda: _server(daemon, cancelled['id'])['deleted'] != 'False',
        timeout=60, message='cancelled destination removed')
    assert _copies_of(beta, inst['id']) == []
    with open(os.path.join(src_dir, 'before.txt')) as f:
        assert f.read() == 'written before the migration'
    assert rows.instance(daemon, inst['share_id'])['status'] == 'available'

    # complete: the data is in the destination server's namespace
    _start(pg, daemon, share_rpc, inst, net_id)
    _wait_task(daemon, server_id, 'migration_driver_phase1_done')
    with open(os.path.join(src_dir, 'late.txt'), 'w') as f:
        f.write('written during phase 1')
    dest = _dest(daemon, server_id)
    share_rpc.share_server_migration_complete(
        rows.user_ctx(), _host(daemon, 'beta'), {'id': server_id},
        {'id': dest['id']})
    daemon.wait_for(lambda: _server(daemon, dest['id'])['status'] == 'active',
                    timeout=60, message='destination server active')
    moved = rows.instance(daemon, inst['share_id'])
    assert (moved['status'], moved['share_server_id'], moved['host']) == (
        'available', dest['id'], _host(daemon, 'beta') + '#beta')
    dest_dir = beta / ('server-' + dest['id']) / ('share-' + inst['id'])
    for name, text in (('before.txt', 'written before the migration'),
                       ('late.txt', 'written during phase 1')):
        assert (dest_dir / name).read_text() == text
    assert not os.path.exists(src_dir)
    ips = [ip for _label, ip in ts.allocated_ips(daemon, dest['id'])]
    assert _export_paths(daemon, inst['id']) == sorted(
        '%s:%s' % (ip, dest_dir) for ip in ips)
    # the source's own service tears its server down, namespace too
    daemon.wait_for(lambda: _server(daemon, server_id)['deleted'] != 'False',
                    timeout=60, message='source server deleted')
    assert not (tmp_path / 'pools' / 'alpha' /
                ('server-' + server_id)).exists()
    assert rows.messages(daemon, inst['share_id']) == []

    # the share alone migrates back to a new server of alpha (driver-assisted
    # share migration between DHSS=True localfs backends)
    _share_back_to_alpha(pg, daemon, share_rpc, tmp_path, moved, net_id)


def _share_task(daemon, share_id):
    return rows.share_row(daemon, share_id)['task_state']


def _share_back_to_alpha(pg, daemon, share_rpc, tmp_path, src, net_id):
    ctx = rows.admin_ctx()
    src_dir = _export_paths(daemon, src['id'])[0].split(':', 1)[1]
    pg.share_update(ctx, src['share_id'], {'task_state': 'migration_starting'})
    pg.share_instance_update(ctx, src['id'], {'status': 'migrating'})
    share_rpc.migration_start(
        rows.user_ctx(), pg.share_get(ctx, src['share_id']),
        daemon.pool_host('alpha'), force_host_assisted_migration=False,
        preserve_metadata=False, writable=True, nondisruptive=False,
        preserve_snapshots=False, new_share_network_id=net_id,
        new_share_type_id=None)
    daemon.wait_for(lambda: _share_task(daemon, src['share_id']) ==
                    'migration_driver_phase1_done', timeout=60,
                    message='share migration phase 1 done')
    dest = daemon.db.row(
        "SELECT * FROM share_instances WHERE share_id = :s AND status = "
        "'migrating_to' AND deleted = 'False'", s=src['share_id'])
    share_rpc.migration_complete(rows.user_ctx(), src, dest['id'])
    daemon.wait_for(lambda: _share_task(daemon, src['share_id']) ==
                    'migration_success', timeout=60,
                    message='share migration success')
    back = rows.instance(daemon, src['share_id'])
    assert (back['id'], back['status']) == (dest['id'], 'available')
    assert _server(daemon, back['share_server_id'])['host'] == _host(
        daemon, 'alpha')
    dest_dir = (tmp_path / 'pools' / 'alpha' /
                ('server-' + back['share_server_id']) / ('share-' + back['id']))
    assert (dest_dir / 'late.txt').read_text() == 'written during phase 1'
    assert not os.path.exists(src_dir)
    ips = [ip for _l, ip in ts.allocated_ips(daemon, back['share_server_id'])]
    assert _export_paths(daemon, back['id']) == sorted(
        '%s:%s' % (ip, dest_dir) for ip in ips)
