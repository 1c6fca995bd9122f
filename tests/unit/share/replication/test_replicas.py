"""Replica flows against SQLite and the dummy driver: create, delete, promote, resync, periodic update, reconciliation."""

import datetime

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils
import pytest
import sqlalchemy as sa

from manila_lite.db.sqlalchemy import models
from manila_lite.share import reconcile
from tests.unit.share import helpers
from tests.unit.share.replication import helpers as rh

CONF = cfg.CONF


@pytest.fixture
def env(manager_factory, db, admin_ctx):
    mgr = manager_factory(replication_domain='rd1')
    share, active_id = rh.replicated_share(mgr, db, admin_ctx)
    return mgr, share, active_id


def _create(mgr, share_id, replica_id):
    mgr.create_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                             share_id=share_id)


def _messages(db, ctx, rid):
    return helpers.messages(db, ctx, rid, 'action_id', 'detail_id',
                            'resource_type')


def test_create_replica_copies_rules_and_reaches_in_sync(env, db, admin_ctx):
    mgr, share, active_id = env
    rule = db.share_access_create(admin_ctx, {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1', 'access_level': 'rw'})
    replica_id = rh.add_replica(db, admin_ctx, share['id'])
    _create(mgr, share['id'], replica_id)
    replica = db.share_replica_get(admin_ctx, replica_id)
    assert (replica['status'], replica['replica_state']) == (
        'available', 'in_sync')
    assert replica['progress'] == '100%'
    assert replica['export_locations']
    assert replica['access_rules_status'] == 'active'
    mapping = db.share_instance_access_get(admin_ctx, rule['id'], replica_id)
    assert mapping['state'] == 'active'
    # the active replica is untouched
    assert db.share_replica_get(admin_ctx, active_id)['replica_state'] == (
        'active')


def test_create_replica_driver_failure(env, db, admin_ctx):
    mgr, share, _active = env
    replica_id = rh.add_replica(db, admin_ctx, share['id'])
    rh.fail(['create_replica'])
    with pytest.raises(messaging.ExpectedException):
        _create(mgr, share['id'], replica_id)
    row = rh.instance_row(db, replica_id)
    assert (row['status'], row['replica_state']) == ('error', 'error')
    assert _messages(db, admin_ctx, replica_id) == [
        ('002', '001', 'SHARE_REPLICA')]


def test_create_replica_without_active_replica(env, db, admin_ctx):
    mgr, share, active_id = env
    db.share_instance_update(admin_ctx, active_id, {'status': 'error'})
    replica_id = rh.add_replica(db, admin_ctx, share['id'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _create(mgr, share['id'], replica_id)
    assert 'active' in str(helpers.unwrap(excinfo))
    row = rh.instance_row(db, replica_id)
    assert (row['status'], row['replica_state']) == ('error', 'error')
    assert _messages(db, admin_ctx, replica_id) == [
        ('002', '006', 'SHARE_REPLICA')]


def test_create_replica_ignores_a_replica_not_creating(env, db, admin_ctx):
    mgr, share, _active = env
    replica_id = rh.add_replica(db, admin_ctx, share['id'], status='error')
    _create(mgr, share['id'], replica_id)
    assert rh.instance_row(db, replica_id)['status'] == 'error'


def _available_replica(mgr, db, ctx, share_id):
    replica_id = rh.add_replica(db, ctx, share_id)
    _create(mgr, share_id, replica_id)
    return replica_id


def _usage(db, ctx):
    usage = db.quota_usage_get_all_by_project_and_user(ctx, 'p1', 'u1')
    return {name: value['in_use'] for name, value in usage.items()
            if isinstance(value, dict)}


def test_delete_replica_releases_replica_quota(env, db, admin_ctx):
    mgr, share, active_id = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.reservation_commit(admin_ctx, db.quota_reserve(
        admin_ctx, {'share_replicas': 1, 'replica_gigabytes': 1}, 'p1', 'u1'))
    db.share_instance_update(admin_ctx, replica_id, {'status': 'deleting'})
    mgr.delete_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                             share_id=share['id'])
    assert rh.instance_row(db, replica_id)['deleted'] == replica_id
    usage = _usage(db, admin_ctx)
    assert usage['share_replicas'] == 0
    assert usage['replica_gigabytes'] == 0
    assert db.share_get(admin_ctx, share['id'])['id'] == share['id']


@pytest.mark.parametrize('force, status', [(False, 'error_deleting'),
                                           (True, 'deleted')])
def test_delete_replica_driver_failure(env, db, admin_ctx, force, status):
    mgr, share, _active = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id, {'status': 'deleting'})
    rh.fail(['delete_replica'])
    call = lambda: mgr.delete_share_replica(  # noqa: E731
        helpers.user_ctx(), share_replica_id=replica_id,
        share_id=share['id'], force=force)
    if force:
        call()
    else:
        with pytest.raises(messaging.ExpectedException):
            call()
    assert rh.instance_row(db, replica_id)['status'] == status
    assert ('007', '001', 'SHARE_REPLICA') in _messages(
        db, admin_ctx, replica_id)


def _promote(mgr, share_id, replica_id):
    mgr.promote_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                              share_id=share_id, quiesce_wait_time=5)


def test_promote_swaps_roles(env, db, admin_ctx):
    mgr, share, active_id = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id,
                             {'status': 'replication_change'})
    _promote(mgr, share['id'], replica_id)
    new = rh.instance_row(db, replica_id)
    old = rh.instance_row(db, active_id)
    assert (new['status'], new['replica_state'],
            new['cast_rules_to_readonly']) == ('available', 'active', False)
    assert (old['replica_state'], old['cast_rules_to_readonly']) == (
        'in_sync', True)


