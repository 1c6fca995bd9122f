"""localfs in DHSS=True mode through the share manager (SQLite): each share server a namespace in every pool, exported on its own addresses."""

import os

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share.drivers.localfs import driver as localfs_driver
from tests.unit.share import helpers
from tests.unit.share import test_servers


@pytest.fixture
def localfs_dhss(manager_factory, tmp_path):
    def build(**options):
        values = helpers.dhss_options(
            share_driver='localfs',
            localfs_pools=[str(tmp_path / 'pools' / 'alpha'),
                           str(tmp_path / 'pools' / 'beta')],
            localfs_export_ips=[],
            localfs_exports_file=str(tmp_path / 'alpha.exports'),
            localfs_samba_include_file=str(tmp_path / 'alpha-smb.conf'),
            localfs_apply_samba_config=False)
        values.update(options)
        return manager_factory(**values)
    return build


def _create(mgr, db, ctx, net_id, pool='alpha', proto='NFS'):
    _share, inst = helpers.make_share(db, ctx, host='%s#%s' % (mgr.host, pool),
                                      share_network_id=net_id,
                                      share_proto=proto)
    mgr.create_share_instance(ctx, inst['id'])
    return db.share_instance_get(ctx, inst['id'], with_share_data=True)


def _paths(inst):
    return sorted(el['path'] for el in inst['export_locations'])


def _read(path):
    with open(path) as f:
        return f.read()


def test_server_is_a_namespace_with_its_own_addresses(localfs_dhss, db,
                                                      admin_ctx, tmp_path):
    mgr = localfs_dhss()
    assert mgr.driver.driver_handles_share_servers is True
    net_id, _subnet = test_servers.make_network(db)
    first = _create(mgr, db, admin_ctx, net_id)
    assert first['status'] == c.STATUS_AVAILABLE
    server = db.share_server_get(admin_ctx, first['share_server_id'])
    assert server['status'] == c.STATUS_ACTIVE
    sid = server['id']
    assert test_servers.allocations(db, admin_ctx, sid, 'user') == [
        '10.254.0.10']
    assert test_servers.allocations(db, admin_ctx, sid, 'admin') == [
        '10.254.0.11']
    details = server['backend_details']
    assert (details['export_ips'], details['admin_ips']) == (
        '10.254.0.10', '10.254.0.11')
    for pool in ('alpha', 'beta'):
        assert os.path.isdir(tmp_path / 'pools' / pool / ('server-' + sid)
                             / '.localfs' / 'snapshots')
    directory = str(tmp_path / 'pools' / 'alpha' / ('server-' + sid)
                    / first['name'])
    assert os.path.isdir(directory)
    assert _paths(first) == ['10.254.0.10:%s' % directory,
                             '10.254.0.11:%s' % directory]
    # a second share, in the other pool, is on the same server
    second = _create(mgr, db, admin_ctx, net_id, pool='beta')
    assert second['share_server_id'] == sid
    assert os.path.isdir(tmp_path / 'pools' / 'beta' / ('server-' + sid)
                         / second['name'])
    pools = mgr.driver.get_share_server_pools(server)
    assert sorted(p['pool_name'] for p in pools) == ['alpha', 'beta']


