"""The periodic share usage gathering: which instances the driver sees, the share.consumed.size notifications, bad driver output."""

from oslo_config import cfg
import pytest
import sqlalchemy

from tests.unit.share import helpers

CONF = cfg.CONF


@pytest.fixture
def gathering():
    CONF.set_override('enable_gathering_share_usage_size', True)
    yield
    CONF.clear_override('enable_gathering_share_usage_size')


def test_usage_notified_for_available_instances(manager_factory, db,
                                                admin_ctx, notifications,
                                                gathering):
    mgr = manager_factory(dummy_driver_share_used_size=0.5)
    share, inst = helpers.make_share(db, admin_ctx, status='available',
                                     size=3)
    helpers.make_share(db, admin_ctx, status='error')
    helpers.make_share(db, admin_ctx, status='available',
                       host='otherhost@alpha#p')
    mgr.update_share_usage_size(admin_ctx)
    (publisher, event, payload), = notifications
    assert publisher == 'share.hostA@alpha'
    assert event == 'share.consumed.size'
    assert payload['share_id'] == share['id']
    assert payload['used_size'] == 0.5 and payload['size'] == 3
    assert payload['project_id'] == 'p1' and payload['share_type'] == \
        'default'
    assert payload['gathered_at'] is not None


def test_usage_disabled_by_default(manager_factory, db, admin_ctx,
                                   notifications):
    mgr = manager_factory()
    helpers.make_share(db, admin_ctx, status='available')
    mgr.update_share_usage_size(admin_ctx)
    assert notifications == []


@pytest.mark.parametrize('fault', [
    {'dummy_driver_fail_methods': ['update_share_usage_size']},
    {'dummy_driver_invalid_return_methods': ['update_share_usage_size']},
])
def test_usage_driver_failure_is_logged_not_raised(manager_factory, db,
                                                   admin_ctx, notifications,
                                                   gathering, fault):
    mgr = manager_factory(**fault)
    helpers.make_share(db, admin_ctx, status='available')
    mgr.update_share_usage_size(admin_ctx)
    assert notifications == []


def test_usage_skips_bad_entries(manager_factory, db, admin_ctx,
                                 notifications, gathering, monkeypatch):
    mgr = manager_factory()
    _share, inst = helpers.make_share(db, admin_ctx, status='available')
    monkeypatch.setattr(mgr.driver, 'update_share_usage_size',
                        lambda ctx, shares: [
                            'junk', {'id': 'unknown', 'used_size': 1},
                            {'id': inst['id'], 'used_size': -1},
                            {'id': inst['id'], 'used_size': True},
                            {'id': inst['id'], 'used_size': 2,
                             'gathered_at': 5},
                            {'id': inst['id'], 'used_size': 2}])
    mgr.update_share_usage_size(admin_ctx)
    assert [p['used_size'] for _pub, _e, p in notifications] == [2]


def test_usage_reads_a_constant_number_of_times(manager_factory, db,
                                                admin_ctx, notifications,
                                                gathering):
    mgr = manager_factory()
    engine = db.get_engine()

    def selects(n):
        for _ in range(n):
            helpers.make_share(db, admin_ctx, status='available')
        seen = []

        def record(conn, cursor, statement, *args):
            seen.append(statement)
        sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
        try:
            mgr.update_share_usage_size(admin_ctx)
        finally:
            sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
        return len(seen)

    assert selects(1) == selects(5)


# -- share.create.* and share.delete.* around the instance flows -------------

USAGE_KEYS = {'share_id', 'user_id', 'project_id', 'snapshot_id',
              'share_group_id', 'size', 'name', 'description', 'proto',
              'is_public', 'availability_zone', 'host', 'status',
              'share_type_id', 'share_type'}


def _events(notifications):
    return [event for _pub, event, _payload in notifications]


def test_create_and_delete_are_notified(manager_factory, db, admin_ctx,
                                        notifications):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, size=2)
    mgr.create_share_instance(admin_ctx, share_instance_id=inst['id'])
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(admin_ctx, share_instance_id=inst['id'])
    assert _events(notifications) == [
        'share.create.start', 'share.create.end', 'share.delete.start',
        'share.delete.end']
    for publisher, _event, payload in notifications:
        assert publisher == 'share.hostA@alpha'
        assert set(payload) == USAGE_KEYS
        assert payload['share_id'] == share['id']
        assert payload['size'] == 2 and payload['share_type'] == 'default'
        assert payload['host'] == inst['host']
    # Each payload shows the instance as the flow loaded it (as upstream).
    assert [p['status'] for _pub, _e, p in notifications] == [
        'creating', 'creating', 'deleting', 'deleting']


def test_a_failed_create_or_delete_sends_no_end(manager_factory, db,
                                                admin_ctx, notifications):
    mgr = manager_factory(
        dummy_driver_fail_methods=['create_share', 'delete_share'])
    _share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(Exception):
        mgr.create_share_instance(admin_ctx, share_instance_id=inst['id'])
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    with pytest.raises(Exception):
        mgr.delete_share_instance(admin_ctx, share_instance_id=inst['id'])
    assert _events(notifications) == ['share.create.start',
                                      'share.delete.start']


def test_create_from_snapshot_is_notified(manager_factory, db, admin_ctx,
                                          notifications):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    snapshot = db.share_snapshot_create(admin_ctx, {
        'share_id': share['id'], 'size': 1, 'status': 'available',
        'user_id': 'u1', 'project_id': 'p1'})
    child, child_inst = helpers.make_share(db, admin_ctx,
                                           snapshot_id=snapshot['id'])
    mgr.create_share_instance(admin_ctx, share_instance_id=child_inst['id'],
                              snapshot_id=snapshot['id'])
    assert _events(notifications) == ['share.create.start',
                                      'share.create.end']
    assert notifications[-1][2]['snapshot_id'] == snapshot['id']
    assert notifications[-1][2]['share_id'] == child['id']


def test_deferred_deletion_is_notified_when_the_rows_go(
        manager_factory, db, admin_ctx, notifications):
    mgr = manager_factory(dummy_driver_fail_methods=['delete_share'])
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': 'deferred_deleting'})
    mgr.delete_share_instance(admin_ctx, share_instance_id=inst['id'],
                              deferred_delete=True)
    assert _events(notifications) == ['share.delete.start']
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        'error_deferred_deleting'
    # The periodic retry with a working driver finishes it: delete.end.
    CONF.clear_override('dummy_driver_fail_methods', group='alpha')
    mgr.do_deferred_share_deletion(admin_ctx)
    assert _events(notifications) == ['share.delete.start',
                                      'share.delete.end']
    assert notifications[-1][2]['share_id'] == share['id']
    assert notifications[-1][2]['status'] == 'error_deferred_deleting'