def test_promote_driver_failure_marks_every_replica_error(env, db,
                                                          admin_ctx):
    mgr, share, active_id = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id,
                             {'status': 'replication_change'})
    rh.fail(['promote_replica'])
    with pytest.raises(messaging.ExpectedException):
        _promote(mgr, share['id'], replica_id)
    for rid, state in ((replica_id, 'in_sync'), (active_id, 'active')):
        row = rh.instance_row(db, rid)
        assert (row['status'], row['replica_state']) == ('error', state)
        assert _messages(db, admin_ctx, rid) == [
            ('004', '001', 'SHARE_REPLICA')]


def test_promote_invalid_answer_is_a_driver_failure(env, db, admin_ctx):
    mgr, share, active_id = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id,
                             {'status': 'replication_change'})
    rh.fail(['promote_replica'], option='dummy_driver_invalid_return_methods')
    with pytest.raises(messaging.ExpectedException):
        _promote(mgr, share['id'], replica_id)
    assert rh.instance_row(db, active_id)['replica_state'] == 'active'


def test_resync_and_its_failure(env, db, admin_ctx):
    mgr, share, _active = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id,
                             {'replica_state': 'out_of_sync'})
    mgr.update_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                             share_id=share['id'])
    assert rh.instance_row(db, replica_id)['replica_state'] == 'in_sync'
    rh.fail(['update_replica_state'])
    mgr.update_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                             share_id=share['id'])
    row = rh.instance_row(db, replica_id)
    assert (row['status'], row['replica_state']) == ('error', 'error')
    assert _messages(db, admin_ctx, replica_id)[-1] == (
        '005', '001', 'SHARE_REPLICA')


def test_periodic_update_writes_reported_states(env, db, admin_ctx):
    mgr, share, active_id = env
    ids = [_available_replica(mgr, db, admin_ctx, share['id'])
           for _ in range(3)]
    busy = rh.add_replica(db, admin_ctx, share['id'], status='deleting')
    for rid in ids:
        db.share_instance_update(admin_ctx, rid,
                                 {'replica_state': 'out_of_sync'})
    mgr.periodic_share_replica_update(admin_ctx)
    assert {rh.instance_row(db, r)['replica_state'] for r in ids} == {
        'in_sync'}
    assert rh.instance_row(db, busy)['replica_state'] == 'out_of_sync'
    assert rh.instance_row(db, active_id)['replica_state'] == 'active'


def test_periodic_update_without_active_replica(env, db, admin_ctx):
    mgr, share, active_id = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, active_id, {'replica_state': None})
    mgr.periodic_share_replica_update(admin_ctx)
    assert rh.instance_row(db, replica_id)['replica_state'] == 'error'


def test_invalid_replica_state_is_not_written(env, db, admin_ctx):
    mgr, share, _active = env
    replica_id = _available_replica(mgr, db, admin_ctx, share['id'])
    db.share_instance_update(admin_ctx, replica_id,
                             {'replica_state': 'out_of_sync'})
    rh.fail(['update_replica_state'],
            option='dummy_driver_invalid_return_methods')
    mgr.periodic_share_replica_update(admin_ctx)
    assert rh.instance_row(db, replica_id)['replica_state'] == 'out_of_sync'


# -- reconciliation --------------------------------------------------------------

def _age(db, ctx, rid, seconds=3600):
    old = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    table = models.ShareInstance.__table__
    with db.get_engine().begin() as conn:
        conn.execute(sa.update(table).where(table.c.id == rid).values(
            updated_at=old, created_at=old))


def test_reconcile_settles_stranded_replicas(env, db, admin_ctx):
    mgr, share, active_id = env
    CONF.set_override('transitional_state_timeout', 60)
    try:
        creating = rh.add_replica(db, admin_ctx, share['id'])
        deleting = _available_replica(mgr, db, admin_ctx, share['id'])
        db.share_instance_update(admin_ctx, deleting, {'status': 'deleting'})
        promoting = _available_replica(mgr, db, admin_ctx, share['id'])
        db.share_instance_update(admin_ctx, promoting,
                                 {'status': 'replication_change'})
        for rid in (creating, deleting, promoting):
            _age(db, admin_ctx, rid)
        assert reconcile.reconcile(mgr, admin_ctx) == 3
    finally:
        CONF.clear_override('transitional_state_timeout')
    assert rh.instance_row(db, creating)['status'] == 'available'
    assert rh.instance_row(db, deleting)['deleted'] == deleting
    row = rh.instance_row(db, promoting)
    assert (row['status'], row['replica_state']) == ('available', 'in_sync')
    assert rh.instance_row(db, active_id)['replica_state'] == 'active'
    assert _messages(db, admin_ctx, promoting) == [
        ('004', '001', 'SHARE_REPLICA')]
