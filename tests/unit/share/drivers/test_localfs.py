"""The localfs driver on real temporary directories: pools, stats, shares, export locations, access files, sizes, safety and OS errors."""

import errno
import os
import stat
import subprocess
import textwrap

import pytest

from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite.share.drivers.localfs import exports
from manila_lite.share.drivers.localfs import fsops
from manila_lite.share.drivers.localfs import paths
from manila_lite.share.drivers.localfs import quota
from tests.unit.share.drivers.localfs_helpers import make_share
from tests.unit.share.drivers.localfs_helpers import make_snapshot
from tests.unit.share.drivers.localfs_helpers import path_of
from tests.unit.share.drivers.localfs_helpers import rule

CTX = ml_context.get_admin_context()


@pytest.fixture
def immutable(tmp_path):
    """chattr +i a directory for the test (root ignores modes, not this)."""
    done = []

    def make(path):
        res = subprocess.run(['chattr', '+i', str(path)], capture_output=True)
        if res.returncode:
            pytest.skip('chattr +i not permitted here: %s' % res.stderr)
        done.append(path)
    yield make
    for path in done:
        subprocess.run(['chattr', '-i', str(path)])


def _exports_text(drv):
    with open(drv._exports_file) as f:
        return f.read()


def _export_lines(drv):
    return [line for line in _exports_text(drv).splitlines()
            if line and not line.startswith('#')]


# ---------------------------------------------------------------------------
# Pools, options and stats
# ---------------------------------------------------------------------------

def test_setup_creates_pools_and_reports_them(localfs_factory, tmp_path):
    drv = localfs_factory(localfs_pools=[str(tmp_path / 'a'),
                                         str(tmp_path / 'b')],
                          reserved_share_percentage=7,
                          reserved_share_from_snapshot_percentage=3,
                          localfs_export_ips=['192.0.2.10', '2001:db8::10'])
    for name in ('a', 'b'):
        assert (tmp_path / name / '.localfs' / 'snapshots').is_dir()
    stats = drv.get_share_stats(refresh=True)
    assert [p['pool_name'] for p in stats['pools']] == ['a', 'b']
    st = os.statvfs(tmp_path / 'a')
    pool = stats['pools'][0]
    assert pool['total_capacity_gb'] == round(
        st.f_blocks * st.f_frsize / fsops.GiB, 2)
    assert 0 < pool['free_capacity_gb'] <= pool['total_capacity_gb']
    assert pool['reserved_percentage'] == 7
    assert pool['reserved_snapshot_percentage'] == 3
    assert pool['thin_provisioning'] is True
    assert pool['localfs_hard_limits'] is False
    for key in ('snapshot_support', 'create_share_from_snapshot_support',
                'revert_to_snapshot_support', 'mount_snapshot_support',
                'ipv4_support', 'ipv6_support'):
        assert stats[key] is True, key
    assert stats['storage_protocol'] == 'NFS_CIFS'
    assert stats['driver_handles_share_servers'] is False


def test_protocols_and_ip_versions_follow_options(localfs_factory):
    drv = localfs_factory(localfs_enabled_share_protocols=['nfs'],
                          localfs_export_ips=['2001:db8::10'])
    stats = drv.get_share_stats(refresh=True)
    assert stats['storage_protocol'] == 'NFS'
    assert (stats['ipv4_support'], stats['ipv6_support']) == (False, True)


def test_provisioned_capacity_counts_shares(localfs_factory):
    drv = localfs_factory()
    drv.create_share(CTX, make_share(size=3))
    drv.create_share(CTX, make_share(size=2))
    pool = drv.get_share_stats(refresh=True)['pools'][0]
    assert pool['provisioned_capacity_gb'] == 5


