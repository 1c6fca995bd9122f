"""Share backups through the ShareManager on SQLite: create/delete/restore, the progress polls, the backup state table."""

import oslo_messaging as messaging
import pytest
import sqlalchemy

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share import states
from tests.unit.share import helpers

HOST = 'hostA@alpha'


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id, 'action_id', 'detail_id', 'resource_type')


def _backup(db, ctx, share, status, size=1, **extra):
    """The backup row as upstream's API writes it before casting."""
    values = {'user_id': 'u1', 'project_id': 'p1', 'progress': '0',
              'restore_progress': '0', 'status': status, 'size': size,
              'display_name': 'bk', 'availability_zone': 'nova',
              'host': HOST, 'topic': 'manila-share'}
    values.update(extra)
    return db.share_backup_create(ctx, share['id'], values)


def _wire(backup):
    """What the backup looks like after the RPC serializer (a plain dict)."""
    return {k: (v.isoformat() if hasattr(v, 'isoformat') else v)
            for k, v in backup.items() if not k.startswith('_')}


def _share_status(db, ctx, share):
    return db.share_get(ctx, share['id'])['status']


def _backup_row(db, ctx, backup):
    return db.share_backup_get(ctx, backup['id'])


def _backup_quota(db, ctx):
    usage = db.quota_usage_get_all_by_project_and_user(ctx, 'p1', 'u1')
    return {k: usage[k]['in_use'] for k in ('backups', 'backup_gigabytes')
            if k in usage}


def _available_share(mgr, db, ctx, status):
    share, inst = helpers.make_share(db, ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(ctx, inst['id'], {'status': status})
    return db.share_get(ctx, share['id'])


# -- create ------------------------------------------------------------------

def test_create_backup_then_poll_finishes(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share = _available_share(mgr, db, admin_ctx, c.STATUS_BACKUP_CREATING)
    backup = _backup(db, admin_ctx, share, c.STATUS_CREATING)
    mgr.create_backup(helpers.user_ctx(), backup=_wire(backup))
    assert _backup_row(db, admin_ctx, backup)['status'] == c.STATUS_CREATING
    assert _share_status(db, admin_ctx, share) == c.STATUS_BACKUP_CREATING
    mgr.create_backup_continue(admin_ctx)
    row = _backup_row(db, admin_ctx, backup)
    assert (row['status'], row['progress']) == (c.STATUS_AVAILABLE, '100')
    assert _share_status(db, admin_ctx, share) == c.STATUS_AVAILABLE


def test_create_backup_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['create_backup'])
    share = _available_share(mgr, db, admin_ctx, c.STATUS_BACKUP_CREATING)
    backup = _backup(db, admin_ctx, share, c.STATUS_CREATING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_backup(helpers.user_ctx(), backup=_wire(backup))
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    row = _backup_row(db, admin_ctx, backup)
    assert row['status'] == c.STATUS_ERROR
    assert 'injected failure of create_backup' in row['fail_reason']
    assert _share_status(db, admin_ctx, share) == c.STATUS_AVAILABLE


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['create_backup_continue']},
    {'dummy_driver_invalid_return_methods': ['create_backup_continue']},
])
def test_create_poll_failure(manager_factory, db, admin_ctx, fault):
    mgr = manager_factory(**fault)
    share = _available_share(mgr, db, admin_ctx, c.STATUS_BACKUP_CREATING)
    backup = _backup(db, admin_ctx, share, c.STATUS_CREATING,
                     progress='40')
    mgr.create_backup_continue(admin_ctx)
    row = _backup_row(db, admin_ctx, backup)
    assert (row['status'], row['progress']) == (c.STATUS_ERROR, '0')
    assert _share_status(db, admin_ctx, share) == c.STATUS_AVAILABLE


def test_create_poll_in_progress_and_other_hosts(manager_factory, db,
                                                 admin_ctx, monkeypatch):
    mgr = manager_factory()
    monkeypatch.setattr(mgr.driver, 'create_backup_continue',
                        lambda *a, **k: {'total_progress': 60})
    share = _available_share(mgr, db, admin_ctx, c.STATUS_BACKUP_CREATING)
    mine = _backup(db, admin_ctx, share, c.STATUS_CREATING)
    other = _backup(db, admin_ctx, share, c.STATUS_CREATING,
                    host='hostB@alpha')
    mgr.create_backup_continue(admin_ctx)
    row = _backup_row(db, admin_ctx, mine)
    assert (row['status'], row['progress']) == (c.STATUS_CREATING, '60')
    assert _backup_row(db, admin_ctx, other)['progress'] == '0'
    assert _share_status(db, admin_ctx, share) == c.STATUS_BACKUP_CREATING


