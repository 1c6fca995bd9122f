"""Reconciliation of instances stranded in transitional states (lost casts, crashes)."""

import datetime

from oslo_config import cfg
from oslo_utils import timeutils
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share import reconcile
from tests.unit.share import helpers

CONF = cfg.CONF


@pytest.fixture
def timeout():
    CONF.set_override('transitional_state_timeout', 60)
    yield 60
    CONF.clear_override('transitional_state_timeout')


def _age(db, ctx, inst_id, seconds):
    """Pretend the row was last touched ``seconds`` ago."""
    import sqlalchemy
    when = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE share_instances SET updated_at = :w, created_at = :w '
            'WHERE id = :i'), {'w': when, 'i': inst_id})


def _status(db, ctx, inst_id):
    deleted_ctx = ctx.elevated(read_deleted='yes')
    return db.share_instance_get(deleted_ctx, inst_id)['status']


def test_stranded_rows_are_settled(manager_factory, db, admin_ctx, timeout):
    mgr = manager_factory()
    _s, creating = helpers.make_share(db, admin_ctx, status='creating')
    _s, deleting = helpers.make_share(db, admin_ctx, status='deleting')
    _s, ensuring = helpers.make_share(db, admin_ctx, status='ensuring')
    share, extending = helpers.make_share(db, admin_ctx, status='extending')
    _s, fresh = helpers.make_share(db, admin_ctx, status='creating')
    _s, elsewhere = helpers.make_share(db, admin_ctx, status='creating',
                                       host='other@alpha#p')
    for inst in (creating, deleting, ensuring, extending, elsewhere):
        _age(db, admin_ctx, inst['id'], 120)
    assert reconcile.reconcile(mgr, admin_ctx) == 4
    assert _status(db, admin_ctx, creating['id']) == c.STATUS_AVAILABLE
    assert _status(db, admin_ctx, deleting['id']) == c.STATUS_DELETED
    assert _status(db, admin_ctx, ensuring['id']) == c.STATUS_AVAILABLE
    assert _status(db, admin_ctx, extending['id']) == c.STATUS_EXTENDING_ERROR
    assert _status(db, admin_ctx, fresh['id']) == c.STATUS_CREATING
    assert _status(db, admin_ctx, elsewhere['id']) == c.STATUS_CREATING
    msgs = [m for m in db.message_get_all(admin_ctx)
            if m['resource_id'] == share['id']]
    assert [m['action_id'] for m in msgs] == ['008']
    # Nothing left to do on the next pass.
    assert reconcile.reconcile(mgr, admin_ctx) == 0


def test_driver_failure_while_settling_creates(manager_factory, db,
                                               admin_ctx, timeout):
    mgr = manager_factory(dummy_driver_fail_methods=['create_share'])
    share, creating = helpers.make_share(db, admin_ctx, status='creating')
    _age(db, admin_ctx, creating['id'], 120)
    reconcile.reconcile(mgr, admin_ctx)
    assert _status(db, admin_ctx, creating['id']) == c.STATUS_ERROR
    assert [m['action_id'] for m in db.message_get_all(admin_ctx)
            if m['resource_id'] == share['id']] == ['002']


def test_in_flight_work_is_left_alone(manager_factory, db, admin_ctx,
                                      timeout):
    mgr = manager_factory()
    _s, creating = helpers.make_share(db, admin_ctx, status='creating')
    _age(db, admin_ctx, creating['id'], 120)
    with mgr.in_flight.track([creating['id']]):
        assert reconcile.reconcile(mgr, admin_ctx) == 0
    assert _status(db, admin_ctx, creating['id']) == c.STATUS_CREATING


def test_disabled_with_zero_timeout(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    _s, creating = helpers.make_share(db, admin_ctx, status='creating')
    _age(db, admin_ctx, creating['id'], 100000)
    CONF.set_override('transitional_state_timeout', 0)
    try:
        assert reconcile.reconcile(mgr, admin_ctx) == 0
    finally:
        CONF.clear_override('transitional_state_timeout')


def test_start_up_settles_even_when_stats_fail(manager_factory, db,
                                               admin_ctx, timeout):
    mgr = manager_factory(dummy_driver_fail_methods=['get_share_stats'])
    _s, extending = helpers.make_share(db, admin_ctx, status='extending')
    _age(db, admin_ctx, extending['id'], 120)
    mgr.init_host(service_id=mgr.service_id)
    assert mgr.last_capabilities is None
    assert _status(db, admin_ctx, extending['id']) == (
        c.STATUS_EXTENDING_ERROR)


def test_row_settled_meanwhile_is_skipped(manager_factory, db, admin_ctx,
                                          timeout, monkeypatch, caplog):
    """A delayed delete request finishing between the query and the settling is no error."""
    mgr = manager_factory()
    _s, deleting = helpers.make_share(db, admin_ctx, status='deleting')
    _age(db, admin_ctx, deleting['id'], 120)
    found = reconcile.find_stranded(mgr, admin_ctx)
    assert [i['id'] for i in found] == [deleting['id']]
    db.share_instance_delete(admin_ctx, deleting['id'])
    monkeypatch.setattr(reconcile, 'find_stranded', lambda m, ctx: found)
    assert reconcile.reconcile(mgr, admin_ctx) == 0
    assert not [r for r in caplog.records if r.levelname == 'ERROR']


def _age_snapshot(db, snapinst_id, seconds):
    import sqlalchemy
    when = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE share_snapshot_instances SET updated_at = :w, '
            'created_at = :w WHERE id = :i'), {'w': when, 'i': snapinst_id})


