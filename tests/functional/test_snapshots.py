"""Snapshots through the real daemon, RabbitMQ and PostgreSQL: create, delete, shares from snapshots, revert, manage/unmanage."""

import re

import pytest

from manila_lite import context as ml_context
from tests.unit.share import helpers

pytestmark = pytest.mark.functional

_ALL_SNAPSHOT_FAULTS = ('create_snapshot', 'delete_snapshot',
                        'create_share_from_snapshot', 'revert_to_snapshot',
                        'manage_existing_snapshot', 'unmanage_snapshot')


def _ctx():
    return ml_context.RequestContext(user_id='u1', project_id='p1',
                                     roles=['member'])


def _admin_ctx():
    return ml_context.get_admin_context()


def _cloud_admin():
    return ml_context.RequestContext(user_id='admin1', project_id='adminp',
                                     is_admin=True, roles=['admin'])


def _instance_status(daemon, instance_id):
    return daemon.db.scalar('SELECT status FROM share_instances WHERE id = :i',
                            i=instance_id)


def _snap_row(daemon, snapinst_id):
    return daemon.db.row('SELECT * FROM share_snapshot_instances '
                         'WHERE id = :i', i=snapinst_id)


def _wait_snap(daemon, snapinst_id, status, timeout=30):
    daemon.wait_for(lambda: _snap_row(daemon, snapinst_id)['status'] ==
                    status, timeout=timeout,
                    message='snapshot instance %s %s' % (snapinst_id, status))
    return _snap_row(daemon, snapinst_id)


def _wait_instance(daemon, instance_id, status, timeout=30):
    daemon.wait_for(lambda: _instance_status(daemon, instance_id) == status,
                    timeout=timeout,
                    message='share instance %s %s' % (instance_id, status))


def _messages(daemon, resource_id):
    return [(m['action_id'], m['detail_id'], m['resource_type'])
            for m in daemon.db.rows(
                'SELECT * FROM messages WHERE resource_id = :r '
                'ORDER BY created_at', r=resource_id)]


def _snapshot_exports(daemon, snapinst_id):
    return daemon.db.rows(
        "SELECT path, is_admin_only FROM "
        "share_snapshot_instance_export_locations WHERE "
        "share_snapshot_instance_id = :i AND deleted = 'False'",
        i=snapinst_id)


def _available_share(daemon, db, share_rpc, **extra):
    """A share written as the API + scheduler write it, created by the daemon."""
    share, inst = helpers.make_share(db, _admin_ctx(),
                                     host=daemon.pool_host(), **extra)
    share_rpc.create_share_instance(_ctx(), inst, inst['host'], {}, {},
                                    snapshot_id=extra.get('snapshot_id'))
    return share, inst


def _snapshot(db, share, status='creating', **extra):
    """A snapshot as upstream's API writes it before the cast."""
    values = {'share_id': share['id'], 'size': share['size'],
              'user_id': 'u1', 'project_id': 'p1', 'status': status,
              'progress': '0%', 'share_size': share['size'],
              'display_name': 'snap', 'share_proto': share['share_proto']}
    values.update(extra)
    snapshot = db.share_snapshot_create(_admin_ctx(), values)
    return snapshot, snapshot.instance


def _set_snapshot_status(daemon, snapinst_id, status):
    daemon.db.execute('UPDATE share_snapshot_instances SET status = :s '
                      'WHERE id = :i', s=status, i=snapinst_id)


def _set_instance_status(daemon, instance_id, status):
    daemon.db.execute('UPDATE share_instances SET status = :s WHERE id = :i',
                      s=status, i=instance_id)


def _usage(db, user_id='u1'):
    return db.quota_usage_get_all_by_project_and_user(_admin_ctx(), 'p1',
                                                      user_id)


def _commit(db, deltas, user_id='u1', share_type_id=None):
    ctx = _admin_ctx()
    db.reservation_commit(ctx, db.quota_reserve(
        ctx, deltas, 'p1', user_id, share_type_id=share_type_id))


