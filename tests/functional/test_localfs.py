"""The localfs driver behind the real daemon (RabbitMQ + PostgreSQL).

Real directories, files, snapshots, reverts, clones, access files, manage and
path escapes.

Tests that need a manager flow another issue is building (snapshots,
access, manage, shares from snapshots) are skipped while that flow is
still a refusing stub, and start running as soon as it lands.
"""

import inspect
import os
import re
import shutil
import subprocess
import uuid

import pytest

from manila_lite import context as ml_context
from manila_lite.share import access as access_flows
from manila_lite.share import instances as instance_flows
from manila_lite.share import manage_existing as manage_flows
from manila_lite.share import resize as resize_flows
from manila_lite.share import snapshots as snapshot_flows
from tests.unit.share import helpers as row_helpers

pytestmark = pytest.mark.functional


def _is_stub(function):
    return 'unsupported.refuse' in inspect.getsource(function)


SNAPSHOT_FLOWS_MISSING = (_is_stub(snapshot_flows.create_snapshot)
                          or _is_stub(snapshot_flows.revert_to_snapshot))
CLONE_FLOW_MISSING = ('from a snapshot'
                      in inspect.getsource(instance_flows.create))
ACCESS_FLOW_MISSING = _is_stub(access_flows.update_access)
MANAGE_FLOW_MISSING = _is_stub(manage_flows.manage_share)
RESIZE_FLOWS_MISSING = (_is_stub(resize_flows.shrink_share)
                        or _is_stub(resize_flows.extend_share))


def _ctx():
    return ml_context.RequestContext(user_id='u1', project_id='p1',
                                     is_admin=True, roles=['admin'])


def _pool_dir(tmp_path):
    return str(tmp_path / 'pools' / 'alpha')


def _start(daemon_factory, db_url, tmp_path, **extra):
    options = {'share_driver': 'localfs',
               'localfs_pools': _pool_dir(tmp_path),
               'localfs_export_ips': '127.0.0.1'}
    options.update(extra)
    return daemon_factory(db_url, options={'alpha': options})


def _exports_file(daemon):
    return os.path.join(daemon.options['DEFAULT']['state_path'], 'localfs',
                        'alpha.exports')


def _export_lines(daemon):
    with open(_exports_file(daemon)) as f:
        return [line.rstrip('\n') for line in f
                if line.strip() and not line.startswith('#')]


def _instance(db, share_id):
    return db.row('SELECT * FROM share_instances WHERE share_id = :s',
                  s=share_id)


def _live_paths(db, instance_id):
    return [r['path'] for r in db.rows(
        'SELECT path FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0 ORDER BY updated_at',
        i=instance_id)]


def _create_cli(daemon, proto='NFS', check=True):
    res = daemon.manage('share', 'create', '--size', '1', '--proto', proto,
                        '--host', daemon.pool_host(), '--wait', '60',
                        check=check)
    match = re.search(r'^id\s+(\S+)', res.stdout, re.M)
    assert match, res.stdout + res.stderr
    return match.group(1), res


def _directory_behind(daemon, share_id):
    inst = _instance(daemon.db, share_id)
    path = _live_paths(daemon.db, inst['id'])[0]
    host, _, directory = path.partition(':')
    assert host == '127.0.0.1', path
    return directory


def _tree(root):
    result = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                result[rel] = ('link', os.readlink(full))
            elif os.path.isdir(full):
                result[rel] = ('dir', None)
            else:
                with open(full, 'rb') as f:
                    result[rel] = ('file', f.read())
    return result


def _write_files(directory):
    os.makedirs(os.path.join(directory, 'docs'))
    with open(os.path.join(directory, 'docs', 'report.txt'), 'w') as f:
        f.write('first version\n')
    with open(os.path.join(directory, 'data.bin'), 'wb') as f:
        f.write(os.urandom(300000))
    os.symlink('docs/report.txt', os.path.join(directory, 'latest'))