@pytest.mark.parametrize('options, words', [
    ({'localfs_pools': ['/tmp/x1/p', '/tmp/x2/p']}, 'same base name'),
    ({'localfs_pools': ['/tmp/outer', '/tmp/outer/inner']}, 'inside'),
    ({'localfs_pools': ['relative/dir']}, 'absolute'),
    ({'localfs_pools': []}, 'no directory'),
    ({'localfs_export_ips': ['not-an-ip']}, 'not an IP'),
    ({'localfs_share_mode': '99'}, 'octal'),
    ({'localfs_share_owner': 'no-such-user-xyz'}, 'unknown user'),
])
def test_bad_options_are_refused_at_construction(localfs_factory, options,
                                                 words):
    with pytest.raises(exception.BadConfigurationException) as excinfo:
        localfs_factory(setup=False, **options)
    assert words in str(excinfo.value)


def test_pool_that_is_a_file_fails_setup_clearly(localfs_factory, tmp_path):
    (tmp_path / 'a').write_text('not a dir')
    with pytest.raises(exception.ShareBackendException) as excinfo:
        localfs_factory()
    assert 'pool a' in str(excinfo.value)


def test_get_pool(localfs_factory):
    drv = localfs_factory()
    share = make_share()
    drv.create_share(CTX, share)
    assert drv.get_pool(share) == 'a'
    assert drv.get_pool(dict(share, host='hostA@lfs')) == 'a'


# ---------------------------------------------------------------------------
# Shares and export locations
# ---------------------------------------------------------------------------

def test_create_share_makes_directory_and_locations(localfs_factory,
                                                    tmp_path):
    drv = localfs_factory(localfs_export_ips=['192.0.2.10', '2001:db8::10'],
                          localfs_admin_export_ips=['10.0.0.10'],
                          localfs_share_mode='0750',
                          localfs_share_owner='1234:5678')
    share = make_share(size=2)
    locations = drv.create_share(CTX, share)
    path = str(tmp_path / 'a' / share['name'])
    st = os.stat(path)
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o750
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert locations == [
        {'path': '192.0.2.10:%s' % path, 'is_admin_only': False,
         'metadata': {'preferred': True}},
        {'path': '[2001:db8::10]:%s' % path, 'is_admin_only': False,
         'metadata': {'preferred': False}},
        {'path': '10.0.0.10:%s' % path, 'is_admin_only': True,
         'metadata': {'preferred': False}}]


def test_cifs_share_locations(localfs_factory):
    drv = localfs_factory(localfs_export_ips=['192.0.2.10', '2001:db8::10'])
    share = make_share(proto='CIFS')
    locations = drv.create_share(CTX, share)
    assert [loc['path'] for loc in locations] == [
        '\\\\192.0.2.10\\%s' % share['name'],
        '\\\\[2001:db8::10]\\%s' % share['name']]


def test_disabled_protocol_is_refused_and_nothing_created(localfs_factory,
                                                          tmp_path):
    drv = localfs_factory(localfs_enabled_share_protocols=['NFS'])
    share = make_share(proto='CIFS')
    with pytest.raises(exception.InvalidShare):
        drv.create_share(CTX, share)
    assert not (tmp_path / 'a' / share['name']).exists()


def test_create_refuses_existing_directory_and_unknown_pool(localfs_factory,
                                                            tmp_path):
    drv = localfs_factory()
    share = make_share()
    (tmp_path / 'a' / share['name']).mkdir()
    (tmp_path / 'a' / share['name'] / 'keep').write_text('x')
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.create_share(CTX, share)
    assert 'already exists' in str(excinfo.value)
    assert (tmp_path / 'a' / share['name'] / 'keep').read_text() == 'x'
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.create_share(CTX, make_share(pool='nope'))
    assert "pool 'nope'" in str(excinfo.value)


def test_create_again_finishes_a_create_cut_short(localfs_factory, tmp_path):
    # A crash after the mkdir (empty directory) or after the record was
    # saved (then data may even have been written) is finished, not refused.
    drv = localfs_factory()
    cut_after_mkdir = make_share()
    (tmp_path / 'a' / cut_after_mkdir['name']).mkdir()
    assert drv.create_share(CTX, cut_after_mkdir)
    assert drv.registry.get(cut_after_mkdir['id']) is not None
    recorded = make_share()
    first = drv.create_share(CTX, recorded)
    (tmp_path / 'a' / recorded['name'] / 'data').write_text('x')
    assert drv.create_share(CTX, recorded) == first
    assert (tmp_path / 'a' / recorded['name'] / 'data').read_text() == 'x'


