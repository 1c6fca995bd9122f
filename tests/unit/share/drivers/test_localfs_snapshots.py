"""The localfs driver's snapshots, clones, reverts and manage/unmanage on real temporary directories."""

import os
import shutil
import subprocess
import time

import pytest

from manila_lite.common import constants
from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from tests.unit.share.drivers.localfs_helpers import make_share
from tests.unit.share.drivers.localfs_helpers import make_snapshot
from tests.unit.share.drivers.localfs_helpers import path_of
from tests.unit.share.drivers.localfs_helpers import populate
from tests.unit.share.drivers.localfs_helpers import rule
from tests.unit.share.drivers.localfs_helpers import tree

CTX = ml_context.get_admin_context()


@pytest.fixture
def drv_share(localfs_factory):
    drv = localfs_factory()
    share = make_share(size=2)
    path = path_of(drv.create_share(CTX, share))
    populate(path)
    return drv, share, path


def _wait_status(drv, share, timeout=30):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        status = drv.get_share_status(share)
        seen.append(status)
        if status['status'] != constants.STATUS_CREATING_FROM_SNAPSHOT:
            return status, seen
        time.sleep(0.05)
    raise AssertionError('still copying: %s' % seen[-1])


# ---------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------

def test_snapshot_is_a_faithful_independent_copy(drv_share, tmp_path):
    drv, share, path = drv_share
    before = tree(path)
    snapshot = make_snapshot(share)
    result = drv.create_snapshot(CTX, snapshot)
    snap_dir = str(tmp_path / 'a' / '.localfs' / 'snapshots'
                   / snapshot['name'])
    assert result['provider_location'] == snap_dir
    assert result['export_locations'] == [
        {'path': '192.0.2.10:%s' % snap_dir, 'is_admin_only': False}]
    assert tree(snap_dir) == before
    assert os.stat(os.path.join(snap_dir, 'hard-a')).st_ino == os.stat(
        os.path.join(snap_dir, 'a.txt')).st_ino
    assert os.readlink(os.path.join(snap_dir, 'abs-link')) == '/etc/hostname'
    with open(os.path.join(path, 'a.txt'), 'w') as f:
        f.write('changed\n')
    assert tree(snap_dir) == before
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'staging') == []


def test_snapshot_export_is_read_only(drv_share):
    drv, share, _path = drv_share
    snapshot = make_snapshot(share)
    snap_dir = drv.create_snapshot(CTX, snapshot)['provider_location']
    r = rule('10.0.0.3', level='rw')
    assert drv.snapshot_update_access(CTX, snapshot, [r], [r], []) is None
    with open(drv._exports_file) as f:
        lines = [line for line in f if line.startswith('/')]
    assert lines == ['%s 10.0.0.3(ro,sync,no_subtree_check,'
                     'no_root_squash)\n' % snap_dir]
    drv.snapshot_update_access(CTX, snapshot, [], [], [r])
    with open(drv._exports_file) as f:
        assert snap_dir not in f.read()


def test_delete_snapshot(drv_share, tmp_path):
    drv, share, path = drv_share
    snapshot = make_snapshot(share)
    snap_dir = drv.create_snapshot(CTX, snapshot)['provider_location']
    drv.snapshot_update_access(CTX, snapshot, [rule()], [], [])
    drv.delete_snapshot(CTX, snapshot)
    assert not os.path.exists(snap_dir)
    with open(drv._exports_file) as f:
        assert snap_dir not in f.read()
    assert os.path.isdir(path)
    drv.delete_snapshot(CTX, snapshot)          # already gone: fine


def test_reflink_always_fails_cleanly_where_unsupported(localfs_factory,
                                                        tmp_path):
    drv = localfs_factory(localfs_reflink='always')
    if drv._reflink['a']:
        pytest.skip('this filesystem supports reflink')
    share = make_share()
    populate(path_of(drv.create_share(CTX, share)))
    snapshot = make_snapshot(share)
    with pytest.raises(fsops.ReflinkUnavailable):
        drv.create_snapshot(CTX, snapshot)
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'snapshots') == []
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'staging') == []


def test_copy_without_copy_file_range_or_clone(tmp_path, monkeypatch):
    src = tmp_path / 'src'
    src.mkdir()
    populate(str(src))

    def no_copy_range(*args):
        raise OSError(18, 'Invalid cross-device link')
    monkeypatch.setattr(os, 'copy_file_range', no_copy_range)
    cloned, copied = fsops.copy_tree(str(src), str(tmp_path / 'dst'),
                                     reflink='never')
    assert cloned == 0 and copied > 200000
    assert tree(str(tmp_path / 'dst')) == tree(str(src))