def _create_and_share_from(daemon, db, share_rpc):
    share, inst = _available_share(daemon, db, share_rpc, size=1,
                                   mount_snapshot_support=True)
    _wait_instance(daemon, inst['id'], 'available')
    snapshot, snapinst = _snapshot(db, share)
    share_rpc.create_snapshot(_ctx(), db.share_get(_admin_ctx(), share['id']),
                              snapshot)
    got = _wait_snap(daemon, snapinst['id'], 'available')
    assert got['progress'] == '100%'
    assert got['provider_location'].startswith('/path/to/fake/snapshot/')
    exports = _snapshot_exports(daemon, snapinst['id'])
    assert len(exports) == 3
    assert sorted(e['is_admin_only'] for e in exports) == [False, False, True]

    child, child_inst = _available_share(daemon, db, share_rpc, size=1,
                                         snapshot_id=snapshot['id'])
    _wait_instance(daemon, child_inst['id'], 'available')
    assert daemon.db.scalar(
        'SELECT count(*) FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0', i=child_inst['id']) == 3
    return share, inst, snapshot, snapinst


def _revert(daemon, db, share_rpc, share, inst, snapshot, snapinst):
    """Revert a 2 GB share to its 1 GB snapshot; the API reserved -1 GB."""
    db.share_update(_admin_ctx(), share['id'], {'size': 2})
    _commit(db, {'gigabytes': 2})
    reservations = db.quota_reserve(_admin_ctx(), {'gigabytes': -1}, 'p1',
                                    'u1')
    _set_instance_status(daemon, inst['id'], 'reverting')
    _set_snapshot_status(daemon, snapinst['id'], 'restoring')
    share_rpc.revert_to_snapshot(_ctx(), share, snapshot, inst['host'],
                                 reservations)
    return reservations