# ---------------------------------------------------------------------------
# Running now: shares, failures and path escapes through the daemon
# ---------------------------------------------------------------------------

def test_shares_are_real_directories(daemon_factory, fresh_db, tmp_path):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    assert _export_lines(daemon) == []          # written at start-up
    share_id, res = _create_cli(daemon)
    assert 'status: available' in res.stdout
    inst = _instance(daemon.db, share_id)
    directory = _directory_behind(daemon, share_id)
    assert directory == os.path.join(_pool_dir(tmp_path),
                                     'share-%s' % inst['id'])
    assert os.path.isdir(directory)
    _write_files(directory)
    assert _tree(directory)['docs/report.txt'] == ('file',
                                                   b'first version\n')

    cifs_id, res = _create_cli(daemon, proto='CIFS')
    cifs_inst = _instance(daemon.db, cifs_id)
    assert _live_paths(daemon.db, cifs_inst['id']) == [
        '\\\\127.0.0.1\\share-%s' % cifs_inst['id']]
    assert os.path.isdir(os.path.join(_pool_dir(tmp_path),
                                      'share-%s' % cifs_inst['id']))

    for sid in (share_id, cifs_id):
        daemon.manage('share', 'delete', sid, '--wait', '60')
    assert not os.path.exists(directory)
    assert sorted(os.listdir(_pool_dir(tmp_path))) == ['.localfs']


def test_backend_errors_end_in_error_with_a_message(daemon_factory,
                                                    fresh_db, tmp_path):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    pool = _pool_dir(tmp_path)
    res = subprocess.run(['chattr', '+i', pool], capture_output=True)
    if res.returncode:
        pytest.skip('chattr +i is not permitted here')
    try:
        share_id, res = _create_cli(daemon, check=False)
    finally:
        subprocess.run(['chattr', '-i', pool])
    assert res.returncode != 0
    assert _instance(daemon.db, share_id)['status'] == 'error'
    msgs = daemon.db.rows('SELECT * FROM messages WHERE resource_id = :r',
                          r=share_id)
    assert [(m['action_id'], m['detail_id']) for m in msgs] == [('002',
                                                                 '001')]
    lines = [line for line in daemon.log_text().splitlines()
             if 'create_share_instance failed' in line]
    assert len(lines) == 1 and 'permission denied' in lines[0], lines
    assert os.listdir(pool) == ['.localfs']


def test_path_escape_is_refused_on_delete(daemon_factory, fresh_db,
                                          tmp_path):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    share_id, _res = _create_cli(daemon)
    directory = _directory_behind(daemon, share_id)
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep me')
    os.rmdir(directory)
    os.symlink(outside, directory)              # the share now points out
    res = daemon.manage('share', 'delete', share_id, '--wait', '30',
                        check=False)
    daemon.wait_for(lambda: _instance(daemon.db, share_id)['status'] ==
                    'error_deleting', timeout=30)
    assert res.returncode != 0 or 'error_deleting' in res.stdout
    assert (outside / 'precious').read_text() == 'keep me'
    assert os.path.islink(directory)
    assert 'outside pool alpha' in daemon.log_text()


# ---------------------------------------------------------------------------
# Waiting for the manager flows of other issues
# ---------------------------------------------------------------------------

def _rows_share(pg_facade, daemon, **extra):
    share, inst = row_helpers.make_share(pg_facade, _ctx(),
                                         host=daemon.pool_host(), **extra)
    return pg_facade.share_get(_ctx(), share['id'])


def _create_share_rpc(pg_facade, share_rpc, daemon, **extra):
    share = _rows_share(pg_facade, daemon, **extra)
    share_rpc.create_share_instance(_ctx(), share['instance'],
                                    daemon.service_hosts[0], {}, {},
                                    snapshot_id=extra.get('snapshot_id'))
    daemon.wait_for(lambda: _instance(daemon.db, share['id'])['status'] ==
                    'available', timeout=60,
                    message='share %s available' % share['id'])
    return share