@pytest.fixture
def xfs_mount(tmp_path):
    """A loop-mounted XFS with reflink (skipped where that cannot be made)."""
    if not shutil.which('mkfs.xfs'):
        pytest.skip('mkfs.xfs (xfsprogs) is not installed')
    image, mnt = tmp_path / 'xfs.img', tmp_path / 'xfs'
    mnt.mkdir()
    with open(image, 'wb') as f:
        f.truncate(320 * 1024 * 1024)
    made = subprocess.run(['mkfs.xfs', '-q', '-m', 'reflink=1', str(image)],
                          capture_output=True)
    mounted = made.returncode == 0 and subprocess.run(
        ['mount', '-o', 'loop', str(image), str(mnt)],
        capture_output=True).returncode == 0
    if not mounted:
        pytest.skip('cannot make and loop-mount an XFS image here')
    yield mnt
    subprocess.run(['umount', str(mnt)])


def test_reflink_snapshots_share_extents_on_xfs(localfs_factory, xfs_mount):
    drv = localfs_factory(localfs_pools=[str(xfs_mount / 'p')],
                          localfs_reflink='always')
    pool = drv.get_share_stats(refresh=True)['pools'][0]
    assert pool['localfs_reflink'] is True
    assert pool['localfs_hard_limits'] is False     # no prjquota mount
    share = make_share(pool='p')
    path = path_of(drv.create_share(CTX, share))
    populate(path)
    with open(os.path.join(path, 'big'), 'wb') as f:
        f.write(os.urandom(32 * 1024 * 1024))
    os.sync()
    free_before = os.statvfs(path).f_bfree * os.statvfs(path).f_frsize
    snapshot = make_snapshot(share)
    snap_dir = drv.create_snapshot(CTX, snapshot)['provider_location']
    os.sync()
    free_after = os.statvfs(path).f_bfree * os.statvfs(path).f_frsize
    assert free_before - free_after < 8 * 1024 * 1024   # 32 MiB not copied
    assert tree(snap_dir) == tree(path)
    with open(os.path.join(path, 'big'), 'r+b') as f:
        f.write(b'changed')
    drv.revert_to_snapshot(CTX, snapshot, [], [])
    assert tree(path) == tree(snap_dir)


# ---------------------------------------------------------------------------
# Revert
# ---------------------------------------------------------------------------

def test_revert_restores_snapshot_contents_atomically(drv_share, tmp_path):
    drv, share, path = drv_share
    snapshot = make_snapshot(share)
    drv.create_snapshot(CTX, snapshot)
    expected = tree(path)
    with open(os.path.join(path, 'a.txt'), 'w') as f:
        f.write('changed\n')
    os.unlink(os.path.join(path, 'docs', 'deep', 'b.bin'))
    with open(os.path.join(path, 'new.txt'), 'w') as f:
        f.write('new\n')
    assert drv.revert_to_snapshot(CTX, snapshot, [], []) is None
    assert tree(path) == expected
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'staging') == []
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'trash') == []


def test_failed_revert_leaves_share_untouched(drv_share, tmp_path,
                                              monkeypatch):
    drv, share, path = drv_share
    snapshot = make_snapshot(share)
    drv.create_snapshot(CTX, snapshot)
    with open(os.path.join(path, 'a.txt'), 'w') as f:
        f.write('changed\n')
    current = tree(path)

    def broken_exchange(a, b):
        raise OSError(13, 'Permission denied', b)
    monkeypatch.setattr(fsops, 'exchange', broken_exchange)
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.revert_to_snapshot(CTX, snapshot, [], [])
    assert 'permission denied' in str(excinfo.value)
    assert tree(path) == current
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'staging') == []


def test_exchange_falls_back_to_renames(tmp_path, monkeypatch):
    a, b = tmp_path / 'a', tmp_path / 'b'
    a.mkdir()
    b.mkdir()
    (a / 'from-a').touch()
    (b / 'from-b').touch()
    fsops.exchange(str(a), str(b))
    assert os.listdir(a) == ['from-b'] and os.listdir(b) == ['from-a']
    monkeypatch.setattr(fsops, '_renameat2', False)
    fsops.exchange(str(a), str(b))
    assert os.listdir(a) == ['from-a'] and os.listdir(b) == ['from-b']
    assert sorted(os.listdir(tmp_path)) == ['a', 'b']


# ---------------------------------------------------------------------------
# Shares from snapshots
# ---------------------------------------------------------------------------

def test_small_clone_is_synchronous(drv_share):
    drv, share, path = drv_share
    snapshot = make_snapshot(share)
    drv.create_snapshot(CTX, snapshot)
    clone = make_share(size=2)
    result = drv.create_share_from_snapshot(CTX, clone, snapshot,
                                            parent_share=share)
    assert result['status'] == constants.STATUS_AVAILABLE
    clone_path = path_of(result['export_locations'])
    assert clone_path.endswith(clone['name'])
    assert tree(clone_path) == tree(path)
    assert drv.registry.get(clone['id']).copy_source is None


