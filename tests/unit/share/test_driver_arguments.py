"""What create and delete hand the driver, as upstream's manager: the share for creation data, duration_seconds for delete_share."""

import datetime

import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.share import helpers


def _record(monkeypatch, driver, name, answer=None):
    """Record the calls of a driver method; answer ``answer`` (an exception is raised) or run it."""
    calls = []
    real = getattr(driver, name)

    def recorder(*args, **kwargs):
        calls.append((args, kwargs))
        if isinstance(answer, Exception):
            raise answer
        return real(*args, **kwargs) if answer is None else answer
    monkeypatch.setattr(driver, name, recorder)
    return calls


def test_optional_creation_data_gets_the_share(manager_factory, db,
                                               admin_ctx, monkeypatch):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx)
    calls = _record(monkeypatch, mgr.driver,
                    'get_optional_share_creation_data',
                    answer={'metadata': {'__mount_options': 'noatime'}})
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    (args, kwargs), = calls
    # The shares row, as upstream's create_share_instance passes it.
    assert args[0]['id'] == share['id']
    assert args[0]['display_name'] == share['display_name']
    assert args[0].instance['id'] == inst['id']
    assert kwargs == {'share_server': None}
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        c.STATUS_AVAILABLE)
    assert db.share_metadata_get(admin_ctx, share['id']) == {
        '__mount_options': 'noatime'}


def test_optional_creation_data_failure_fails_the_creation(
        manager_factory, db, admin_ctx, monkeypatch):
    """Upstream asks inside the creation's try: a failure is a failed creation."""
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx)
    _record(monkeypatch, mgr.driver, 'get_optional_share_creation_data',
            answer=exception.ShareBackendException(msg='no data'))
    with pytest.raises(Exception):
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        c.STATUS_ERROR)
    assert [m['action_id'] for m in db.message_get_all(admin_ctx)
            if m['resource_id'] == share['id']] == ['002']


def _deleting(mgr, db, admin_ctx, terminated_at):
    share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(admin_ctx, inst['id'], {
        'status': c.STATUS_DELETING, 'terminated_at': terminated_at})
    return db.share_instance_get(admin_ctx, inst['id'])


def test_delete_share_gets_duration_seconds(manager_factory, db, admin_ctx,
                                            monkeypatch):
    mgr = manager_factory()
    calls = _record(monkeypatch, mgr.driver, 'delete_share')
    inst = _deleting(mgr, db, admin_ctx, None)
    scheduled = inst['scheduled_at']
    with_end = _deleting(mgr, db, admin_ctx,
                         scheduled + datetime.timedelta(seconds=90))
    db.share_instance_update(admin_ctx, with_end['id'],
                             {'scheduled_at': scheduled})
    for row in (inst, with_end):
        mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=row['id'])
    passed = {args[1]['id']: args[1]['duration_seconds']
              for args, _kwargs in calls}
    # Upstream: terminated_at - scheduled_at, else one week.
    assert passed == {inst['id']: 7 * 24 * 3600, with_end['id']: 90.0}


def test_deferred_deletion_retry_gets_duration_seconds(
        manager_factory, db, admin_ctx, monkeypatch):
    mgr = manager_factory()
    inst = _deleting(mgr, db, admin_ctx, None)
    db.share_instance_update(admin_ctx, inst['id'], {
        'status': c.STATUS_ERROR_DEFERRED_DELETING})
    calls = _record(monkeypatch, mgr.driver, 'delete_share')
    mgr.do_deferred_share_deletion(admin_ctx)
    assert [args[1]['duration_seconds'] for args, _kw in calls] == [
        7 * 24 * 3600]