def _snapshot(pg_facade, share_rpc, daemon, share):
    snapshot = pg_facade.share_snapshot_create(_ctx(), {
        'share_id': share['id'], 'size': share['size'], 'user_id': 'u1',
        'project_id': 'p1', 'display_name': 'snap', 'status': 'creating',
        'progress': '0%', 'share_proto': share['share_proto'],
        'share_size': share['size']})
    share_rpc.create_snapshot(_ctx(), share, snapshot)
    daemon.wait_for(lambda: daemon.db.scalar(
        'SELECT status FROM share_snapshot_instances WHERE snapshot_id = :s',
        s=snapshot['id']) == 'available', timeout=60,
        message='snapshot available')
    return snapshot


@pytest.mark.skipif(SNAPSHOT_FLOWS_MISSING,
                    reason='snapshot flows of the share manager not built '
                           'yet (manila_lite/share/snapshots.py refuses)')
def test_snapshot_change_revert_and_read_back(daemon_factory, fresh_db,
                                              tmp_path, pg_facade,
                                              share_rpc):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    share = _create_share_rpc(pg_facade, share_rpc, daemon)
    directory = _directory_behind(daemon, share['id'])
    _write_files(directory)
    original = _tree(directory)
    snapshot = _snapshot(pg_facade, share_rpc, daemon, share)
    location = daemon.db.scalar(
        'SELECT provider_location FROM share_snapshot_instances WHERE '
        'snapshot_id = :s', s=snapshot['id'])
    assert _tree(location) == original

    with open(os.path.join(directory, 'docs', 'report.txt'), 'w') as f:
        f.write('second version\n')
    os.unlink(os.path.join(directory, 'data.bin'))
    assert _tree(location) == original           # the snapshot kept it

    pg_facade.share_update(_ctx(), share['id'], {'status': 'reverting'})
    pg_facade.share_snapshot_update(_ctx(), snapshot['id'],
                                    {'status': 'restoring'})
    share_rpc.revert_to_snapshot(_ctx(), share, snapshot,
                                 daemon.service_hosts[0], None)
    daemon.wait_for(lambda: _instance(daemon.db, share['id'])['status'] ==
                    'available', timeout=60, message='share reverted')
    assert _tree(directory) == original

    pg_facade.share_snapshot_update(_ctx(), snapshot['id'],
                                    {'status': 'deleting'})
    share_rpc.delete_snapshot(_ctx(), snapshot, daemon.service_hosts[0])
    daemon.wait_for(lambda: not os.path.exists(location), timeout=60,
                    message='snapshot directory removed')


@pytest.mark.skipif(SNAPSHOT_FLOWS_MISSING or CLONE_FLOW_MISSING,
                    reason='snapshots or shares from snapshots are not built '
                           'in the share manager yet')
@pytest.mark.parametrize('threshold_mb', ['1024', '0'],
                         ids=['synchronous', 'background'])
def test_share_from_snapshot_has_the_same_tree(daemon_factory, fresh_db,
                                               tmp_path, pg_facade,
                                               share_rpc, threshold_mb):
    daemon = _start(daemon_factory, fresh_db, tmp_path,
                    localfs_async_copy_threshold_mb=threshold_mb)
    share = _create_share_rpc(pg_facade, share_rpc, daemon)
    directory = _directory_behind(daemon, share['id'])
    _write_files(directory)
    snapshot = _snapshot(pg_facade, share_rpc, daemon, share)
    with open(os.path.join(directory, 'after-snapshot'), 'w') as f:
        f.write('not in the clone')
    clone = _create_share_rpc(pg_facade, share_rpc, daemon,
                              snapshot_id=snapshot['id'])
    clone_dir = _directory_behind(daemon, clone['id'])
    assert clone_dir != directory
    expected = _tree(directory)
    del expected['after-snapshot']
    assert _tree(clone_dir) == expected


@pytest.mark.skipif(ACCESS_FLOW_MISSING,
                    reason='access flows of the share manager not built yet '
                           '(manila_lite/share/access.py refuses)')