def _selects_during(db, func):
    statements = []

    def record(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith('SELECT'):
            statements.append(statement)
    engine = db.get_engine()
    sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
    try:
        func()
    finally:
        sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
    return len(statements)


def test_polls_read_a_constant_number_of_times(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory()

    def run(n, status, share_status, poll):
        for _ in range(n):
            share = _available_share(mgr, db, admin_ctx, share_status)
            backup = _backup(db, admin_ctx, share, status)
            db.share_update(admin_ctx, share['id'],
                            {'source_backup_id': backup['id']})
        return _selects_during(db, lambda: poll(admin_ctx))

    assert run(1, c.STATUS_CREATING, c.STATUS_BACKUP_CREATING,
               mgr.create_backup_continue) == \
        run(4, c.STATUS_CREATING, c.STATUS_BACKUP_CREATING,
            mgr.create_backup_continue)
    assert run(1, c.STATUS_RESTORING, c.STATUS_BACKUP_RESTORING,
               mgr.restore_backup_continue) == \
        run(4, c.STATUS_RESTORING, c.STATUS_BACKUP_RESTORING,
            mgr.restore_backup_continue)


def test_create_backup_bad_input(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share = _available_share(mgr, db, admin_ctx, c.STATUS_BACKUP_CREATING)
    for bad, error in (({}, exception.InvalidInput),
                       ({'id': 'nope'}, exception.ShareBackupNotFound),
                       ('a-string', exception.InvalidInput)):
        with pytest.raises(messaging.ExpectedException) as excinfo:
            mgr.create_backup(helpers.user_ctx(), backup=bad)
        assert isinstance(helpers.unwrap(excinfo), error), bad
    assert _share_status(db, admin_ctx, share) == c.STATUS_BACKUP_CREATING


def test_create_backup_ignores_backup_not_creating(manager_factory, db,
                                                   admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['create_backup'])
    share = _available_share(mgr, db, admin_ctx, c.STATUS_AVAILABLE)
    backup = _backup(db, admin_ctx, share, c.STATUS_AVAILABLE)
    mgr.create_backup(helpers.user_ctx(), backup=_wire(backup))
    assert _backup_row(db, admin_ctx, backup)['status'] == c.STATUS_AVAILABLE


# -- delete ------------------------------------------------------------------

def _charge_backup(db, ctx, size):
    res = db.quota_reserve(ctx, {'backups': 1, 'backup_gigabytes': size},
                           'p1', 'u1')
    db.reservation_commit(ctx, res)


def test_delete_backup_gives_quota_back(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share = _available_share(mgr, db, admin_ctx, c.STATUS_AVAILABLE)
    backup = _backup(db, admin_ctx, share, c.STATUS_DELETING, size=3)
    _charge_backup(db, admin_ctx, 3)
    assert _backup_quota(db, admin_ctx) == {'backups': 1,
                                            'backup_gigabytes': 3}
    mgr.delete_backup(helpers.user_ctx(), backup=_wire(backup))
    with pytest.raises(exception.ShareBackupNotFound):
        _backup_row(db, admin_ctx, backup)
    assert _backup_quota(db, admin_ctx) == {'backups': 0,
                                            'backup_gigabytes': 0}


def test_delete_backup_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['delete_backup'])
    share = _available_share(mgr, db, admin_ctx, c.STATUS_AVAILABLE)
    backup = _backup(db, admin_ctx, share, c.STATUS_DELETING, size=3)
    _charge_backup(db, admin_ctx, 3)
    with pytest.raises(messaging.ExpectedException):
        mgr.delete_backup(helpers.user_ctx(), backup=_wire(backup))
    assert _backup_row(db, admin_ctx, backup)['status'] == \
        c.STATUS_ERROR_DELETING
    assert _backup_quota(db, admin_ctx) == {'backups': 1,
                                            'backup_gigabytes': 3}


# -- restore -----------------------------------------------------------------

def _restoring(mgr, db, ctx, backup_share=None):
    share = _available_share(mgr, db, ctx, c.STATUS_BACKUP_RESTORING)
    backup = _backup(db, ctx, backup_share or share, c.STATUS_RESTORING)
    db.share_update(ctx, share['id'], {'source_backup_id': backup['id']})
    return share, backup


def test_restore_backup_then_poll_finishes(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, backup = _restoring(mgr, db, admin_ctx)
    mgr.restore_backup(helpers.user_ctx(), backup=_wire(backup),
                       share_id=share['id'])
    assert _share_status(db, admin_ctx, share) == c.STATUS_BACKUP_RESTORING
    mgr.restore_backup_continue(admin_ctx)
    row = _backup_row(db, admin_ctx, backup)
    assert (row['status'], row['restore_progress']) == (c.STATUS_AVAILABLE,
                                                        '100')
    assert _share_status(db, admin_ctx, share) == c.STATUS_AVAILABLE


def test_restore_backup_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['restore_backup'])
    share, backup = _restoring(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException):
        mgr.restore_backup(helpers.user_ctx(), backup=_wire(backup),
                           share_id=share['id'])
    assert _share_status(db, admin_ctx, share) == \
        c.STATUS_BACKUP_RESTORING_ERROR
    assert _backup_row(db, admin_ctx, backup)['status'] == c.STATUS_ERROR


def test_restore_to_other_share_unsupported(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    source = _available_share(mgr, db, admin_ctx, c.STATUS_AVAILABLE)
    target, backup = _restoring(mgr, db, admin_ctx, backup_share=source)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.restore_backup(helpers.user_ctx(), backup=_wire(backup),
                           share_id=target['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.BackupException)
    assert _messages(db, admin_ctx, target['id']) == [
        ('028', '032', 'SHARE')]
    assert _share_status(db, admin_ctx, target) == \
        c.STATUS_BACKUP_RESTORING_ERROR
    assert _backup_row(db, admin_ctx, backup)['status'] == c.STATUS_ERROR


def test_restore_to_other_share_when_driver_supports_it(manager_factory, db,
                                                        admin_ctx):
    mgr = manager_factory()
    mgr.driver.restore_to_target_support = True
    source = _available_share(mgr, db, admin_ctx, c.STATUS_AVAILABLE)
    target, backup = _restoring(mgr, db, admin_ctx, backup_share=source)
    mgr.restore_backup(helpers.user_ctx(), backup=_wire(backup),
                       share_id=target['id'])
    mgr.restore_backup_continue(admin_ctx)
    assert _share_status(db, admin_ctx, target) == c.STATUS_AVAILABLE
    assert _share_status(db, admin_ctx, source) == c.STATUS_AVAILABLE


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['restore_backup_continue']},
    {'dummy_driver_invalid_return_methods': ['restore_backup_continue']},
])
def test_restore_poll_failure(manager_factory, db, admin_ctx, fault):
    mgr = manager_factory(**fault)
    share, backup = _restoring(mgr, db, admin_ctx)
    mgr.restore_backup_continue(admin_ctx)
    row = _backup_row(db, admin_ctx, backup)
    # upstream: the backup is usable again, the share is not
    assert (row['status'], row['restore_progress']) == (c.STATUS_AVAILABLE,
                                                        '0')
    assert _share_status(db, admin_ctx, share) == \
        c.STATUS_BACKUP_RESTORING_ERROR


def test_restore_poll_skips_shares_not_restoring(manager_factory, db,
                                                 admin_ctx):
    mgr = manager_factory(
        dummy_driver_fail_methods=['restore_backup_continue'])
    share, backup = _restoring(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, share['instance']['id'],
                             {'status': c.STATUS_AVAILABLE})
    mgr.restore_backup_continue(admin_ctx)
    assert _backup_row(db, admin_ctx, backup)['status'] == c.STATUS_RESTORING


# -- the share_backups state table ------------------------------------------

BACKUP_STATUSES = (c.STATUS_CREATING, c.STATUS_AVAILABLE, c.STATUS_ERROR,
                   c.STATUS_DELETING, c.STATUS_ERROR_DELETING,
                   c.STATUS_RESTORING)


@pytest.mark.parametrize('event', states.SHARE_BACKUP.events())
def test_backup_table_moves_from_sources_only(db, admin_ctx, event):
    share, _inst = helpers.make_share(db, admin_ctx, status='available')
    transition = states.SHARE_BACKUP[event]
    for status in BACKUP_STATUSES:
        backup = _backup(db, admin_ctx, share, status)
        moved = states.advance(admin_ctx, states.SHARE_BACKUP, backup['id'],
                               event)
        now = _backup_row(db, admin_ctx, backup)['status']
        if status in transition.sources:
            assert moved and now == transition.target, (event, status)
        else:
            assert not moved and now == status, (event, status)