def test_access_goes_to_the_server_files(localfs_dhss, db, admin_ctx,
                                         tmp_path):
    mgr = localfs_dhss()
    net_id, _subnet = test_servers.make_network(db)
    inst = _create(mgr, db, admin_ctx, net_id)
    cifs = _create(mgr, db, admin_ctx, net_id, proto='CIFS')
    sid = inst['share_server_id']
    assert _paths(cifs)[0] == '\\\\10.254.0.10\\%s' % cifs['name']
    drv = mgr.driver
    share = {'id': inst['id'], 'share_proto': 'NFS', 'name': inst['name'],
             'host': inst['host'], 'share_server_id': sid}
    rule = {'access_id': 'r1', 'access_type': 'ip',
            'access_to': '192.0.2.5', 'access_level': 'rw'}
    drv.update_access(admin_ctx, share, [rule], [rule], [])
    cifs_share = dict(share, id=cifs['id'], name=cifs['name'],
                      share_proto='CIFS')
    drv.update_access(admin_ctx, cifs_share, [rule], [rule], [])
    nfs_file, smb_file = drv.writer.server_files(sid)
    server_exports = _read(nfs_file)
    assert '10.254.0.10' in server_exports.splitlines()[2]
    assert '192.0.2.5(rw' in server_exports
    assert '192.0.2.5' not in _read(tmp_path / 'alpha.exports')
    assert '[%s]' % cifs['name'] in _read(smb_file)
    assert 'include = %s' % smb_file in _read(tmp_path / 'alpha-smb.conf')


def test_snapshots_and_clones_stay_in_the_namespace(localfs_dhss, db,
                                                    admin_ctx, tmp_path):
    mgr = localfs_dhss()
    net_id, _subnet = test_servers.make_network(db)
    inst = _create(mgr, db, admin_ctx, net_id)
    sid = inst['share_server_id']
    namespace = tmp_path / 'pools' / 'alpha' / ('server-' + sid)
    with open(namespace / inst['name'] / 'data', 'w') as f:
        f.write('kept')
    share = db.share_get(admin_ctx, inst['share_id'])
    snap, _snap_inst = helpers.make_snapshot(db, admin_ctx, share)
    mgr.create_snapshot(admin_ctx, share_id=inst['share_id'],
                        snapshot_id=snap['id'])
    snap = db.share_snapshot_get(admin_ctx, snap['id'])
    assert snap['status'] == c.STATUS_AVAILABLE
    snap_dir = snap.instance['provider_location']
    assert snap_dir.startswith(str(namespace / '.localfs' / 'snapshots'))
    _share, clone = helpers.make_share(
        db, admin_ctx, host=inst['host'], share_network_id=net_id,
        snapshot_id=snap['id'])
    mgr.create_share_instance(admin_ctx, clone['id'],
                              snapshot_id=snap['id'])
    clone = db.share_instance_get(admin_ctx, clone['id'],
                                  with_share_data=True)
    assert clone['status'] == c.STATUS_AVAILABLE
    assert clone['share_server_id'] == sid
    assert _read(namespace / clone['name'] / 'data') == 'kept'


def _delete_all(mgr, db, ctx, insts):
    for inst in insts:
        db.share_instance_update(ctx, inst['id'],
                                 {'status': c.STATUS_DELETING})
        mgr.delete_share_instance(ctx, inst['id'])


def test_server_deletion_removes_namespace_and_files(localfs_dhss, db,
                                                     admin_ctx, tmp_path):
    mgr = localfs_dhss(automatic_share_server_cleanup=False)
    net_id, _subnet = test_servers.make_network(db)
    inst = _create(mgr, db, admin_ctx, net_id)
    sid = inst['share_server_id']
    namespaces = [tmp_path / 'pools' / p / ('server-' + sid)
                  for p in ('alpha', 'beta')]
    files = mgr.driver.writer.server_files(sid)
    assert all(os.path.exists(f) for f in files)
    _delete_all(mgr, db, admin_ctx, [inst])
    # something left in a namespace by hand: the teardown refuses
    stray = namespaces[1] / 'stray.txt'
    stray.write_text('not the driver\'s')
    server = db.share_server_get(admin_ctx, sid)
    with pytest.raises(messaging.ExpectedException) as raised:
        mgr.delete_share_server(admin_ctx, dict(server.to_dict()))
    assert isinstance(helpers.unwrap(raised),
                      exception.ShareBackendException)
    assert db.share_server_get(admin_ctx, sid)['status'] == c.STATUS_ERROR
    assert stray.exists()
    stray.unlink()
    db.share_server_update(admin_ctx, sid, {'status': c.STATUS_ACTIVE})
    mgr.delete_share_server(admin_ctx, dict(
        db.share_server_get(admin_ctx, sid).to_dict()))
    assert not any(ns.exists() for ns in namespaces)
    assert not any(os.path.exists(f) for f in files)
    assert test_servers.allocations(db, admin_ctx, sid) == []
    assert 'include' not in _read(tmp_path / 'alpha-smb.conf')