def test_exports_file_follows_rules_and_survives_restart(
        daemon_factory, fresh_db, tmp_path, pg_facade, share_rpc):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    share = _create_share_rpc(pg_facade, share_rpc, daemon)
    directory = _directory_behind(daemon, share['id'])
    rules = [pg_facade.share_access_create(_ctx(), {
        'share_id': share['id'], 'access_type': 'ip', 'access_to': to,
        'access_level': level}) for to, level in (('10.0.0.1', 'rw'),
                                                  ('10.2.0.0/16', 'ro'),
                                                  ('not-an-ip', 'rw'))]
    share_rpc.update_access(_ctx(), share['instance'])

    def states():
        return {r['access_id']: r['state'] for r in daemon.db.rows(
            'SELECT access_id, state FROM share_instance_access_map WHERE '
            'deleted = \'False\'')}
    daemon.wait_for(lambda: set(states().values()) <= {'active', 'error'}
                    and len(states()) == 3, timeout=60, message='rules set')
    assert states()[rules[2]['id']] == 'error'
    opts = 'sync,no_subtree_check,no_root_squash'
    expected = ['%s 10.0.0.1(rw,%s) 10.2.0.0/16(ro,%s)'
                % (directory, opts, opts)]
    assert _export_lines(daemon) == expected

    pg_facade.share_instance_access_update(
        _ctx(), rules[1]['id'], share['instance']['id'],
        {'state': 'queued_to_deny'})
    share_rpc.update_access(_ctx(), share['instance'])
    expected = ['%s 10.0.0.1(rw,%s)' % (directory, opts)]
    daemon.wait_for(lambda: _export_lines(daemon) == expected, timeout=60,
                    message='denied rule gone from the exports file')

    daemon.stop()
    with open(_exports_file(daemon), 'w') as f:
        f.write('/ *(rw)\n')                   # damaged while stopped
    daemon.start()
    # RPC is served before the driver set-up (which rewrites the file) ends
    daemon.wait_for(lambda: _export_lines(daemon) == expected, timeout=60,
                    message='exports file rebuilt from the database')


def _allow(pg_facade, share_rpc, daemon, share, to, level='rw'):
    rule = pg_facade.share_access_create(_ctx(), {
        'share_id': share['id'], 'access_type': 'ip', 'access_to': to,
        'access_level': level})
    share_rpc.update_access(_ctx(), share['instance'])
    daemon.wait_for(lambda: daemon.db.scalar(
        'SELECT state FROM share_instance_access_map WHERE access_id = :a '
        'AND deleted = \'False\'', a=rule['id']) in ('active', 'error'),
        timeout=60, message='rule %s applied' % to)
    return rule


def _kernel_exports():
    return subprocess.run(['exportfs', '-v'], capture_output=True,
                          text=True).stdout


@pytest.mark.skipif(ACCESS_FLOW_MISSING or not shutil.which('exportfs'),
                    reason='needs the access flows and nfs-kernel-server\'s '
                           'exportfs')
def test_rules_reach_the_kernel_export_table(daemon_factory, fresh_db,
                                             tmp_path, pg_facade, share_rpc):
    try:
        os.makedirs('/etc/exports.d', exist_ok=True)
    except OSError as exc:
        pytest.skip('cannot write /etc/exports.d: %s' % exc)
    exports_file = '/etc/exports.d/manila-lite-ft-%s.exports' % (
        uuid.uuid4().hex[:8])
    daemon = _start(daemon_factory, fresh_db, tmp_path,
                    localfs_exports_file=exports_file,
                    localfs_apply_nfs_exports='true')
    try:
        share = _create_share_rpc(pg_facade, share_rpc, daemon)
        directory = _directory_behind(daemon, share['id'])
        rule = _allow(pg_facade, share_rpc, daemon, share, '10.0.0.1')
        table = _kernel_exports()
        assert directory in table and '10.0.0.1(' in table, table
        pg_facade.share_instance_access_update(
            _ctx(), rule['id'], share['instance']['id'],
            {'state': 'queued_to_deny'})
        share_rpc.update_access(_ctx(), share['instance'])
        daemon.wait_for(lambda: directory not in _kernel_exports(),
                        timeout=60, message='export withdrawn')
    finally:
        daemon.stop()
        if os.path.exists(exports_file):
            os.unlink(exports_file)
        subprocess.run(['exportfs', '-ra'])


