"""localfs driver-assisted migration on real directories: compatibility, phase-1 copy, final sync, snapshots, cancel, a lost copy."""

import errno
import os

from oslo_config import cfg
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share.drivers.localfs import fsops
from tests.unit.share.drivers import localfs_helpers as lh
from tests.unit.share import helpers


@pytest.fixture
def pair(localfs_factory, tmp_path):
    """Two localfs backends on this machine sharing one private storage: source (pool a) and destination (pools b, c)."""
    src = localfs_factory(localfs_pools=[str(tmp_path / 'a')],
                          localfs_export_ips=['192.0.2.10'])
    dst = localfs_factory(localfs_pools=[str(tmp_path / 'b'),
                                         str(tmp_path / 'c')],
                          localfs_export_ips=['192.0.2.20'],
                          localfs_admin_export_ips=['192.0.2.21'])
    return src, dst


def _share(drv, pool, **extra):
    share = lh.make_share(pool=pool, **extra)
    share['host'] = '%s#%s' % (drv.backend_host, pool)
    return share


def _source(src):
    share = _share(src, 'a')
    directory = lh.path_of(src.create_share(None, share))
    lh.populate(directory)
    return share, directory


def _phase1(src, share, dest, snaps=(), mappings=None):
    args = (None, share, dest, list(snaps), mappings or {})
    src.migration_start(*args)
    lh.wait_copy(src, dest['id'])
    assert src.migration_continue(*args) is True
    return args


def test_compatibility_is_honest(pair):
    src, dst = pair
    share, _directory = _source(src)
    answer = src.migration_check_compatibility(None, share,
                                               _share(dst, 'b'))
    assert answer == {'compatible': True, 'writable': True,
                      'preserve_snapshots': True, 'nondisruptive': False,
                      'preserve_metadata': False}
    # a pool of its own backend is a destination too
    assert src.migration_check_compatibility(
        None, share, _share(src, 'a'))['compatible'] is True
    for dest, server in ((_share(dst, 'nope'), None),
                         (dict(_share(dst, 'b'), host='elsewhere@x#b'), None),
                         (_share(dst, 'b'), {'id': 'server'})):
        answer = src.migration_check_compatibility(None, share, dest,
                                                   share_server=server)
        assert answer['compatible'] is False, dest['host']
        assert not any(answer.values())


def test_cifs_share_needs_a_cifs_destination(pair, localfs_factory,
                                             tmp_path):
    src, _dst = pair
    nfs_only = localfs_factory(localfs_pools=[str(tmp_path / 'n')],
                               localfs_enabled_share_protocols=['NFS'])
    share = _share(src, 'a', proto='CIFS')
    src.create_share(None, share)
    assert src.migration_check_compatibility(
        None, share, _share(nfs_only, 'n'))['compatible'] is False


def test_migration_to_another_backend(pair, tmp_path):
    src, dst = pair
    share, directory = _source(src)
    src.update_access(None, share, [lh.rule()], [], [])
    before = lh.tree(directory)
    dest = _share(dst, 'c')
    args = _phase1(src, share, dest)
    assert src.migration_get_progress(*args) == {'total_progress': 100}
    # the source stays writable; what changes before cut-over is synced
    with open(os.path.join(directory, 'late.txt'), 'w') as f:
        f.write('written during phase 1')
    os.unlink(os.path.join(directory, 'link-to-a'))
    answer = src.migration_complete(*args)
    final = str(tmp_path / 'c' / dest['name'])
    assert not os.path.exists(directory)
    expected = dict(before, **{'late.txt': (
        'file', b'written during phase 1', 0o644)})
    del expected['link-to-a']
    got = lh.tree(final)
    assert set(got) == set(expected)
    assert got['late.txt'][:2] == expected['late.txt'][:2]
    assert got['docs/deep/b.bin'] == before['docs/deep/b.bin']
    assert [(loc['path'], loc['is_admin_only'])
            for loc in answer['export_locations']] == [
        ('192.0.2.20:%s' % final, False), ('192.0.2.21:%s' % final, True)]
    assert answer['snapshot_updates'] == {}
    assert os.listdir(str(tmp_path / 'c' / '.localfs' / 'staging')) == []
    # the source backend forgot the share and unexported it
    assert src.registry.get(share['id']) is None
    with open(src._exports_file) as f:
        assert directory not in f.read()
    # the destination backend adopts it from private storage at start-up
    dst.registry.load()
    assert dst.registry.get(dest['id']).path == final
    assert dst.ensure_share(None, dest)[0]['path'] == '192.0.2.20:' + final