@pytest.mark.parametrize('name', ['../escape', 'a/b', '..', '.hidden',
                                  '/etc', ''])
def test_unsafe_share_names_are_refused(localfs_factory, tmp_path, name):
    drv = localfs_factory()
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(paths.PathRefused):
        drv.create_share(CTX, make_share(name=name))
    assert sorted(os.listdir(tmp_path)) == before
    assert os.listdir(tmp_path / 'a') == ['.localfs']


def test_symlinked_share_directory_is_never_followed(localfs_factory,
                                                     tmp_path):
    drv = localfs_factory()
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep me')
    share = make_share()
    drv.create_share(CTX, share)
    share_dir = tmp_path / 'a' / share['name']
    os.rmdir(share_dir)
    os.symlink(outside, share_dir)
    for call in (lambda: drv.delete_share(CTX, share),
                 lambda: drv.extend_share(share, 5),
                 lambda: drv.update_access(CTX, share, [rule()], [], [])):
        with pytest.raises(paths.PathRefused) as excinfo:
            call()
        assert 'outside pool a' in str(excinfo.value)
    assert (outside / 'precious').read_text() == 'keep me'
    assert os.path.islink(share_dir)


def test_delete_share_removes_tree_but_not_link_targets(localfs_factory,
                                                        tmp_path):
    drv = localfs_factory()
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep me')
    share = make_share()
    path = path_of(drv.create_share(CTX, share))
    os.makedirs(os.path.join(path, 'x', 'y'))
    (tmp_path / 'a' / share['name'] / 'x' / 'y' / 'f').write_text('data')
    os.symlink(outside, os.path.join(path, 'x', 'to-outside'))
    drv.delete_share(CTX, share)
    assert not os.path.lexists(path)
    assert (outside / 'precious').read_text() == 'keep me'
    assert os.listdir(tmp_path / 'a' / '.localfs' / 'trash') == []
    drv.delete_share(CTX, share)        # already gone: still fine


# ---------------------------------------------------------------------------
# Access: exports and Samba files
# ---------------------------------------------------------------------------

def test_update_access_full_list_semantics(localfs_factory):
    drv = localfs_factory(localfs_export_ips=['192.0.2.10', '2001:db8::1'])
    share = make_share()
    path = path_of(drv.create_share(CTX, share))
    r1, r2 = rule('10.0.0.1'), rule('10.1.0.0/16', level='ro')
    r3 = rule('2001:db8:1::/64')
    assert drv.update_access(CTX, share, [r1, r2, r3], [r1, r2, r3],
                             []) is None
    opts = 'sync,no_subtree_check,no_root_squash'
    assert _export_lines(drv) == [
        '%s 10.0.0.1(rw,%s) 10.1.0.0/16(ro,%s) 2001:db8:1::/64(rw,%s)'
        % (path, opts, opts, opts)]
    # Re-adding present rules and denying a never-applied one succeed.
    never = rule('10.9.9.9')
    assert drv.update_access(CTX, share, [r1, r2, r3], [r1], [never]) is None
    assert len(_export_lines(drv)) == 1
    # Deny r2 and r3: the list is what remains.
    drv.update_access(CTX, share, [r1], [], [r2, r3])
    assert _export_lines(drv) == ['%s 10.0.0.1(rw,%s)' % (path, opts)]
    # Resync with nothing: the share is no longer exported.
    drv.update_access(CTX, share, [], [], [])
    assert _export_lines(drv) == []
    assert [n for n in os.listdir(os.path.dirname(drv._exports_file))
            if n.endswith('.tmp')] == []


def test_invalid_rules_come_back_in_error(localfs_factory):
    drv = localfs_factory()
    share = make_share()
    drv.create_share(CTX, share)
    good = rule('10.0.0.1')
    bad = [rule('999.1.1.1'), rule('bob', access_type='user'),
           rule('x', access_type='cert'), rule('10.0.0.2', level='rx'),
           rule('2001:db8::5')]
    updates = drv.update_access(CTX, share, [good] + bad, [good] + bad, [])
    assert updates == {r['access_id']: {'state': 'error'} for r in bad}
    assert len(_export_lines(drv)) == 1
    assert '10.0.0.1(rw' in _export_lines(drv)[0]


