"""Reconciliation of instances stranded in transitional states (lost casts, crashes)."""

import datetime

import pytest
from oslo_config import cfg
from oslo_utils import timeutils

from manila_lite.common import constants as c
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