def test_snapshots_go_along(pair, tmp_path):
    src, dst = pair
    share, directory = _source(src)
    snapshot = lh.make_snapshot(share)
    src.create_snapshot(None, snapshot)
    with open(os.path.join(directory, 'a.txt'), 'w') as f:
        f.write('after the snapshot\n')
    dest = _share(dst, 'b')
    dest_snap = lh.make_snapshot(dest)
    args = _phase1(src, share, dest, [snapshot],
                   {snapshot['id']: dest_snap})
    answer = src.migration_complete(*args)
    update = answer['snapshot_updates'][dest_snap['id']]
    snap_dir = str(tmp_path / 'b' / '.localfs' / 'snapshots' /
                   dest_snap['name'])
    assert update['provider_location'] == snap_dir
    with open(os.path.join(snap_dir, 'a.txt')) as f:
        assert f.read() == 'alpha\n'
    with open(os.path.join(str(tmp_path / 'b' / dest['name']),
                           'a.txt')) as f:
        assert f.read() == 'after the snapshot\n'
    assert os.listdir(str(tmp_path / 'a' / '.localfs' / 'snapshots')) == []
    # the destination reverts to the migrated snapshot
    dst.registry.load()
    dst.revert_to_snapshot(None, dict(dest_snap, share=dest), [], [])
    with open(os.path.join(str(tmp_path / 'b' / dest['name']),
                           'a.txt')) as f:
        assert f.read() == 'alpha\n'


def test_cancel_removes_the_copies_and_keeps_the_source(pair, tmp_path):
    src, dst = pair
    share, directory = _source(src)
    snapshot = lh.make_snapshot(share)
    src.create_snapshot(None, snapshot)
    before = lh.tree(directory)
    dest = _share(dst, 'b')
    dest_snap = lh.make_snapshot(dest)
    args = _phase1(src, share, dest, [snapshot],
                   {snapshot['id']: dest_snap})
    assert len(os.listdir(str(tmp_path / 'b' / '.localfs' /
                              'staging'))) == 2
    src.migration_cancel(*args)
    assert os.listdir(str(tmp_path / 'b' / '.localfs' / 'staging')) == []
    assert not os.path.exists(str(tmp_path / 'b' / dest['name']))
    assert lh.tree(directory) == before
    assert src.registry.get(share['id']) is not None


def test_a_copy_lost_to_a_restart_starts_again(pair, tmp_path):
    src, dst = pair
    share, directory = _source(src)
    dest = _share(dst, 'b')
    args = (None, share, dest, [], {})
    staging = str(tmp_path / 'b' / '.localfs' / 'staging')
    # a half copy left by a killed service, and no copy thread
    os.makedirs(os.path.join(staging, 'migrate-%s.part' % dest['id'], 'x'))
    assert src.migration_get_progress(*args) == {'total_progress': 0}
    assert src.migration_continue(*args) is False
    lh.wait_copy(src, dest['id'])
    assert src.migration_continue(*args) is True
    assert os.listdir(staging) == ['migrate-%s' % dest['id']]
    before = lh.tree(directory)
    src.migration_complete(*args)
    assert lh.tree(str(tmp_path / 'b' / dest['name'])) == before
    assert not os.path.exists(directory)


def test_a_failed_copy_fails_continue_and_leaves_nothing(pair, tmp_path,
                                                         monkeypatch):
    src, dst = pair
    share, directory = _source(src)
    snapshot = lh.make_snapshot(share)
    src.create_snapshot(None, snapshot)
    dest = _share(dst, 'b')
    dest_snap = lh.make_snapshot(dest)
    args = (None, share, dest, [snapshot], {snapshot['id']: dest_snap})
    real_copy = fsops.copy_tree
    copies = []

    def disk_full_at_the_snapshot(source, target, **kwargs):
        copies.append(source)
        real_copy(source, target, **kwargs)
        if len(copies) == 2:
            raise OSError(errno.ENOSPC, 'No space left on device', target)
    monkeypatch.setattr(fsops, 'copy_tree', disk_full_at_the_snapshot)
    src.migration_start(*args)
    lh.wait_copy(src, dest['id'])
    with pytest.raises(exception.ShareBackendException, match='no space'):
        src.migration_continue(*args)
    assert copies == [directory, snapshot_dir(tmp_path, 'a', snapshot)]
    assert os.listdir(str(tmp_path / 'b' / '.localfs' / 'staging')) == []
    assert os.path.isdir(directory)


def snapshot_dir(tmp_path, pool, snapshot):
    return str(tmp_path / pool / '.localfs' / 'snapshots' / snapshot['name'])


def test_complete_before_the_copy_is_whole_is_refused(pair):
    src, dst = pair
    share, directory = _source(src)
    dest = _share(dst, 'b')
    with pytest.raises(exception.ShareBackendException, match='not finished'):
        src.migration_complete(None, share, dest, [], {})
    assert os.path.isdir(directory)


