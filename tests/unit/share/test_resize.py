"""Extend and shrink through the ShareManager on SQLite: statuses, sizes, quota, user messages, notifications."""

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.share import helpers


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id, 'action_id', 'detail_id', 'resource_type',
                            'project_id')


def _gigabytes(db, ctx, inst):
    """(in_use, reserved) of gigabytes for user u1 and for the share type."""
    user = db.quota_usage_get_all_by_project_and_user(ctx, 'p1', 'u1')
    stype = db.quota_usage_get_all_by_project_and_share_type(
        ctx, 'p1', inst['share_type_id'])
    empty = {'in_use': 0, 'reserved': 0}
    return [(u.get('gigabytes', empty)['in_use'],
             u.get('gigabytes', empty)['reserved']) for u in (user, stype)]


def _charged_share(db, ctx, size, status):
    """A share whose creation quota is committed, as upstream's API leaves it."""
    share, inst = helpers.make_share(db, ctx, status=status, size=size)
    res = db.quota_reserve(ctx, {'shares': 1, 'gigabytes': size}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    db.reservation_commit(ctx, res)
    return share, inst


def _status(db, ctx, inst):
    return db.share_instance_get(ctx, inst['id'])['status']


# -- extend ----------------------------------------------------------------

def test_extend_success_commits_quota(manager_factory, db, admin_ctx,
                                      notifications):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 1, c.STATUS_EXTENDING)
    res = db.quota_reserve(admin_ctx, {'gigabytes': 2}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    assert _gigabytes(db, admin_ctx, inst) == [(1, 2), (1, 2)]
    mgr.extend_share(helpers.user_ctx(), share_id=share['id'], new_size=3,
                     reservations=res)
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert db.share_get(admin_ctx, share['id'])['size'] == 3
    assert _gigabytes(db, admin_ctx, inst) == [(3, 0), (3, 0)]
    assert _messages(db, admin_ctx, share['id']) == []
    assert [e for _pub, e, _p in notifications] == [
        'share.extend.start', 'share.extend.end']
    assert notifications[-1][2]['size'] == 3
    assert notifications[-1][2]['share_id'] == share['id']


def test_extend_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['extend_share'])
    share, inst = _charged_share(db, admin_ctx, 1, c.STATUS_EXTENDING)
    res = db.quota_reserve(admin_ctx, {'gigabytes': 1}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.extend_share(helpers.user_ctx(), share_id=share['id'], new_size=2,
                         reservations=res)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareExtendingError)
    assert _status(db, admin_ctx, inst) == c.STATUS_EXTENDING_ERROR
    assert db.share_get(admin_ctx, share['id'])['size'] == 1
    assert _gigabytes(db, admin_ctx, inst) == [(1, 0), (1, 0)]
    assert _messages(db, admin_ctx, share['id']) == [
        ('008', '015', 'SHARE', 'p1')]


@pytest.mark.parametrize('new_size', [2, 1])
def test_extend_to_a_size_not_larger_reaches_the_driver(
        manager_factory, db, admin_ctx, monkeypatch, new_size):
    """As upstream: the share service leaves the size check to the API."""
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 2, c.STATUS_EXTENDING)
    calls = []
    real = mgr.driver.extend_share

    def extend_share(share_instance, size, share_server=None):
        calls.append((share_instance['id'], size))
        return real(share_instance, size, share_server=share_server)
    monkeypatch.setattr(mgr.driver, 'extend_share', extend_share)
    mgr.extend_share(helpers.user_ctx(), share_id=share['id'], new_size=new_size,
                     reservations=[])
    assert calls == [(inst['id'], new_size)]
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert db.share_get(admin_ctx, share['id'])['size'] == new_size
    assert _messages(db, admin_ctx, share['id']) == []


def test_extend_ignores_share_not_extending(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 1, c.STATUS_AVAILABLE)
    res = db.quota_reserve(admin_ctx, {'gigabytes': 1}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    mgr.extend_share(helpers.user_ctx(), share_id=share['id'], new_size=2,
                     reservations=res)
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert db.share_get(admin_ctx, share['id'])['size'] == 1
    assert _gigabytes(db, admin_ctx, inst) == [(1, 0), (1, 0)]


@pytest.mark.parametrize('new_size', [0, -1, '2', None, True])
def test_extend_rejects_malformed_size(manager_factory, db, admin_ctx,
                                       new_size):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 1, c.STATUS_EXTENDING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.extend_share(helpers.user_ctx(), share_id=share['id'],
                         new_size=new_size, reservations=[])
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)
    assert _status(db, admin_ctx, inst) == c.STATUS_EXTENDING