def test_large_clone_runs_in_background(localfs_factory, tmp_path):
    drv = localfs_factory(localfs_async_copy_threshold_mb=0)
    share = make_share()
    path = path_of(drv.create_share(CTX, share))
    populate(path)
    with open(os.path.join(path, 'big'), 'wb') as f:
        f.write(os.urandom(8 * 1024 * 1024))
    snapshot = make_snapshot(share)
    drv.create_snapshot(CTX, snapshot)
    clone = make_share()
    result = drv.create_share_from_snapshot(CTX, clone, snapshot)
    assert result['status'] == constants.STATUS_CREATING_FROM_SNAPSHOT
    clone_path = path_of(result['export_locations'])
    status, seen = _wait_status(drv, clone)
    assert status['status'] == constants.STATUS_AVAILABLE
    assert status['progress'] == '100%'
    assert path_of(status['export_locations']) == clone_path
    assert all(s['progress'].endswith('%') for s in seen[:-1])
    assert tree(clone_path) == tree(path)
    assert drv.get_share_status(clone)['status'] == 'available'


def test_interrupted_clone_resumes_after_restart(localfs_factory, tmp_path):
    drv = localfs_factory(name='lfs_resume')
    share = make_share()
    path = path_of(drv.create_share(CTX, share))
    populate(path)
    snapshot = make_snapshot(share)
    snap_dir = drv.create_snapshot(CTX, snapshot)['provider_location']
    clone = make_share()
    clone_dir = tmp_path / 'a' / clone['name']
    # What a service killed in the middle of a background copy leaves: the
    # record naming the copy source and a partial staging directory.
    drv.registry.save(exports.Record(
        clone['id'], exports.SHARE, 'a', str(clone_dir), 'NFS',
        clone['name'], size=1, copy_source=snap_dir))
    partial = tmp_path / 'a' / '.localfs' / 'staging' / clone['name']
    partial.mkdir()
    (partial / 'half-written').write_text('xx')
    again = localfs_factory(name='lfs_resume')   # restart, same storage
    status, _seen = _wait_status(again, clone)
    assert status['status'] == constants.STATUS_AVAILABLE
    assert tree(str(clone_dir)) == tree(path)
    assert not partial.exists()
    assert again.registry.get(clone['id']).copy_source is None


def test_clone_whose_source_vanished_ends_in_error(localfs_factory,
                                                   tmp_path):
    drv = localfs_factory()
    clone = make_share()
    drv.registry.save(exports.Record(
        clone['id'], exports.SHARE, 'a', str(tmp_path / 'a' / clone['name']),
        'NFS', clone['name'], copy_source=str(tmp_path / 'a' / 'gone')))
    assert drv.get_share_status(clone) == {'status': 'error'}
    assert drv.registry.get(clone['id']).copy_source is None
    outside = localfs_factory()
    outside.registry.save(exports.Record(
        clone['id'], exports.SHARE, 'a', str(tmp_path / 'a' / clone['name']),
        'NFS', clone['name'], copy_source='/etc'))
    assert outside.get_share_status(clone) == {'status': 'error'}
    assert not (tmp_path / 'a' / clone['name']).exists()


def test_clone_of_missing_snapshot_fails_and_status_is_error(drv_share):
    drv, share, _path = drv_share
    snapshot = make_snapshot(share)
    with pytest.raises(exception.ShareBackendException):
        drv.create_share_from_snapshot(CTX, make_share(), snapshot)
    assert drv.get_share_status(make_share())['status'] == 'error'


# ---------------------------------------------------------------------------
# Manage / unmanage
# ---------------------------------------------------------------------------

def _managed(location, **extra):
    share = make_share(**extra)
    share['export_locations'] = [{'path': location, 'is_admin_only': False}]
    return share


def test_manage_adopts_directory_in_place(localfs_factory, tmp_path):
    drv = localfs_factory()
    existing = tmp_path / 'a' / 'projects'
    existing.mkdir()
    populate(str(existing))
    with open(existing / 'big', 'wb') as f:
        os.posix_fallocate(f.fileno(), 0, int(1.2 * fsops.GiB))
    before = tree(str(existing), skip=('big',))
    share = _managed('192.0.2.10:%s' % existing)
    result = drv.manage_existing(share, {})
    assert result['size'] == 2
    assert path_of(result['export_locations']) == str(existing)
    assert tree(str(existing), skip=('big',)) == before
    drv.update_access(CTX, share, [rule('10.0.0.1')], [], [])
    with open(drv._exports_file) as f:
        assert str(existing) in f.read()
    drv.unmanage(share)
    assert tree(str(existing), skip=('big',)) == before
    assert os.path.getsize(existing / 'big') == int(1.2 * fsops.GiB)
    with open(drv._exports_file) as f:
        assert str(existing) not in f.read()
    assert drv.registry.get(share['id']) is None


