"""localfs share server migration on real directories: compatibility, the copy of every share and snapshot, cut-over, cancel, failures."""

import os

from oslo_config import cfg
from oslo_utils import uuidutils
import pytest

from manila_lite.conf import network as network_conf
from manila_lite import exception
from manila_lite.share.drivers.localfs import fsops
from tests.unit.share.drivers import localfs_helpers as lh

CONF = cfg.CONF


def _network_info(server_id, ip):
    return [{'server_id': server_id,
             'network_allocations': [{'ip_address': ip}],
             'admin_network_allocations': []}]


def _server(drv, ip):
    server_id = uuidutils.generate_uuid()
    drv._setup_server(_network_info(server_id, ip))
    return {'id': server_id, 'host': drv.backend_host}


def _dhss(localfs_factory, pools, **options):
    """A DHSS=True localfs backend on the standalone network plugin."""
    name = 'lfs_%s' % uuidutils.generate_uuid(dashed=False)[:10]
    CONF.register_opts(network_conf.standalone_network_plugin_opts,
                       group=name)
    for key, value in (('standalone_network_plugin_gateway', '10.0.0.1'),
                       ('standalone_network_plugin_mask', '24')):
        CONF.set_override(key, value, group=name)
        localfs_factory.overrides.append((key, name))
    return localfs_factory(name=name, driver_handles_share_servers=True,
                           localfs_pools=[str(p) for p in pools],
                           localfs_export_ips=[], **options)


@pytest.fixture
def pair(localfs_factory, tmp_path):
    """Two DHSS=True localfs backends sharing one private storage: source (pool a) and destination (pools a and b)."""
    src = _dhss(localfs_factory, [tmp_path / 'src' / 'a'])
    dst = _dhss(localfs_factory, [tmp_path / 'dst' / 'a', tmp_path / 'b'])
    return src, dst


def _share_on(drv, server):
    share = lh.make_share(pool='a', share_server_id=server['id'],
                          host='%s#a' % drv.backend_host)
    directory = lh.path_of(drv.create_share(None, share))
    lh.populate(directory)
    return share, directory


def _setting(src, dst):
    """A server of ``src`` holding one filled share, and a server of ``dst``."""
    server = _server(src, '10.0.0.5')
    dest_server = _server(dst, '10.0.0.7')
    share, directory = _share_on(src, server)
    return server, dest_server, share, directory


def _phase1(dst, src_server, dest_server, shares, snaps=()):
    args = (None, src_server, dest_server, list(shares), list(snaps))
    dst.share_server_migration_start(*args)
    lh.wait_copy(dst, dest_server['id'])
    assert dst.share_server_migration_continue(*args) is True
    return args


def _spec(*protos):
    return {'shares_req_spec': [{'share_properties': {'share_proto': p}}
                                for p in protos]}


def test_compatibility_is_honest(pair, localfs_factory, tmp_path):
    src, dst = pair
    server = _server(src, '10.0.0.5')
    answer = dst.share_server_migration_check_compatibility(
        None, server, dst.backend_host, {'id': 'n1'}, {'id': 'n2'},
        _spec('NFS'))
    assert answer == {'compatible': True, 'writable': True,
                      'preserve_snapshots': True, 'nondisruptive': False,
                      'migration_cancel': True,
                      'migration_get_progress': True,
                      'share_network_id': 'n2'}
    flat = localfs_factory(localfs_pools=[str(tmp_path / 'flat')])
    nfs_only = _dhss(localfs_factory, [tmp_path / 'n'],
                     localfs_enabled_share_protocols=['NFS'])
    refused = [
        (dst, server, src.backend_host, _spec('NFS')),  # not this backend
        (dst, dict(server, host='elsewhere@x'), dst.backend_host,
         _spec('NFS')),
        (dst, dict(server, host=flat.backend_host), dst.backend_host,
         _spec('NFS')),
        (nfs_only, server, nfs_only.backend_host, _spec('CIFS')),
        (flat, server, flat.backend_host, _spec('NFS')),  # DHSS=False
    ]
    for drv, srv, host, spec in refused:
        answer = drv.share_server_migration_check_compatibility(
            None, srv, host, {'id': 'n1'}, {'id': 'n2'}, spec)
        assert answer['compatible'] is False, (srv['host'], host)
        assert not any(answer[k] for k in (
            'writable', 'preserve_snapshots', 'nondisruptive',
            'migration_cancel', 'migration_get_progress'))