def test_snapshot_lifecycle(fresh_db, pg_facade, share_rpc, daemon_factory):
    daemon = daemon_factory(fresh_db)
    db = pg_facade
    share, inst, snapshot, snapinst = _create_and_share_from(daemon, db,
                                                             share_rpc)

    _revert(daemon, db, share_rpc, share, inst, snapshot, snapinst)
    _wait_snap(daemon, snapinst['id'], 'available')
    assert _instance_status(daemon, inst['id']) == 'available'
    assert daemon.db.scalar('SELECT size FROM shares WHERE id = :i',
                            i=share['id']) == 1
    assert _usage(db)['gigabytes'] == {'in_use': 1, 'reserved': 0}

    # Delete: access rules go with it and the quota comes back.
    _commit(db, {'snapshots': 1, 'snapshot_gigabytes': 1},
            share_type_id=inst['share_type_id'])
    db.share_snapshot_access_create(_admin_ctx(), {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    _set_snapshot_status(daemon, snapinst['id'], 'deleting')
    share_rpc.delete_snapshot(_ctx(), snapshot, inst['host'])
    gone = _wait_snap(daemon, snapinst['id'], 'deleted')
    assert gone['deleted'] == snapinst['id']
    assert daemon.db.scalar('SELECT deleted FROM share_snapshots WHERE '
                            'id = :i', i=snapshot['id']) == snapshot['id']
    assert _snapshot_exports(daemon, snapinst['id']) == []
    assert daemon.db.rows(
        "SELECT state FROM share_snapshot_instance_access_map") == [
        {'state': 'deleted'}]
    assert daemon.db.scalar(
        "SELECT count(*) FROM share_snapshot_access_map WHERE "
        "deleted = 'False'") == 0
    # Released right after the soft delete.
    daemon.wait_for(lambda: _usage(db)['snapshots'] ==
                    {'in_use': 0, 'reserved': 0}, message='quota released')

    # Unmanage a second snapshot, then manage it back from the backend.
    second, second_inst = _snapshot(db, share)
    share_rpc.create_snapshot(_ctx(), db.share_get(_admin_ctx(), share['id']),
                              second)
    location = _wait_snap(daemon, second_inst['id'],
                          'available')['provider_location']
    _set_snapshot_status(daemon, second_inst['id'], 'unmanage_starting')
    share_rpc.unmanage_snapshot(_cloud_admin(), second, inst['host'])
    _wait_snap(daemon, second_inst['id'], 'deleted')
    managed, managed_inst = _snapshot(db, share, status='manage_starting',
                                      size=None, provider_location=location)
    share_rpc.manage_snapshot(_cloud_admin(), managed, inst['host'],
                              driver_options={})
    got = _wait_snap(daemon, managed_inst['id'], 'available')
    assert got['provider_location'] == location
    assert daemon.db.scalar('SELECT size FROM share_snapshots WHERE id = :i',
                            i=managed['id']) == 1
    assert daemon.db.scalar(
        "SELECT value FROM share_snapshot_metadata WHERE "
        "share_snapshot_id = :i AND \"key\" = '__managed_at'",
        i=managed['id'])
    # Unmanage released for the calling admin (clamped at 0), manage added 1.
    assert _usage(db, 'admin1')['snapshots']['in_use'] == 1
    assert _usage(db, 'admin1')['snapshot_gigabytes']['in_use'] == 1
    assert daemon.db.rows('SELECT * FROM messages') == []


def test_snapshot_driver_failures(fresh_db, pg_facade, daemon_factory,
                                  share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': list(_ALL_SNAPSHOT_FAULTS)}})
    db = pg_facade
    share, inst = _available_share(daemon, db, share_rpc, size=1,
                                   mount_snapshot_support=True)
    _wait_instance(daemon, inst['id'], 'available')

    failed, failed_inst = _snapshot(db, share)
    share_rpc.create_snapshot(_ctx(), db.share_get(_admin_ctx(), share['id']),
                              failed)
    _wait_snap(daemon, failed_inst['id'], 'error')
    assert _messages(daemon, failed_inst['id']) == [
        ('002', '001', 'SHARE_SNAPSHOT')]
    assert _snapshot_exports(daemon, failed_inst['id']) == []

    # A snapshot the backend had made earlier.
    snapshot, snapinst = _snapshot(db, share, status='available',
                                   provider_location='/somewhere')
    child, child_inst = _available_share(daemon, db, share_rpc, size=1,
                                         snapshot_id=snapshot['id'])
    _wait_instance(daemon, child_inst['id'], 'error')
    assert _messages(daemon, child['id']) == [('002', '001', 'SHARE')]

    reservations = _revert(daemon, db, share_rpc, share, inst, snapshot,
                           snapinst)
    _wait_instance(daemon, inst['id'], 'reverting_error')
    assert _snap_row(daemon, snapinst['id'])['status'] == 'available'
    assert _messages(daemon, share['id']) == [('006', '001', 'SHARE')]
    assert daemon.db.scalar('SELECT size FROM shares WHERE id = :i',
                            i=share['id']) == 2
    for uuid in reservations:
        assert daemon.db.scalar(
            'SELECT count(*) FROM reservations WHERE uuid = :u AND '
            'deleted = 0', u=uuid) == 0

    _set_snapshot_status(daemon, snapinst['id'], 'deleting')
    share_rpc.delete_snapshot(_ctx(), snapshot, inst['host'])
    _wait_snap(daemon, snapinst['id'], 'error_deleting')
    assert _messages(daemon, snapinst['id']) == [
        ('007', '001', 'SHARE_SNAPSHOT')]

    managed, managed_inst = _snapshot(db, share, status='manage_starting',
                                      size=None, provider_location='/x/y')
    share_rpc.manage_snapshot(_cloud_admin(), managed, inst['host'],
                              driver_options={})
    _wait_snap(daemon, managed_inst['id'], 'manage_error')
    assert daemon.db.scalar('SELECT size FROM share_snapshots WHERE id = :i',
                            i=managed['id']) == 1

    # A generic driver error leaves the snapshot unmanage_starting, as
    # upstream (only UnmanageInvalidShareSnapshot means unmanage_error).
    _set_snapshot_status(daemon, failed_inst['id'], 'unmanage_starting')
    share_rpc.unmanage_snapshot(_cloud_admin(), failed, inst['host'])
    daemon.wait_for(lambda: 'unmanage_snapshot failed (request'
                    in daemon.log_text(), timeout=30,
                    message='unmanage_snapshot failure logged')
    assert daemon.db.scalar(
        'SELECT status FROM share_snapshot_instances WHERE id = :i',
        i=failed_inst['id']) == 'unmanage_starting'

    # Each failed cast was logged as one line naming the method.
    log = daemon.log_text()
    for method in ('create_snapshot', 'create_share_instance',
                   'revert_to_snapshot', 'delete_snapshot',
                   'manage_snapshot', 'unmanage_snapshot'):
        assert len(re.findall(r'\b%s failed \(request' % method, log)) == 1, \
            method