def test_cifs_rules_go_to_samba_include(localfs_factory):
    drv = localfs_factory()
    share = make_share(proto='CIFS')
    path = path_of([{'path': 'x:' + str(drv._pools['a'].path) + '/'
                     + share['name']}])
    drv.create_share(CTX, share)
    alice, bob = rule('alice', 'user'), rule('bob', 'user', 'ro')
    host, ro_host = rule('10.0.0.7'), rule('10.0.0.8', level='ro')
    updates = drv.update_access(CTX, share, [alice, bob, host, ro_host],
                                [], [])
    assert updates == {ro_host['access_id']: {'state': 'error'}}
    with open(drv._samba_file) as f:
        text = f.read()
    assert textwrap.dedent('''\
        [%s]
            path = %s
            browseable = yes
            guest ok = no
            read only = no
            valid users = alice bob
            read list = bob
            hosts allow = 10.0.0.7
            hosts deny = ALL
        ''') % (share['name'], path) in text
    assert _export_lines(drv) == []
    drv.update_access(CTX, share, [], [], [alice, bob, host])
    with open(drv._samba_file) as f:
        assert share['name'] not in f.read()


def _fake_command(tmp_path, monkeypatch, name, exit_code=0):
    bindir = tmp_path / 'bin'
    bindir.mkdir(exist_ok=True)
    log = tmp_path / ('%s.log' % name)
    script = bindir / name
    script.write_text('#!/bin/sh\necho "$0 $*" >> %s\necho oops >&2\n'
                      'exit %d\n' % (log, exit_code))
    script.chmod(0o755)
    monkeypatch.setenv('PATH', '%s:%s' % (bindir, os.environ['PATH']))
    return log


def test_exportfs_runs_only_when_enabled(localfs_factory, tmp_path,
                                         monkeypatch):
    log = _fake_command(tmp_path, monkeypatch, 'exportfs')
    drv = localfs_factory()
    share = make_share()
    drv.create_share(CTX, share)
    drv.update_access(CTX, share, [rule()], [], [])
    assert not log.exists()
    enabled = localfs_factory(localfs_apply_nfs_exports=True)
    assert log.read_text().split()[1:] == ['-ra']        # at start-up
    other = make_share()
    enabled.create_share(CTX, other)
    enabled.update_access(CTX, other, [rule()], [], [])
    assert log.read_text().count('-ra') == 2


def test_root_helper_is_handed_to_processutils(localfs_factory, tmp_path,
                                               monkeypatch):
    _fake_command(tmp_path, monkeypatch, 'exportfs')
    calls = []

    def execute(*cmd, **kwargs):
        calls.append((cmd, kwargs))
        return '', ''
    for helper, expected in (('sudo -n', {'run_as_root': True,
                                          'root_helper': 'sudo -n'}),
                             ('', {})):
        drv = localfs_factory(setup=False, localfs_apply_nfs_exports=True,
                              localfs_root_helper=helper)
        drv.set_execute(execute)
        drv.do_setup(CTX)
        assert calls[-1] == (('exportfs', '-ra'), expected)


def test_failing_exportfs_is_a_clear_error(localfs_factory, tmp_path,
                                           monkeypatch):
    _fake_command(tmp_path, monkeypatch, 'exportfs', exit_code=3)
    drv = localfs_factory(localfs_apply_nfs_exports=True)  # setup tolerates
    share = make_share()
    drv.create_share(CTX, share)
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.update_access(CTX, share, [rule()], [], [])
    assert 'exportfs -ra' in str(excinfo.value)
    assert 'oops' in str(excinfo.value)


