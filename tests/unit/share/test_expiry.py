"""The recycle-bin and transfer expiry periodic tasks through the ShareManager on SQLite: statuses, casts, quota, hints, notifications."""

import datetime

from oslo_config import cfg
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models_infra
from manila_lite import exception
from manila_lite.share import expiry
from tests.unit.share import helpers

CONF = cfg.CONF


def _ago(**delta):
    return timeutils.utcnow() - datetime.timedelta(**delta)


def _binned(db, ctx, status='available', expired=True, **extra):
    """A share in the recycle bin, past (or before) its deletion date."""
    when = _ago(minutes=1) if expired else _ago(minutes=-60)
    return helpers.make_share(db, ctx, status=status, is_soft_deleted=True,
                              scheduled_to_be_deleted_at=when, **extra)


@pytest.fixture
def casts(monkeypatch):
    """A manager whose delete_share_instance casts are recorded."""
    def build(mgr):
        sent = []
        monkeypatch.setattr(
            mgr.share_rpcapi, 'delete_share_instance',
            lambda ctx, inst, force=False, deferred_delete=False: sent.append(
                (inst['id'], inst['host'], force, deferred_delete)))
        return sent
    return build


def _status(db, ctx, inst):
    return db.share_instance_get(ctx, inst['id'])['status']


# -- delete_expired_share -----------------------------------------------------

def test_expired_shares_are_deleted_as_upstreams_api_does(
        manager_factory, db, admin_ctx, casts, caplog):
    mgr = manager_factory()
    sent = casts(mgr)
    available = _binned(db, admin_ctx)[1]
    errored = _binned(db, admin_ctx, status='error_deleting')[1]
    inactive = _binned(db, admin_ctx, status='inactive')[1]
    waiting = _binned(db, admin_ctx, expired=False)[1]
    live = helpers.make_share(db, admin_ctx, status='available',
                              scheduled_to_be_deleted_at=_ago(days=1))[1]
    mgr.delete_expired_share(admin_ctx)
    deleted = [available, errored, inactive]
    assert sorted(sent) == sorted((i['id'], i['host'], False, False)
                                  for i in deleted)
    for inst in deleted:
        row = db.share_instance_get(admin_ctx, inst['id'])
        assert row['status'] == 'deleting' and row['terminated_at']
    assert _status(db, admin_ctx, waiting) == 'available'
    assert _status(db, admin_ctx, live) == 'available'
    # The next run finds them deleting: nothing is sent twice, nor logged.
    caplog.clear()
    mgr.delete_expired_share(admin_ctx)
    assert len(sent) == 3
    assert 'recycle bin' not in caplog.text


def test_deferred_deletion_option(manager_factory, db, admin_ctx, casts):
    CONF.set_override('is_deferred_deletion_enabled', True)
    try:
        mgr = manager_factory()
        sent = casts(mgr)
        inst = _binned(db, admin_ctx)[1]
        mgr.delete_expired_share(admin_ctx)
    finally:
        CONF.clear_override('is_deferred_deletion_enabled')
    assert sent == [(inst['id'], inst['host'], False, True)]
    assert _status(db, admin_ctx, inst) == 'deferred_deleting'


def test_blocked_shares_stay_and_the_rest_goes_on(
        manager_factory, db, admin_ctx, casts, caplog):
    mgr = manager_factory()
    sent = casts(mgr)
    with_snapshot, snap_inst = _binned(db, admin_ctx)
    db.share_snapshot_create(admin_ctx, {
        'share_id': with_snapshot['id'], 'size': 1, 'status': 'available',
        'user_id': 'u1', 'project_id': 'p1'})
    with_backup, backup_inst = _binned(db, admin_ctx)
    db.share_backup_create(admin_ctx, with_backup['id'],
                           {'status': 'available', 'host': 'h'})
    locked, locked_inst = _binned(db, admin_ctx)
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models_infra.ResourceLock.__table__).values(
            id=uuidutils.generate_uuid(), user_id='u1', project_id='p1',
            lock_context='user', resource_id=locked['id'],
            resource_type='share', resource_action='delete',
            deleted='False'))
    busy_inst = _binned(db, admin_ctx, task_state='migration_in_progress')[1]
    creating_inst = _binned(db, admin_ctx, status='creating')[1]
    free_inst = _binned(db, admin_ctx)[1]
    mgr.delete_expired_share(admin_ctx)
    assert sent == [(free_inst['id'], free_inst['host'], False, False)]
    for inst in (snap_inst, backup_inst, locked_inst, busy_inst):
        assert _status(db, admin_ctx, inst) == 'available'
    assert _status(db, admin_ctx, creating_inst) == 'creating'
    log = caplog.text
    for reason in ('dependent snapshots', 'dependent backups',
                   'dependent resource locks', 'busy (migration_in_progress)',
                   'is creating'):
        assert reason in log, reason


def test_an_instance_without_host_goes_at_once_with_its_quota(
        manager_factory, db, admin_ctx, casts):
    mgr = manager_factory()
    sent = casts(mgr)
    share, inst = _binned(db, admin_ctx, status='error', host=None, size=3)
    db.reservation_commit(admin_ctx, db.quota_reserve(
        admin_ctx, {'shares': 1, 'gigabytes': 3}, 'p1', 'u1',
        share_type_id=inst['share_type_id']))
    mgr.delete_expired_share(admin_ctx)
    assert sent == []
    usages = db.quota_usage_get_all_by_project_and_user(admin_ctx, 'p1',
                                                        'u1')
    assert usages['shares']['in_use'] == 0
    assert usages['gigabytes']['in_use'] == 0
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])


