"""Start-up ensure as upstream's: a failing get_pool, instances left out of the driver's answer, a raising driver, backend info."""

import datetime
import logging

from oslo_config import cfg
from oslo_utils import timeutils
import pytest

from manila_lite.common import constants as c
from manila_lite import context as ml_context
from tests.unit.share import helpers

CONF = cfg.CONF
NO_POOL = 'hostA@alpha'


def _status(db, ctx, inst_id):
    return db.share_instance_get(ctx, inst_id)['status']


def _available(db, ctx, count, host=NO_POOL + '#p'):
    return [helpers.make_share(db, ctx, status='available', host=host)[1]
            for _ in range(count)]


def _age(db, inst_id):
    import sqlalchemy
    then = timeutils.utcnow() - datetime.timedelta(hours=1)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            'UPDATE share_instances SET updated_at = :w WHERE id = :i'),
            {'w': then, 'i': inst_id})


def _ensuring_flag(db, ctx, mgr):
    return bool(db.service_get(ctx, mgr.service_id)['ensuring'])


def test_get_pool_failure_is_logged_and_the_start_up_goes_on(
        manager_factory, db, admin_ctx, caplog):
    mgr = manager_factory()
    first, second = _available(db, admin_ctx, 2, host=NO_POOL)
    _s, extending = helpers.make_share(db, admin_ctx, status='extending')
    _age(db, extending['id'])
    real_get_pool = mgr.driver.get_pool

    def get_pool(share):
        if share['id'] == first['id']:
            raise RuntimeError('pool lookup broke')
        return real_get_pool(share)
    mgr.driver.get_pool = get_pool
    CONF.set_override('transitional_state_timeout', 60)
    try:
        with caplog.at_level(logging.ERROR):
            mgr.init_host(service_id=mgr.service_id)
    finally:
        CONF.clear_override('transitional_state_timeout')
    assert ('Driver get_pool failed for share instance %s' % first['id']
            in caplog.text)
    # Both ensured; only the second got a pool (the dummy answers None
    # for a host without one, so its host stays).
    assert _status(db, admin_ctx, first['id']) == c.STATUS_AVAILABLE
    assert _status(db, admin_ctx, second['id']) == c.STATUS_AVAILABLE
    assert db.share_instance_get(admin_ctx, first['id'])['host'] == NO_POOL
    # The capabilities report and the reconciliation still ran.
    assert mgr.last_capabilities['share_backend_name'] == 'alpha'
    assert _status(db, admin_ctx, extending['id']) == (
        c.STATUS_EXTENDING_ERROR)
    assert not _ensuring_flag(db, admin_ctx, mgr)