def test_smbcontrol_reloads_for_cifs_changes(localfs_factory, tmp_path,
                                             monkeypatch):
    log = _fake_command(tmp_path, monkeypatch, 'smbcontrol')
    drv = localfs_factory()
    log.unlink()
    nfs, cifs = make_share(), make_share(proto='CIFS')
    drv.create_share(CTX, nfs)
    drv.create_share(CTX, cifs)
    drv.update_access(CTX, nfs, [rule()], [], [])
    assert not log.exists()
    drv.update_access(CTX, cifs, [rule('alice', 'user')], [], [])
    assert log.read_text().split()[1:] == ['smbd', 'reload-config']


def test_exports_rebuilt_from_private_storage_at_start(localfs_factory):
    drv = localfs_factory(name='lfs_restart')
    share = make_share()
    drv.create_share(CTX, share)
    drv.update_access(CTX, share, [rule('10.0.0.1')], [], [])
    expected = _exports_text(drv)
    with open(drv._exports_file, 'w') as f:
        f.write('/etc 0.0.0.0/0(rw)\n')          # hand-edited
    again = localfs_factory(name='lfs_restart')  # same storage: a restart
    assert _exports_text(again) == expected
    os.unlink(again._exports_file)              # lost
    updates = again.ensure_shares(CTX, [share])
    assert _exports_text(again) == expected
    assert updates[share['id']]['reapply_access_rules'] is False
    assert updates[share['id']]['export_locations'][0]['path'].endswith(
        share['name'])


def test_ensure_shares_flags_unknown_and_missing_shares(localfs_factory,
                                                        tmp_path):
    drv = localfs_factory()
    known, unknown, missing = make_share(), make_share(), make_share()
    drv.create_share(CTX, known)
    (tmp_path / 'a' / unknown['name']).mkdir()
    updates = drv.ensure_shares(CTX, [known, unknown, missing])
    assert updates[known['id']]['reapply_access_rules'] is False
    assert updates[unknown['id']]['reapply_access_rules'] is True
    assert updates[missing['id']] == {'status': 'error'}
    assert drv.ensure_share(CTX, known)[0]['path'].endswith(known['name'])
    with pytest.raises(exception.ShareResourceNotFound):
        drv.ensure_share(CTX, missing)


# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------

def _allocate(path, nbytes):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.posix_fallocate(fd, 0, nbytes)
    finally:
        os.close(fd)


def test_shrink_below_used_space_is_refused(localfs_factory):
    drv = localfs_factory()
    share = make_share(size=3)
    path = path_of(drv.create_share(CTX, share))
    _allocate(os.path.join(path, 'big'), int(1.5 * fsops.GiB))
    os.symlink('/usr', os.path.join(path, 'not-followed'))
    with pytest.raises(exception.ShareShrinkingPossibleDataLoss):
        drv.shrink_share(share, 1)
    drv.shrink_share(share, 2)
    drv.extend_share(share, 4)
    assert drv.registry.get(share['id']).size == 4
    usage = drv.update_share_usage_size(CTX, [share, make_share()])
    assert [u['id'] for u in usage] == [share['id']]
    assert 1.5 <= usage[0]['used_size'] < 1.6
    assert usage[0]['gathered_at'] is not None


def test_tree_usage_counts_hard_links_once(tmp_path):
    (tmp_path / 'f').write_bytes(b'x' * 100000)
    os.link(tmp_path / 'f', tmp_path / 'g')
    used, apparent = fsops.tree_usage(str(tmp_path))
    assert apparent == 100000
    assert used == os.stat(tmp_path / 'f').st_blocks * 512


class _RecordingExecute(object):
    def __init__(self):
        self.calls = []

    def __call__(self, *cmd, **kwargs):
        self.calls.append(cmd)
        return 'Enforcement: ON\n', ''