def test_affinity_hints_naming_the_share_are_removed(
        manager_factory, db, admin_ctx, casts):
    mgr = manager_factory()
    casts(mgr)
    near = helpers.make_share(db, admin_ctx, status='available')[0]
    far = helpers.make_share(db, admin_ctx, status='available')[0]
    doomed = _binned(db, admin_ctx)[0]
    other = uuidutils.generate_uuid()
    db.share_metadata_update(admin_ctx, doomed['id'], {
        '__affinity_same_host': near['id'],
        '__affinity_different_host': '%s,%s' % (far['id'], other),
        'kept': 'yes'})
    db.share_metadata_update(admin_ctx, near['id'], {
        '__affinity_same_host': doomed['id']})
    db.share_metadata_update(admin_ctx, far['id'], {
        '__affinity_different_host': '%s,%s' % (doomed['id'], other)})
    mgr.delete_expired_share(admin_ctx)
    assert db.share_metadata_get(admin_ctx, near['id']) == {}
    assert db.share_metadata_get(admin_ctx, far['id']) == {
        '__affinity_different_host': other}
    assert db.share_metadata_get(admin_ctx, doomed['id']) == {'kept': 'yes'}


def test_expired_shares_wait_for_the_driver(manager_factory, db, admin_ctx,
                                            casts):
    mgr = manager_factory()
    sent = casts(mgr)
    inst = _binned(db, admin_ctx)[1]
    mgr.driver.initialized = False
    mgr.delete_expired_share(admin_ctx)
    assert sent == [] and _status(db, admin_ctx, inst) == 'available'


# -- delete_expired_transfers -------------------------------------------------

def _transfer(db, share_id, expired=True, resource_type='share'):
    transfer_id = uuidutils.generate_uuid()
    with db.get_engine().begin() as conn:
        conn.execute(sa.insert(models_infra.Transfer.__table__).values(
            id=transfer_id, resource_type=resource_type,
            resource_id=share_id, display_name='t', salt='s',
            crypt_hash='h', source_project_id='p1', deleted='False',
            expires_at=_ago(seconds=1) if expired else _ago(hours=-1)))
    return transfer_id


def _live_transfers(db):
    table = models_infra.Transfer.__table__
    with db.get_engine().begin() as conn:
        return sorted(conn.scalars(sa.select(table.c.id).where(
            table.c.deleted == 'False')))


def test_expired_transfers_give_the_share_back(manager_factory, db,
                                               admin_ctx, notifications):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx,
                                     status='awaiting_transfer')
    _transfer(db, share['id'])
    pending_share, pending_inst = helpers.make_share(
        db, admin_ctx, status='awaiting_transfer')
    pending = _transfer(db, pending_share['id'], expired=False)
    mgr.delete_expired_transfers(admin_ctx)
    assert _status(db, admin_ctx, inst) == 'available'
    assert _status(db, admin_ctx, pending_inst) == 'awaiting_transfer'
    assert _live_transfers(db) == [pending]
    assert [(pub, event) for pub, event, _p in notifications] == [
        ('share.%s' % CONF.host, 'share.transfer.delete.start'),
        ('share.%s' % CONF.host, 'share.transfer.delete.end')]
    assert notifications[0][2]['share_id'] == share['id']
    assert notifications[0][2]['status'] == 'awaiting_transfer'


def test_transfers_of_gone_or_moved_shares_are_deleted_alone(
        manager_factory, db, admin_ctx, notifications, caplog):
    mgr = manager_factory()
    moved, moved_inst = helpers.make_share(db, admin_ctx, status='error')
    _transfer(db, moved['id'])
    _transfer(db, uuidutils.generate_uuid())
    _transfer(db, uuidutils.generate_uuid(), resource_type='share_network')
    mgr.delete_expired_transfers(admin_ctx)
    assert _live_transfers(db) == []
    assert _status(db, admin_ctx, moved_inst) == 'error'
    assert notifications == []
    assert 'is error, not awaiting_transfer' in caplog.text
    assert 'is gone, not awaiting_transfer' in caplog.text


def test_transfers_expire_without_an_initialized_driver(
        manager_factory, db, admin_ctx):
    mgr = manager_factory()
    mgr.driver.initialized = False
    share, inst = helpers.make_share(db, admin_ctx,
                                     status='awaiting_transfer')
    _transfer(db, share['id'])
    mgr.delete_expired_transfers(admin_ctx)
    assert _status(db, admin_ctx, inst) == 'available'
    assert _live_transfers(db) == []


def test_two_services_racing_on_one_transfer_notify_once(
        manager_factory, db, admin_ctx, notifications, monkeypatch):
    """Both read the expired transfer; only the one whose state change wins notifies."""
    first, second = manager_factory(), manager_factory()
    share, inst = helpers.make_share(db, admin_ctx,
                                     status='awaiting_transfer')
    _transfer(db, share['id'])
    read = expiry._shares_of

    def read_then_lose_the_race(context, transfers):
        shares = read(context, transfers)
        monkeypatch.setattr(expiry, '_shares_of', read)
        second.delete_expired_transfers(context)
        return shares

    monkeypatch.setattr(expiry, '_shares_of', read_then_lose_the_race)
    first.delete_expired_transfers(admin_ctx)
    assert _status(db, admin_ctx, inst) == 'available'
    assert _live_transfers(db) == []
    assert [event for _pub, event, _p in notifications] == [
        'share.transfer.delete.start', 'share.transfer.delete.end']