def test_stranded_snapshot_instances_are_driven_again(manager_factory, db,
                                                      admin_ctx, timeout):
    mgr = manager_factory()
    share, _inst = helpers.make_share(db, admin_ctx, status='available')
    snaps = {}
    for status in ('creating', 'deleting', 'creating'):
        snap = db.share_snapshot_create(admin_ctx, {
            'share_id': share['id'], 'size': 1, 'user_id': 'u1',
            'project_id': 'p1', 'status': status, 'progress': '0%',
            'share_size': 1, 'display_name': 's', 'share_proto': 'NFS'})
        snaps.setdefault(status, []).append(snap.instance['id'])
    fresh = snaps['creating'].pop()
    for snapinst_id in snaps['creating'] + snaps['deleting']:
        _age_snapshot(db, snapinst_id, 120)
    assert reconcile.reconcile(mgr, admin_ctx) == 2

    def status(snapinst_id):
        return db.share_snapshot_instance_get(admin_ctx,
                                              snapinst_id)['status']
    assert status(snaps['creating'][0]) == c.STATUS_AVAILABLE
    with pytest.raises(exception.ShareSnapshotInstanceNotFound):
        status(snaps['deleting'][0])            # deleted
    assert status(fresh) == c.STATUS_CREATING
    assert reconcile.reconcile(mgr, admin_ctx) == 0


def test_one_pass_at_a_time(manager_factory, db, admin_ctx, timeout):
    from oslo_concurrency import lockutils
    mgr = manager_factory()
    _s, creating = helpers.make_share(db, admin_ctx, status='creating')
    _age(db, admin_ctx, creating['id'], 120)
    running = lockutils.internal_lock('reconcile-%s' % mgr.host)
    assert running.acquire(blocking=False)      # the start-up pass
    try:
        assert reconcile.reconcile(mgr, admin_ctx) == 0
    finally:
        running.release()
    assert reconcile.reconcile(mgr, admin_ctx) == 1


def _waiting_rule(db, ctx, inst, share, state):
    """A rule mapping in ``state`` with the instance syncing, as a lost update_access cast leaves it."""
    rule = db.share_access_create(ctx, {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.0.0.%d' % (len(state) % 200), 'access_level': 'rw'})
    if state != c.ACCESS_STATE_QUEUED_TO_APPLY:
        db.share_instance_access_update(ctx, rule['id'], inst['id'],
                                        {'state': state})
    db.share_instance_access_rules_status_update(
        ctx, inst['id'], [c.STATUS_ACTIVE], c.SHARE_INSTANCE_RULES_SYNCING)
    return rule['id']


def _rule_states(db, ctx, inst):
    return sorted(r['state'] for r in
                  db.share_instance_access_get_all(ctx, inst['id']))


def test_lost_access_requests_are_synced_again(manager_factory, db, admin_ctx,
                                               timeout):
    mgr = manager_factory()
    share, stale = helpers.make_share(db, admin_ctx, status='available')
    _waiting_rule(db, admin_ctx, stale, share, c.ACCESS_STATE_QUEUED_TO_APPLY)
    _waiting_rule(db, admin_ctx, stale, share, c.ACCESS_STATE_APPLYING)
    _age(db, admin_ctx, stale['id'], 120)
    share2, fresh = helpers.make_share(db, admin_ctx, status='available')
    _waiting_rule(db, admin_ctx, fresh, share2, c.ACCESS_STATE_QUEUED_TO_APPLY)
    assert reconcile.reconcile(mgr, admin_ctx) == 1
    got = db.share_instance_get(admin_ctx, stale['id'])
    assert got['access_rules_status'] == c.STATUS_ACTIVE
    assert _rule_states(db, admin_ctx, stale) == [c.ACCESS_STATE_ACTIVE] * 2
    # Within the timeout: its request may still be on its way.
    assert db.share_instance_get(admin_ctx, fresh['id'])[
        'access_rules_status'] == c.SHARE_INSTANCE_RULES_SYNCING
    assert _rule_states(db, admin_ctx, fresh) == [
        c.ACCESS_STATE_QUEUED_TO_APPLY]


def test_lost_access_request_with_failing_driver(manager_factory, db,
                                                 admin_ctx, timeout):
    mgr = manager_factory(dummy_driver_fail_methods=['update_access'])
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    _waiting_rule(db, admin_ctx, inst, share, c.ACCESS_STATE_QUEUED_TO_APPLY)
    _age(db, admin_ctx, inst['id'], 120)
    assert reconcile.reconcile(mgr, admin_ctx) == 0
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['access_rules_status'] == c.SHARE_INSTANCE_RULES_ERROR
    assert _rule_states(db, admin_ctx, inst) == [c.ACCESS_STATE_ERROR]
    assert [m['action_id'] for m in db.message_get_all(admin_ctx)
            if m['resource_id'] == share['id']] == ['010']
    # Settled in error: the next pass leaves it alone.
    assert reconcile.reconcile(mgr, admin_ctx) == 0