def test_get_pool_answer_is_stored_in_the_host(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory()
    inst, = _available(db, admin_ctx, 1, host=NO_POOL)
    mgr.driver.get_pool = lambda share: 'pool9'
    mgr.ensure_driver_resources(admin_ctx, skip_backend_info_check=True)
    assert db.share_instance_get(admin_ctx, inst['id'])['host'] == (
        NO_POOL + '#pool9')


def test_instances_left_out_of_the_answer_stay_ensuring(manager_factory, db,
                                                        admin_ctx, caplog):
    mgr = manager_factory()
    answered, errored, left_out = _available(db, admin_ctx, 3)
    mgr.driver.ensure_shares = lambda ctx, shares: {
        answered['id']: {},
        errored['id']: {'status': c.STATUS_ERROR},
        'not-ours': {'status': c.STATUS_ERROR}}
    mgr.ensure_driver_resources(admin_ctx, skip_backend_info_check=True)
    assert _status(db, admin_ctx, answered['id']) == c.STATUS_AVAILABLE
    assert _status(db, admin_ctx, errored['id']) == c.STATUS_ERROR
    # As upstream: nothing written for an instance without an answer.
    assert _status(db, admin_ctx, left_out['id']) == c.STATUS_ENSURING
    assert not _ensuring_flag(db, admin_ctx, mgr)
    assert 'answered for 2 of 3 share instances' in caplog.text


@pytest.mark.parametrize('answer', ['raise', None, ['not', 'a', 'dict']])
def test_failed_bulk_ensure_leaves_rows_ensuring(manager_factory, db,
                                                 admin_ctx, answer):
    mgr = manager_factory()
    ids = [i['id'] for i in _available(db, admin_ctx, 3)]

    def ensure_shares(ctx, shares):
        if answer == 'raise':
            raise RuntimeError('backend unreachable')
        return answer
    mgr.driver.ensure_shares = ensure_shares
    mgr.driver.get_backend_info = lambda ctx: {'version': '2'}
    mgr.ensure_driver_resources(admin_ctx)
    assert [_status(db, admin_ctx, i) for i in ids] == (
        [c.STATUS_ENSURING] * 3)
    assert not _ensuring_flag(db, admin_ctx, mgr)
    # The backend info is saved all the same, as upstream does.
    assert db.backend_info_get(admin_ctx, mgr.host)['info_hash']


def test_without_status_updates_rows_are_not_touched(manager_factory, db,
                                                     admin_ctx):
    CONF.set_override('update_shares_status_on_ensure', False)
    try:
        mgr = manager_factory()
        answered, left_out = _available(db, admin_ctx, 2)
        mgr.driver.ensure_shares = lambda ctx, shares: {answered['id']: {}}
        mgr.ensure_driver_resources(admin_ctx, skip_backend_info_check=True)
    finally:
        CONF.clear_override('update_shares_status_on_ensure')
    assert _status(db, admin_ctx, answered['id']) == c.STATUS_AVAILABLE
    assert _status(db, admin_ctx, left_out['id']) == c.STATUS_AVAILABLE


def test_per_share_ensure_makes_instances_available(manager_factory, db,
                                                    admin_ctx):
    """Upstream's per-share fallback writes available, even without status updates."""
    CONF.set_override('update_shares_status_on_ensure', False)
    try:
        mgr = manager_factory(dummy_driver_fail_methods=['ensure_share'])
        inst, = _available(db, admin_ctx, 1)
        db.share_instance_update(admin_ctx, inst['id'],
                                 {'status': c.STATUS_ENSURING})
        mgr.ensure_driver_resources(admin_ctx, skip_backend_info_check=True)
    finally:
        CONF.clear_override('update_shares_status_on_ensure')
    assert _status(db, admin_ctx, inst['id']) == c.STATUS_AVAILABLE


class _BackendInfo:
    def __init__(self, info):
        self.info = info
        self.calls = 0

    def __call__(self, context):
        self.calls += 1
        return self.info


def _ensure_calls(mgr):
    calls = []
    real = mgr.driver.ensure_share

    def ensure_share(ctx, share, share_server=None):
        calls.append(share['id'])
        return real(ctx, share, share_server=share_server)
    mgr.driver.ensure_share = ensure_share
    return calls


def test_skip_backend_info_check_neither_asks_nor_saves(manager_factory, db,
                                                        admin_ctx):
    mgr = manager_factory()
    _available(db, admin_ctx, 1)
    info = mgr.driver.get_backend_info = _BackendInfo({'version': '1'})
    calls = _ensure_calls(mgr)
    ctx = ml_context.get_admin_context()
    mgr.ensure_driver_resources(ctx, skip_backend_info_check=True)
    assert info.calls == 0 and len(calls) == 1
    assert db.backend_info_get(admin_ctx, mgr.host) is None
    # Without the flag: asked, saved, and the next ensure with the same
    # info is skipped.
    mgr.ensure_driver_resources(ctx)
    saved = db.backend_info_get(admin_ctx, mgr.host)['info_hash']
    assert info.calls == 1 and len(calls) == 2
    mgr.ensure_driver_resources(ctx)
    assert info.calls == 2 and len(calls) == 2
    # The flag ensures anyway and keeps the saved hash as it was.
    info.info = {'version': '2'}
    mgr.ensure_driver_resources(ctx, skip_backend_info_check=True)
    assert info.calls == 2 and len(calls) == 3
    assert db.backend_info_get(admin_ctx, mgr.host)['info_hash'] == saved


def test_empty_backend_info_with_nothing_stored_skips_as_upstream(
        manager_factory, db, admin_ctx):
    mgr = manager_factory()
    _available(db, admin_ctx, 1)
    mgr.driver.get_backend_info = _BackendInfo({})
    calls = _ensure_calls(mgr)
    mgr.ensure_driver_resources(admin_ctx)
    assert calls == []
    assert db.backend_info_get(admin_ctx, mgr.host) is None