def test_extend_unknown_share(manager_factory):
    mgr = manager_factory()
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.extend_share(helpers.user_ctx(), share_id='no-such-share', new_size=2,
                         reservations=[])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareNotFound)


def test_extend_of_share_deleted_meanwhile_rolls_back(manager_factory, db,
                                                      admin_ctx):
    """A force-delete that ran before the extend request: its reservation goes back."""
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 1, c.STATUS_EXTENDING)
    res = db.quota_reserve(admin_ctx, {'gigabytes': 1}, 'p1', 'u1',
                           share_type_id=inst['share_type_id'])
    assert _gigabytes(db, admin_ctx, inst) == [(1, 1), (1, 1)]
    db.share_instance_delete(admin_ctx, inst['id'],
                             need_to_update_usages=True)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.extend_share(helpers.user_ctx(), share_id=share['id'], new_size=2,
                         reservations=res)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareNotFound)
    assert _gigabytes(db, admin_ctx, inst) == [(0, 0), (0, 0)]


# -- shrink ------------------------------------------------------------------

def test_shrink_success_gives_quota_back(manager_factory, db, admin_ctx,
                                         notifications):
    mgr = manager_factory(dummy_driver_share_used_size=1)
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_SHRINKING)
    mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert db.share_get(admin_ctx, share['id'])['size'] == 2
    assert _gigabytes(db, admin_ctx, inst) == [(2, 0), (2, 0)]
    assert _messages(db, admin_ctx, share['id']) == []
    assert [e for _pub, e, _p in notifications] == [
        'share.shrink.start', 'share.shrink.end']


def test_shrink_refused_for_possible_data_loss(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory(dummy_driver_share_used_size=3)
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_SHRINKING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareShrinkingError)
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert db.share_get(admin_ctx, share['id'])['size'] == 5
    assert _gigabytes(db, admin_ctx, inst) == [(5, 0), (5, 0)]
    assert _messages(db, admin_ctx, share['id']) == [
        ('009', '018', 'SHARE', 'p1')]


def test_shrink_not_supported_by_driver(manager_factory, db, admin_ctx,
                                        monkeypatch):
    mgr = manager_factory()

    def not_implemented(share, new_size, share_server=None):
        raise NotImplementedError()
    monkeypatch.setattr(mgr.driver, 'shrink_share', not_implemented)
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_SHRINKING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareShrinkingError)
    assert _status(db, admin_ctx, inst) == c.STATUS_AVAILABLE
    assert _gigabytes(db, admin_ctx, inst) == [(5, 0), (5, 0)]
    assert _messages(db, admin_ctx, share['id']) == [
        ('009', '019', 'SHARE', 'p1')]


def test_shrink_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['shrink_share'])
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_SHRINKING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareShrinkingError)
    assert _status(db, admin_ctx, inst) == c.STATUS_SHRINKING_ERROR
    assert db.share_get(admin_ctx, share['id'])['size'] == 5
    assert _gigabytes(db, admin_ctx, inst) == [(5, 0), (5, 0)]
    # upstream records no user message for a plain driver failure
    assert _messages(db, admin_ctx, share['id']) == []


def test_shrink_quota_failure(manager_factory, db, admin_ctx, monkeypatch):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_SHRINKING)
    from manila_lite.db import api as db_api

    def broken(*args, **kwargs):
        raise RuntimeError('quota tables unavailable')
    monkeypatch.setattr(db_api, 'quota_reserve', broken)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareShrinkingError)
    assert _status(db, admin_ctx, inst) == c.STATUS_SHRINKING_ERROR
    assert db.share_get(admin_ctx, share['id'])['size'] == 5


def test_shrink_to_larger_size_is_rejected(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 2, c.STATUS_SHRINKING)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=3)
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)
    assert _status(db, admin_ctx, inst) == c.STATUS_SHRINKING_ERROR
    assert _gigabytes(db, admin_ctx, inst) == [(2, 0), (2, 0)]
    assert db.share_get(admin_ctx, share['id'])['size'] == 2


def test_shrink_ignores_share_not_shrinking(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _charged_share(db, admin_ctx, 5, c.STATUS_AVAILABLE)
    mgr.shrink_share(helpers.user_ctx(), share_id=share['id'], new_size=2)
    assert db.share_get(admin_ctx, share['id'])['size'] == 5
    assert _gigabytes(db, admin_ctx, inst) == [(5, 0), (5, 0)]