def test_xfs_project_quota_commands(localfs_factory):
    drv = localfs_factory()
    execute = _RecordingExecute()
    drv._quotas['a'] = quota.XfsQuota('/mnt/xfs', execute, '')
    share = make_share(size=3)
    path = path_of(drv.create_share(CTX, share))
    pid = quota.project_id_for(share['id'])
    drv.extend_share(share, 5)
    drv.delete_share(CTX, share)
    commands = [c[3] for c in execute.calls]
    assert commands == [
        'project -s -p %s %d' % (path, pid), 'limit -p bhard=3g %d' % pid,
        'project -s -p %s %d' % (path, pid), 'limit -p bhard=5g %d' % pid,
        'limit -p bhard=0 %d' % pid, 'project -C -p %s %d' % (path, pid)]
    assert all(c[:3] == ('xfs_quota', '-x', '-c') and c[4] == '/mnt/xfs'
               for c in execute.calls)
    assert drv.get_share_stats(refresh=True)['pools'][0][
        'localfs_hard_limits'] is True


def test_quota_probe(tmp_path):
    info = tmp_path / 'mountinfo'
    info.write_text(
        '22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n'
        '40 22 8:2 / /srv/x\\040y rw,relatime - xfs /dev/sdb rw,prjquota\n')
    assert quota.find_mount('/srv/x y/pool', str(info))[:2] == (
        '/srv/x y', 'xfs')
    assert quota.find_mount('/home', str(info))[1] == 'ext4'
    assert quota.probe(str(tmp_path), None, '', 'auto') is None
    assert quota.probe(str(tmp_path), None, '', 'none') is None
    with pytest.raises(exception.BadConfigurationException):
        quota.probe(str(tmp_path), None, '', 'xfs')


def test_quota_mode_xfs_fails_setup_on_other_filesystems(localfs_factory):
    with pytest.raises(exception.BadConfigurationException) as excinfo:
        localfs_factory(localfs_quota='xfs')
    assert 'prjquota' in str(excinfo.value) or 'not xfs' in str(
        excinfo.value)


# ---------------------------------------------------------------------------
# OS errors become clear driver errors
# ---------------------------------------------------------------------------

def test_permission_error_is_clear(localfs_factory, tmp_path, immutable):
    drv = localfs_factory()
    immutable(tmp_path / 'a')
    share = make_share()
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.create_share(CTX, share)
    assert 'permission denied' in str(excinfo.value)
    assert share['name'] in str(excinfo.value)
    assert drv.registry.get(share['id']) is None


@pytest.fixture
def tiny_pool(tmp_path):
    mnt = tmp_path / 'tiny'
    mnt.mkdir()
    res = subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs',
                          str(mnt)], capture_output=True)
    if res.returncode:
        pytest.skip('cannot mount a tmpfs here: %s' % res.stderr)
    yield mnt
    subprocess.run(['umount', str(mnt)])


def test_full_disk_is_clear(localfs_factory, tiny_pool):
    drv = localfs_factory(localfs_pools=[str(tiny_pool / 'p')])
    share = make_share(pool='p')
    path = path_of(drv.create_share(CTX, share))
    with open(os.path.join(path, 'fill'), 'wb') as f:
        try:
            f.write(b'x' * (2 * 1024 * 1024))
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    snapshot = make_snapshot(share)
    with pytest.raises(exception.ShareBackendException) as excinfo:
        drv.create_snapshot(CTX, snapshot)
    assert 'no space left' in str(excinfo.value)
    assert os.listdir(tiny_pool / 'p' / '.localfs' / 'staging') == []


def test_registry_round_trip_keeps_rules():
    from manila_lite.share import drivers_private_data
    storage = drivers_private_data.DriverPrivateData(
        storage=drivers_private_data.MemoryStorageDriver())
    registry = exports.Registry(storage, 'h@b')
    record = exports.Record('0b0b0b0b-0000-4000-8000-000000000001',
                            exports.SHARE, 'a', '/p/a/x', 'nfs', 'x', size=2,
                            rules=[exports.Rule('r1', 'ip', '10.0.0.1',
                                                'rw')])
    registry.save(record)
    loaded = exports.Registry(storage, 'h@b').load()
    assert [(r.path, r.proto, r.size, [(x.access_id, x.access_to,
                                        x.access_level) for x in r.rules])
            for r in loaded] == [('/p/a/x', 'NFS', 2,
                                  [('r1', '10.0.0.1', 'rw')])]
    assert exports.Registry(storage, 'other@b').load() == []