def test_an_existing_destination_directory_is_refused(pair, tmp_path):
    src, dst = pair
    share, _directory = _source(src)
    dest = _share(dst, 'b')
    os.mkdir(str(tmp_path / 'b' / dest['name']))
    with pytest.raises(exception.ShareBackendException, match='exists'):
        src.migration_start(None, share, dest, [], {})


# -- through two share managers (SQLite): the rows and the directories --------

@pytest.fixture
def managers(manager_factory, tmp_path):
    """Managers of two localfs backends, alpha (source) and beta, on node hostA (the drivers name their backend after ``host``)."""
    cfg.CONF.set_override('host', 'hostA')
    yield [manager_factory(
        name=name, share_driver='localfs',
        localfs_pools=[str(tmp_path / 'pools' / name)],
        localfs_export_ips=[ip],
        localfs_exports_file=str(tmp_path / ('%s.exports' % name)),
        localfs_apply_samba_config=False)
        for name, ip in (('alpha', '127.0.0.1'), ('beta', '127.0.0.2'))]
    cfg.CONF.clear_override('host')


def _task_state(db, ctx, share):
    return db.share_get(ctx, share['id'])['task_state']


def _manager_phase1(alpha, beta, db, ctx, tmp_path, with_snapshot):
    share, inst = helpers.make_share(db, ctx, host=alpha.host + '#alpha')
    alpha.create_share_instance(helpers.user_ctx(), inst['id'])
    directory = str(tmp_path / 'pools' / 'alpha' / ('share-' + inst['id']))
    with open(os.path.join(directory, 'before.txt'), 'w') as f:
        f.write('written before the migration')
    snapshot = None
    if with_snapshot:
        snapshot, _snapinst = helpers.make_snapshot(db, ctx, share)
        alpha.create_snapshot(helpers.user_ctx(), share_id=share['id'],
                              snapshot_id=snapshot['id'])
        os.unlink(os.path.join(directory, 'before.txt'))
    db.share_update(ctx, share['id'],
                    {'task_state': c.TASK_STATE_MIGRATION_STARTING})
    db.share_instance_update(ctx, inst['id'], {'status': c.STATUS_MIGRATING})
    alpha.migration_start(
        helpers.user_ctx(), share_id=share['id'],
        dest_host=beta.host + '#beta', force_host_assisted_migration=False,
        preserve_metadata=False, writable=True, nondisruptive=False,
        preserve_snapshots=with_snapshot)
    dest = [i for i in db.share_instance_get_all(ctx, {'share_id': share['id']})
            if i['status'] == c.STATUS_MIGRATING_TO][0]
    lh.wait_copy(alpha.driver, dest['id'])
    alpha.migration_driver_continue(ctx)
    assert _task_state(db, ctx, share) == c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE
    return share, inst['id'], dest, directory, snapshot


def test_manager_migrates_a_localfs_share_with_its_snapshot(
        managers, db, admin_ctx, tmp_path):
    alpha, beta = managers
    share, src_id, dest, directory, snapshot = _manager_phase1(
        alpha, beta, db, admin_ctx, tmp_path, with_snapshot=True)
    alpha.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                             dest_instance_id=dest['id'])
    assert _task_state(db, admin_ctx, share) == c.TASK_STATE_MIGRATION_SUCCESS
    assert not os.path.exists(directory)
    got = db.share_instance_get(admin_ctx, dest['id'])
    final = str(tmp_path / 'pools' / 'beta' / ('share-' + dest['id']))
    assert got['export_locations'][0]['path'] == '127.0.0.2:' + final
    assert not os.path.exists(os.path.join(final, 'before.txt'))
    snapinst = db.share_snapshot_get(admin_ctx, snapshot['id']).instance
    assert snapinst['share_instance_id'] == dest['id']
    assert snapinst['status'] == c.STATUS_AVAILABLE
    with open(os.path.join(snapinst['provider_location'],
                           'before.txt')) as f:
        assert f.read() == 'written before the migration'
    # the destination backend serves the share: revert to the snapshot
    db.share_instance_update(admin_ctx, dest['id'],
                             {'status': c.STATUS_REVERTING})
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': c.STATUS_RESTORING})
    beta.revert_to_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'])
    with open(os.path.join(final, 'before.txt')) as f:
        assert f.read() == 'written before the migration'


def test_manager_cancels_a_localfs_migration(managers, db, admin_ctx,
                                             tmp_path):
    alpha, beta = managers
    share, src_id, dest, directory, _snap = _manager_phase1(
        alpha, beta, db, admin_ctx, tmp_path, with_snapshot=False)
    alpha.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    assert _task_state(db, admin_ctx, share) == c.TASK_STATE_MIGRATION_CANCELLED
    staging = str(tmp_path / 'pools' / 'beta' / '.localfs' / 'staging')
    assert os.listdir(staging) == []
    with open(os.path.join(directory, 'before.txt')) as f:
        assert f.read() == 'written before the migration'