def test_manage_cifs_location(localfs_factory, tmp_path):
    drv = localfs_factory()
    (tmp_path / 'a' / 'team').mkdir()
    result = drv.manage_existing(_managed('\\\\192.0.2.10\\team',
                                          proto='CIFS'), {})
    assert result['size'] == 1


@pytest.mark.parametrize('location', [
    '192.0.2.10:{tmp}/a/../outside',
    '{tmp}/outside',
    '192.0.2.10:{tmp}/a/evil-link',
    '192.0.2.10:{tmp}/a/projects/nested',
    '192.0.2.10:{tmp}/a',
    '192.0.2.10:{tmp}/a/.localfs',
    '192.0.2.10:{tmp}/a/.localfs/snapshots',
    '192.0.2.10:{tmp}/a/no-such-dir',
    '192.0.2.10:{tmp}/a/{taken}',
    '\\\\192.0.2.10\\..',
    'not a location',
])
def test_manage_refuses_paths_that_escape_or_clash(localfs_factory, tmp_path,
                                                   location):
    drv = localfs_factory()
    taken = make_share()
    drv.create_share(CTX, taken)
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep')
    os.symlink(outside, tmp_path / 'a' / 'evil-link')
    (tmp_path / 'a' / 'projects' / 'nested').mkdir(parents=True)
    share = _managed(location.format(tmp=tmp_path, taken=taken['name']))
    with pytest.raises(exception.ManageInvalidShare):
        drv.manage_existing(share, {})
    assert drv.registry.get(share['id']) is None
    assert os.listdir(outside) == ['precious']
    assert (outside / 'precious').read_text() == 'keep'


def test_manage_refuses_pool_mismatch(localfs_factory, tmp_path):
    drv = localfs_factory(localfs_pools=[str(tmp_path / 'a'),
                                         str(tmp_path / 'b')])
    (tmp_path / 'a' / 'projects').mkdir()
    share = _managed('%s/a/projects' % tmp_path, pool='b')
    with pytest.raises(exception.ManageInvalidShare) as excinfo:
        drv.manage_existing(share, {})
    assert 'pool b' in str(excinfo.value)


def test_manage_and_unmanage_snapshot(drv_share, tmp_path):
    drv, share, path = drv_share
    kept = tmp_path / 'a' / '.localfs' / 'snapshots' / 'old-copy'
    kept.mkdir()
    (kept / 'f').write_text('old')
    snapshot = make_snapshot(share, provider_location=str(kept))
    result = drv.manage_existing_snapshot(snapshot, {})
    assert result['size'] == 1
    assert result['provider_location'] == str(kept)
    assert result['export_locations'][0] == {
        'path': '192.0.2.10:%s' % kept, 'is_admin_only': False}
    drv.revert_to_snapshot(CTX, snapshot, [], [])
    assert tree(path) == {'f': ('file', b'old', 0o644)}
    drv.unmanage_snapshot(snapshot)
    assert (kept / 'f').read_text() == 'old'


@pytest.mark.parametrize('where', [
    '{share}', '{share}/docs', '{tmp}/a', '{tmp}/outside', '{tmp}/a/ghost',
    '{tmp}/a/.localfs/staging', 'relative/path', '{tmp}/a/evil-link'])
def test_manage_snapshot_refuses_bad_locations(drv_share, tmp_path, where):
    drv, share, path = drv_share
    (tmp_path / 'outside').mkdir()
    os.symlink(tmp_path / 'outside', tmp_path / 'a' / 'evil-link')
    snapshot = make_snapshot(
        share, provider_location=where.format(share=path, tmp=tmp_path))
    with pytest.raises(exception.ManageInvalidShareSnapshot):
        drv.manage_existing_snapshot(snapshot, {})
    assert drv.registry.get(snapshot['id']) is None


def test_create_snapshot_again_after_a_crash(drv_share):
    """Taken and recorded: returned as it is; renamed into place but unrecorded: taken again."""
    drv, share, path = drv_share
    snapshot = make_snapshot(share)
    first = drv.create_snapshot(CTX, snapshot)
    assert drv.create_snapshot(CTX, snapshot) == first
    unrecorded = make_snapshot(share)
    location = drv.create_snapshot(CTX, unrecorded)['provider_location']
    drv.registry.forget(unrecorded['id'])
    with open(os.path.join(location, 'stale'), 'w') as f:
        f.write('from before the crash')
    with open(os.path.join(path, 'newer'), 'w') as f:
        f.write('written since')
    again = drv.create_snapshot(CTX, unrecorded)
    assert again['provider_location'] == location
    assert sorted(os.listdir(location)) == sorted(os.listdir(path))
    assert drv.registry.get(unrecorded['id']) is not None
