"""Share backups through the real daemon: create and restore finished by the periodic polls, delete with quota, driver failures."""

import pytest

from tests.functional import share_rows as rows

pytestmark = pytest.mark.functional

FAST_POLLS = {'driver_backup_continue_update_interval': 1,
              'driver_restore_continue_update_interval': 1}


def _backup(pg, daemon, share, status):
    """The backup row upstream's API writes (quota committed) before casting."""
    ctx = rows.admin_ctx()
    res = pg.quota_reserve(ctx, {'backups': 1,
                                 'backup_gigabytes': share['size']},
                           'p1', 'u1')
    pg.reservation_commit(ctx, res)
    backup = pg.share_backup_create(ctx, share['id'], {
        'user_id': 'u1', 'project_id': 'p1', 'progress': '0',
        'restore_progress': '0', 'status': status, 'size': share['size'],
        'display_name': 'nightly', 'availability_zone': 'nova',
        'host': daemon.service_hosts[0], 'topic': 'manila-share'})
    return _wire(backup)


def _wire(backup):
    return {k: (v.isoformat() if hasattr(v, 'isoformat') else v)
            for k, v in backup.items() if not k.startswith('_')}


def _backup_row(daemon, backup_id):
    return daemon.db.row('SELECT * FROM share_backups WHERE id = :i',
                         i=backup_id)


def _wait_backup(daemon, backup_id, status):
    daemon.wait_for(lambda: _backup_row(daemon, backup_id)['status'] ==
                    status, timeout=30,
                    message='backup %s %s' % (backup_id, status))
    return _backup_row(daemon, backup_id)


def _set_backup(pg, backup, status):
    pg.share_backup_update(rows.admin_ctx(), backup['id'],
                           {'status': status})


def test_create_restore_delete(fresh_db, pg_facade,
                               daemon_factory, share_rpc):
    daemon = daemon_factory(fresh_db, options={'DEFAULT': FAST_POLLS})
    ctx = rows.user_ctx()
    share = rows.available_share(pg_facade, daemon, share_rpc)

    rows.set_status(pg_facade, share['id'], 'backup_creating')
    backup = _backup(pg_facade, daemon, share, 'creating')
    share_rpc.create_backup(ctx, backup)
    row = _wait_backup(daemon, backup['id'], 'available')
    assert row['progress'] == '100'
    rows.wait_status(daemon, share['id'], 'available')
    assert rows.usage(pg_facade, 'backups') == (1, 0)

    _set_backup(pg_facade, backup, 'restoring')
    rows.set_status(pg_facade, share['id'], 'backup_restoring',
                    source_backup_id=backup['id'])
    share_rpc.restore_backup(ctx, backup, share['id'])
    row = _wait_backup(daemon, backup['id'], 'available')
    assert row['restore_progress'] == '100'
    rows.wait_status(daemon, share['id'], 'available')

    _set_backup(pg_facade, backup, 'deleting')
    share_rpc.delete_backup(ctx, backup)
    row = _wait_backup(daemon, backup['id'], 'deleted')
    assert row['deleted'] == backup['id']
    assert rows.usage(pg_facade, 'backups') == (0, 0)
    assert rows.usage(pg_facade, 'backup_gigabytes') == (0, 0)
    assert rows.messages(daemon, share['id']) == []


def test_backup_driver_failures(fresh_db, pg_facade,
                                daemon_factory, share_rpc):
    # The failures are synchronous; the progress polls stay out of the way
    # (a poll could otherwise finish the restore before its cast arrives).
    daemon = daemon_factory(fresh_db, options={
        'DEFAULT': {'driver_backup_continue_update_interval': 3600,
                    'driver_restore_continue_update_interval': 3600},
        'alpha': {'dummy_driver_fail_methods':
                  'create_backup,restore_backup,delete_backup'}})
    ctx = rows.user_ctx()
    share = rows.available_share(pg_facade, daemon, share_rpc)

    rows.set_status(pg_facade, share['id'], 'backup_creating')
    backup = _backup(pg_facade, daemon, share, 'creating')
    share_rpc.create_backup(ctx, backup)
    row = _wait_backup(daemon, backup['id'], 'error')
    assert 'injected failure of create_backup' in row['fail_reason']
    rows.wait_status(daemon, share['id'], 'available')

    _set_backup(pg_facade, backup, 'restoring')
    rows.set_status(pg_facade, share['id'], 'backup_restoring',
                    source_backup_id=backup['id'])
    share_rpc.restore_backup(ctx, backup, share['id'])
    _wait_backup(daemon, backup['id'], 'error')
    rows.wait_status(daemon, share['id'], 'backup_restoring_error')

    _set_backup(pg_facade, backup, 'deleting')
    share_rpc.delete_backup(ctx, backup)
    row = _wait_backup(daemon, backup['id'], 'error_deleting')
    assert row['deleted'] == 'False'
    assert rows.usage(pg_facade, 'backups') == (1, 0)
    log = daemon.log_text()
    for method in ('create_backup', 'restore_backup', 'delete_backup'):
        assert '%s failed' % method in log, method