@pytest.mark.skipif(RESIZE_FLOWS_MISSING,
                    reason='extend/shrink flows of the share manager not '
                           'built yet (manila_lite/share/resize.py refuses)')
def test_shrink_is_refused_below_the_data_in_use(daemon_factory, fresh_db,
                                                 tmp_path, pg_facade,
                                                 share_rpc):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    share = _create_share_rpc(pg_facade, share_rpc, daemon, size=3)
    directory = _directory_behind(daemon, share['id'])
    with open(os.path.join(directory, 'big'), 'wb') as f:
        os.posix_fallocate(f.fileno(), 0, 3 * 1024 ** 3 // 2)   # 1.5 GiB

    def resize(method, new_size, *args):
        pg_facade.share_update(_ctx(), share['id'], {
            'status': 'shrinking' if method == 'shrink_share'
            else 'extending'})
        getattr(share_rpc, method)(_ctx(), share, new_size, *args)
        daemon.wait_for(lambda: _instance(daemon.db, share['id'])['status']
                        in ('available', 'shrinking_error',
                            'extending_error'), timeout=60,
                        message='%s finished' % method)
        return daemon.db.scalar('SELECT size FROM shares WHERE id = :i',
                                i=share['id'])

    assert resize('shrink_share', 1) == 3          # refused: 1.5 GiB used
    msgs = daemon.db.rows('SELECT * FROM messages WHERE resource_id = :r',
                          r=share['id'])
    assert [(m['action_id'], m['detail_id']) for m in msgs] == [('009',
                                                                 '018')]
    assert resize('shrink_share', 2) == 2
    assert resize('extend_share', 4, []) == 4
    assert _instance(daemon.db, share['id'])['status'] == 'available'
    assert os.path.getsize(os.path.join(directory, 'big')) == \
        3 * 1024 ** 3 // 2


@pytest.mark.skipif(MANAGE_FLOW_MISSING,
                    reason='manage flows of the share manager not built yet '
                           '(manila_lite/share/manage_existing.py refuses)')
def test_manage_adopts_a_directory_and_refuses_escapes(
        daemon_factory, fresh_db, tmp_path, pg_facade, share_rpc):
    daemon = _start(daemon_factory, fresh_db, tmp_path)
    legacy = os.path.join(_pool_dir(tmp_path), 'legacy')
    os.makedirs(legacy)
    _write_files(legacy)
    original = _tree(legacy)
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'precious').write_text('keep me')

    def manage(path):
        share = _rows_share(pg_facade, daemon, status='manage_starting')
        pg_facade.export_locations_update(_ctx(), share['instance']['id'],
                                          [path])
        share_rpc.manage_share(_ctx(), share, {})
        daemon.wait_for(lambda: _instance(daemon.db, share['id'])['status']
                        in ('available', 'manage_error'), timeout=60,
                        message='manage finished')
        return share

    adopted = manage('127.0.0.1:%s' % legacy)
    assert _instance(daemon.db, adopted['id'])['status'] == 'available'
    assert _live_paths(daemon.db, adopted['instance']['id']) == [
        '127.0.0.1:%s' % legacy]
    assert daemon.db.scalar('SELECT size FROM shares WHERE id = :i',
                            i=adopted['id']) == 1
    assert _tree(legacy) == original

    for escape in ('127.0.0.1:%s/../../outside' % _pool_dir(tmp_path),
                   '127.0.0.1:%s' % outside):
        refused = manage(escape)
        assert _instance(daemon.db, refused['id'])['status'] == \
            'manage_error'
    assert os.listdir(outside) == ['precious']