def test_server_files_rebuilt_at_start(localfs_dhss, db, admin_ctx):
    mgr = localfs_dhss()
    net_id, _subnet = test_servers.make_network(db)
    inst = _create(mgr, db, admin_ctx, net_id)
    sid = inst['share_server_id']
    drv = mgr.driver
    share = {'id': inst['id'], 'share_proto': 'NFS', 'name': inst['name'],
             'host': inst['host'], 'share_server_id': sid}
    rule = {'access_id': 'r1', 'access_type': 'ip',
            'access_to': '192.0.2.9', 'access_level': 'ro'}
    drv.update_access(admin_ctx, share, [rule], [rule], [])
    nfs_file, _smb = drv.writer.server_files(sid)
    os.unlink(nfs_file)
    again = localfs_driver.LocalFSDriver(
        configuration=drv.configuration,
        private_storage=drv.private_storage)
    again.do_setup(admin_ctx)
    assert '192.0.2.9(ro' in _read(nfs_file)
    assert again.ensure_shares(admin_ctx, [share])[inst['id']][
        'export_locations'][0]['path'].startswith('10.254.0.10:')


def test_a_server_unknown_to_the_driver_is_refused(localfs_dhss, db,
                                                   admin_ctx, tmp_path):
    mgr = localfs_dhss()
    share = {'id': 'i-1', 'share_proto': 'NFS', 'name': 'share-i-1',
             'host': mgr.host + '#alpha', 'size': 1,
             'share_server_id': 'no-such-server'}
    with pytest.raises(exception.ShareBackendException,
                       match='not set up'):
        mgr.driver.create_share(admin_ctx, share)
    assert not (tmp_path / 'pools' / 'alpha' / 'server-no-such-server'
                ).exists()


def test_unmanaged_server_stays_on_disk_and_is_adopted_again(
        localfs_dhss, db, admin_ctx, tmp_path):
    from tests.unit.share import test_server_manage as tsm
    # the servers helpers place shares in a pool named 'pool'
    mgr = localfs_dhss(localfs_pools=[
        str(tmp_path / 'pools' / name) for name in ('alpha', 'beta', 'pool')])
    subnet_id, old, old_ips = tsm.unmanaged_server(mgr, db, admin_ctx)
    old_ns = tmp_path / 'pools' / 'alpha' / ('server-' + old['id'])
    assert (old_ns / '.localfs' / 'server.json').exists()
    new_id = tsm.managing_row(mgr, db, admin_ctx, subnet_id, old['id'])
    mgr.manage_share_server(admin_ctx, new_id, old['id'], {})
    server = db.share_server_get(admin_ctx, new_id)
    assert (server['status'], server['identifier']) == (c.STATUS_ACTIVE,
                                                        new_id)
    assert not old_ns.exists()
    for pool in ('alpha', 'beta'):
        assert (tmp_path / 'pools' / pool / ('server-' + new_id)).is_dir()
    nfs_file, _smb = mgr.driver.writer.server_files(new_id)
    assert old_ips[0] in _read(nfs_file)
    # a share created on it lives in the adopted namespace
    inst = _create(mgr, db, admin_ctx, db.share_network_subnet_get(
        admin_ctx, subnet_id)['share_network_id'])
    assert inst['share_server_id'] == new_id
    assert _paths(inst)[0].split(':', 1)[1].startswith(
        str(tmp_path / 'pools' / 'alpha' / ('server-' + new_id)))