def test_server_migration_moves_every_share_and_snapshot(pair, tmp_path):
    src, dst = pair
    server = _server(src, '10.0.0.5')
    dest_server = _server(dst, '10.0.0.7')
    (one, one_dir), (two, two_dir) = [_share_on(src, server)
                                      for _ in range(2)]
    rule = lh.rule()
    src.update_access(None, one, [rule], [], [])
    snapshot = lh.make_snapshot(one)
    src.create_snapshot(None, snapshot)
    snap_dir = src.registry.get(snapshot['id']).path
    before = lh.tree(one_dir)
    args = _phase1(dst, server, dest_server, [one, two], [snapshot])
    assert dst.share_server_migration_get_progress(*args) == {
        'total_progress': 100}
    # the source stays writable; what changes before cut-over is synced
    with open(os.path.join(one_dir, 'late.txt'), 'w') as f:
        f.write('written during phase 1')
    answer = dst.share_server_migration_complete(*args, _network_info(
        dest_server['id'], '10.0.0.7'))
    namespace = tmp_path / 'dst' / 'a' / ('server-' + dest_server['id'])
    final = str(namespace / one['name'])
    assert lh.tree(final) == dict(before, **{'late.txt': lh.tree(final)[
        'late.txt']})
    with open(os.path.join(final, 'late.txt')) as f:
        assert f.read() == 'written during phase 1'
    assert os.path.isdir(str(namespace / two['name']))
    for gone in (one_dir, two_dir, snap_dir):
        assert not os.path.exists(gone)
    assert set(answer['share_updates']) == {one['id'], two['id']}
    update = answer['share_updates'][one['id']]
    assert update['pool_name'] == 'a'
    assert [loc['path'] for loc in update['export_locations']] == [
        '10.0.0.7:%s' % final]
    snap_update = answer['snapshot_updates'][snapshot['id']]
    assert snap_update['provider_location'] == str(
        namespace / '.localfs' / 'snapshots' / os.path.basename(snap_dir))
    assert os.listdir(str(namespace / '.localfs' / 'staging')) == []
    # the rule now exports the new directory in the destination server's
    # file; the source server's file exports nothing any more
    dest_file = dst.writer.server_files(dest_server['id'])[0]
    with open(dest_file) as f:
        assert '%s %s(rw' % (final, rule['access_to']) in f.read()
    with open(src.writer.server_files(server['id'])[0]) as f:
        assert one_dir not in f.read()
    assert dst.registry.get(one['id']).server == dest_server['id']
    # the source backend tears its (stale in memory) server down
    src._teardown_server({'server_id': server['id']})
    assert not os.path.exists(str(tmp_path / 'src' / 'a' /
                                  ('server-' + server['id'])))


def test_server_migration_within_one_backend(pair, tmp_path):
    _src, dst = pair
    server = _server(dst, '10.0.0.5')
    dest_server = _server(dst, '10.0.0.7')
    share, directory = _share_on(dst, server)
    args = _phase1(dst, server, dest_server, [share])
    answer = dst.share_server_migration_complete(*args, [])
    final = str(tmp_path / 'dst' / 'a' / ('server-' + dest_server['id']) /
                share['name'])
    assert answer['share_updates'][share['id']]['export_locations'][0][
        'path'] == '10.0.0.7:' + final
    assert not os.path.exists(directory)
    assert dst.registry.get(share['id']).path == final
    dst._teardown_server({'server_id': server['id']})


def test_cancel_removes_the_copies_and_leaves_the_source(pair, tmp_path):
    src, dst = pair
    server, dest_server, share, directory = _setting(src, dst)
    before = lh.tree(directory)
    args = _phase1(dst, server, dest_server, [share])
    dst.share_server_migration_cancel(*args)
    namespace = tmp_path / 'dst' / 'a' / ('server-' + dest_server['id'])
    assert os.listdir(str(namespace / '.localfs' / 'staging')) == []
    assert not os.path.exists(str(namespace / share['name']))
    assert lh.tree(directory) == before
    assert src.registry.get(share['id']).path == directory
    with pytest.raises(exception.ShareBackendException):
        dst.share_server_migration_complete(*args, [])


def test_a_failed_copy_is_reported_and_cleaned(pair, tmp_path, monkeypatch):
    src, dst = pair
    server, dest_server, share, _directory = _setting(src, dst)
    args = (None, server, dest_server, [share], [])

    def broken(*_a, **_k):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(fsops, 'copy_tree', broken)
    dst.share_server_migration_start(*args)
    lh.wait_copy(dst, dest_server['id'])
    with pytest.raises(exception.ShareBackendException, match='no space left'):
        dst.share_server_migration_continue(*args)
    namespace = tmp_path / 'dst' / 'a' / ('server-' + dest_server['id'])
    assert os.listdir(str(namespace / '.localfs' / 'staging')) == []


def test_an_existing_destination_directory_is_refused(pair, tmp_path):
    src, dst = pair
    server, dest_server, share, _directory = _setting(src, dst)
    os.makedirs(str(tmp_path / 'dst' / 'a' / ('server-' + dest_server['id'])
                    / share['name']))
    with pytest.raises(exception.ShareBackendException,
                       match='already exists'):
        dst.share_server_migration_start(None, server, dest_server, [share],
                                         [])
    assert dst.jobs.get(dest_server['id']) is None


def test_a_share_on_a_server_migrates_to_a_server(pair, tmp_path):
    """Share migration (DHSS=True): the source backend copies the share into the destination server's namespace."""
    src, dst = pair
    server, dest_server, share, directory = _setting(src, dst)
    before = lh.tree(directory)
    dest = lh.make_share(pool='b', share_server_id=dest_server['id'],
                         host='%s#b' % dst.backend_host)
    servers = {'share_server': server,
               'destination_share_server': dest_server}
    assert src.migration_check_compatibility(
        None, share, dest, **servers)['compatible'] is True
    for refused in ({'share_server': server},
                    {'destination_share_server': dest_server},
                    dict(servers, destination_share_server={
                        'id': uuidutils.generate_uuid()})):
        assert src.migration_check_compatibility(
            None, share, dest, **refused)['compatible'] is False, refused
    args = (None, share, dest, [], {})
    src.migration_start(*args, **servers)
    lh.wait_copy(src, dest['id'])
    assert src.migration_continue(*args, **servers) is True
    answer = src.migration_complete(*args, **servers)
    final = str(tmp_path / 'b' / ('server-' + dest_server['id']) /
                dest['name'])
    assert [loc['path'] for loc in answer['export_locations']] == [
        '10.0.0.7:%s' % final]
    assert lh.tree(final) == before
    assert not os.path.exists(directory)
    # the destination backend serves it on its server's addresses
    assert dst.ensure_share(None, dest)[0]['path'] == '10.0.0.7:' + final
    src._teardown_server({'server_id': server['id']})
