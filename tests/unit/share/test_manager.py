"""ShareManager against SQLite and the dummy driver: transitions, user messages and bad input."""

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share import rpcapi
from tests.unit.share import helpers


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id)


def test_rpc_version_has_one_home(manager_factory):
    mgr = manager_factory()
    assert mgr.RPC_API_VERSION == rpcapi.RPC_API_VERSION == '1.30'
    assert mgr.target.version == '1.30'


def test_create_share_instance_success(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              request_spec={}, filter_properties={},
                              snapshot_id=None)
    got = db.share_instance_get(admin_ctx, inst['id'], with_share_data=True)
    assert got['status'] == c.STATUS_AVAILABLE
    assert got['progress'] == '100%'
    assert got['launched_at'] is not None
    assert got['availability_zone'] == 'nova'
    paths = [el['path'] for el in
             db.export_location_get_all_by_share_instance_id(admin_ctx,
                                                             inst['id'])]
    assert len(paths) == 3
    assert all(p.endswith(got['name'].replace('-', '_')) or p for p in paths)


def test_create_share_instance_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['create_share'])
    share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ManilaException)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == c.STATUS_ERROR
    msgs = _messages(db, admin_ctx, share['id'])
    assert [(m['action_id'], m['detail_id'], m['resource_type'])
            for m in msgs] == [('002', '001', 'SHARE')]
    assert msgs[0]['project_id'] == 'p1'


def test_create_share_instance_garbage_from_driver(manager_factory, db,
                                                   admin_ctx):
    mgr = manager_factory(dummy_driver_invalid_return_methods=['create_share'])
    share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(messaging.ExpectedException):
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    assert _messages(db, admin_ctx, share['id'])


def test_create_ignores_instance_not_creating(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'available'
    assert not db.export_location_get_all_by_share_instance_id(admin_ctx,
                                                               inst['id'])


@pytest.mark.parametrize('bad_id, error', [
    ('no-such-instance', exception.ShareInstanceNotFound),
    (123, exception.InvalidInput),
    ('', exception.InvalidInput),
    ('x' * 300, exception.InvalidInput),
    ({'id': 'x'}, exception.InvalidInput),
])
def test_create_bad_input_changes_nothing(manager_factory, db, admin_ctx,
                                          bad_id, error):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=bad_id)
    assert isinstance(helpers.unwrap(excinfo), error)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'creating'


def test_missing_argument_is_invalid_input(manager_factory):
    mgr = manager_factory()
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_share_instance(helpers.user_ctx())
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidInput)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.delete_share_instance(helpers.user_ctx(), share_instance_id='a',
                                  force='yes')
    assert 'force' in str(helpers.unwrap(excinfo))


def _live_rows(db, table, instance_id):
    import sqlalchemy
    live = "'False'" if table == 'share_instance_access_map' else '0'
    with db.get_engine().connect() as conn:
        return conn.execute(sqlalchemy.text(
            'SELECT count(*) FROM %s WHERE share_instance_id = :i AND '
            'deleted = %s' % (table, live)), {'i': instance_id}).scalar()


def _available_share(mgr, db, admin_ctx, **kwargs):
    share, inst = helpers.make_share(db, admin_ctx, **kwargs)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    return share, inst


def test_delete_share_instance_success(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available_share(mgr, db, admin_ctx, size=3)
    for _ in range(2):
        reservations = db.quota_reserve(
            admin_ctx, {'shares': 1, 'gigabytes': 3}, 'p1', 'u1',
            share_type_id=inst['share_type_id'])
        db.reservation_commit(admin_ctx, reservations, 'p1', 'u1',
                              inst['share_type_id'])
    db.share_access_create(admin_ctx, {'share_id': share['id'],
                                       'access_type': 'ip',
                                       'access_to': '10.0.0.0/24',
                                       'access_level': 'rw'})
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              force=False, deferred_delete=False)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])
    live = _live_rows(db, 'share_instance_export_locations', inst['id'])
    assert live == 0
    assert _live_rows(db, 'share_instance_access_map', inst['id']) == 0
    deleted_ctx = admin_ctx.elevated(read_deleted='yes')
    gone = db.share_instance_get(deleted_ctx, inst['id'])
    assert gone['status'] == c.STATUS_DELETED and gone['deleted'] == inst['id']
    # Two shares' worth was committed; the delete gave one back, on both the
    # per-user and the per-share-type usage rows.
    by_user = db.quota_usage_get_all_by_project_and_user(admin_ctx, 'p1', 'u1')
    by_type = db.quota_usage_get_all_by_project_and_share_type(
        admin_ctx, 'p1', inst['share_type_id'])
    for usage in (by_user, by_type):
        assert usage['shares']['in_use'] == 1
        assert usage['gigabytes']['in_use'] == 3


def test_delete_share_instance_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['delete_share'])
    share, inst = _available_share(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    with pytest.raises(messaging.ExpectedException):
        mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == c.STATUS_ERROR_DELETING
    assert [(m['action_id'], m['detail_id'])
            for m in _messages(db, admin_ctx, inst['id'])] == [('007', '001')]
    assert db.export_location_get_all_by_share_instance_id(admin_ctx,
                                                           inst['id'])


def test_force_delete_survives_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['delete_share'])
    share, inst = _available_share(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              force=True)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])
    assert _messages(db, admin_ctx, inst['id'])


def test_driver_not_initialized_touches_nothing(manager_factory, db,
                                                admin_ctx):
    mgr = manager_factory(init=False)
    share, inst = helpers.make_share(db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.DriverNotInitialized)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'creating'


def test_ensure_at_start(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    _s1, available = _available_share(mgr, db, admin_ctx)
    _s2, creating = helpers.make_share(db, admin_ctx)
    _s3, other_host = helpers.make_share(db, admin_ctx, status='available',
                                         host='otherhost@alpha#p')
    mgr.init_host(service_id=mgr.service_id)
    assert db.share_instance_get(admin_ctx, available['id'])['status'] == \
        'available'
    assert db.share_instance_get(admin_ctx, creating['id'])['status'] == \
        'creating'
    assert db.share_instance_get(admin_ctx, other_host['id'])['status'] == \
        'available'
    assert mgr.last_capabilities['share_backend_name'] == 'alpha'
    svc = db.service_get(admin_ctx, mgr.service_id)
    assert svc['ensuring'] is False or svc['ensuring'] == 0


def test_ensure_statement_count_does_not_grow(manager_factory, db, admin_ctx):
    import sqlalchemy
    mgr = manager_factory()
    engine = db.get_engine()

    def count_for(n):
        for _ in range(n):
            helpers.make_share(db, admin_ctx, status='available')
        statements = []

        def record(*args, **kwargs):
            statements.append(args[2])
        sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
        try:
            mgr.ensure_driver_resources(helpers.user_ctx(),
                                        skip_backend_info_check=True)
        finally:
            sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
        return len(statements)

    small = count_for(5)
    large = count_for(60)
    assert small == large
