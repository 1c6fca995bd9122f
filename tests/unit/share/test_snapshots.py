"""Snapshot flows against SQLite and the dummy driver: create, delete, shares from snapshots, revert, manage, periodic tasks."""

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import uuidutils
import pytest
import sqlalchemy

from manila_lite.common import constants as c
from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite.share import states
from tests.unit.share import helpers

CONF = cfg.CONF
ALL_STATUSES = {v for k, v in vars(c).items()
                if k.startswith('STATUS_') and isinstance(v, str)}


def _cloud_admin():
    return ml_context.RequestContext(user_id='admin1', project_id='adminp',
                                     is_admin=True, roles=['admin'])


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id, 'action_id', 'detail_id', 'resource_type',
                            'project_id')


def _rows(db, sql, **params):
    with db.get_engine().connect() as conn:
        return [dict(r._mapping) for r in
                conn.execute(sqlalchemy.text(sql), params)]


def _available_share(mgr, db, ctx, **kwargs):
    share, inst = helpers.make_share(db, ctx, **kwargs)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    return share, db.share_instance_get(ctx, inst['id'], with_share_data=True)


_snapshot = helpers.make_snapshot


def _snapinst(db, ctx, snapinst_id):
    """The snapshot instance row, deleted or not."""
    return _rows(db, 'SELECT * FROM share_snapshot_instances WHERE id = :i',
                 i=snapinst_id)[0]


def _commit(db, ctx, deltas, user_id='u1', share_type_id=None):
    db.reservation_commit(ctx, db.quota_reserve(
        ctx, deltas, 'p1', user_id, share_type_id=share_type_id))


def _usage(db, ctx, user_id='u1', share_type_id=None):
    if share_type_id:
        return db.quota_usage_get_all_by_project_and_share_type(
            ctx, 'p1', share_type_id)
    return db.quota_usage_get_all_by_project_and_user(ctx, 'p1', user_id)


_FAULT_OPTIONS = ('dummy_driver_fail_methods',
                  'dummy_driver_invalid_return_methods')


def _fail(option, methods, backend='alpha'):
    """Change a dummy fault option at run time (read on every call)."""
    assert option in _FAULT_OPTIONS
    CONF.set_override(option, methods, group=backend)


@pytest.fixture(autouse=True)
def _clear_faults():
    yield
    for option in _FAULT_OPTIONS:
        try:
            CONF.clear_override(option, group='alpha')
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            pass


@pytest.fixture
def snap_env(manager_factory, db, admin_ctx):
    """A manager, an available mountable share and a created snapshot."""
    def build(**options):
        mgr = manager_factory(**options)
        share, inst = _available_share(mgr, db, admin_ctx, size=2,
                                       mount_snapshot_support=True)
        snapshot, snapinst = _snapshot(db, admin_ctx, share)
        return mgr, share, inst, snapshot, snapinst
    return build


def _take(mgr, share, snapshot):
    mgr.create_snapshot(helpers.user_ctx(), share_id=share['id'],
                        snapshot_id=snapshot['id'])


# -- the state table ----------------------------------------------------------

def test_snapshot_table_uses_only_upstream_statuses():
    # server_migrating: upstream's API writes it to the snapshot instances
    # of a share server it migrates.
    for t in states.SNAPSHOT_INSTANCE.transitions:
        assert set(t.sources or ()) <= set(c.SHARE_SNAPSHOT_STATUSES) | {
            c.STATUS_DEFERRED_DELETING, c.STATUS_ERROR_DEFERRED_DELETING,
            c.STATUS_SERVER_MIGRATING}, t
        assert t.target in c.SHARE_SNAPSHOT_STATUSES + (
            c.STATUS_ERROR_DEFERRED_DELETING,), t


@pytest.mark.parametrize('event', states.SNAPSHOT_INSTANCE.events())
def test_each_snapshot_transition_moves_from_sources_only(db, admin_ctx,
                                                          event):
    transition = states.SNAPSHOT_INSTANCE[event]
    sources = transition.sources or states.SNAPSHOT_INSTANCE.statuses
    share, _inst = helpers.make_share(db, admin_ctx, status='available')
    for status in sorted(ALL_STATUSES - {c.STATUS_DELETED}):
        _snap, snapinst = _snapshot(db, admin_ctx, share, status=status)
        moved = states.advance(admin_ctx, states.SNAPSHOT_INSTANCE,
                               snapinst['id'], event, {'progress': '7%'})
        now = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
        if status in sources:
            assert moved and now['status'] == transition.target, (event,
                                                                  status)
            assert now['progress'] == '7%'
        else:
            assert not moved and now['status'] == status, (event, status)
            assert now['progress'] == '0%'


# -- create_snapshot ----------------------------------------------------------

def test_create_snapshot_success(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_AVAILABLE
    assert got['progress'] == '100%'
    name = 'snapshot_%s_%s' % (snapshot['id'].replace('-', '_'),
                               snapinst['id'].replace('-', '_'))
    assert got['provider_location'] == '/path/to/fake/snapshot/' + name
    exports = [(el['path'], el['is_admin_only'])
               for el in got['export_locations']]
    assert sorted(exports) == sorted([
        ('11.0.0.11:/path/to/fake/snapshot/' + name, True),
        ('10.0.0.10:/path/to/fake/snapshot/' + name, False),
        ('10.0.0.20:/path/to/fake/snapshot/' + name, False)])
    assert db.share_snapshot_get(admin_ctx, snapshot['id'])['status'] == \
        'available'
    assert _messages(db, admin_ctx, snapinst['id']) == []


def test_create_snapshot_of_unmountable_share_stores_no_exports(
        manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, _inst = _available_share(mgr, db, admin_ctx)
    snapshot, snapinst = _snapshot(db, admin_ctx, share)
    _take(mgr, share, snapshot)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_AVAILABLE
    assert got['export_locations'] == []


def test_create_snapshot_driver_failure(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = snap_env(
        dummy_driver_fail_methods=['create_snapshot'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _take(mgr, share, snapshot)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_ERROR
    assert got['export_locations'] == []
    # Upstream records it against the snapshot *instance* id.
    assert _messages(db, admin_ctx, snapinst['id']) == [
        ('002', '001', 'SHARE_SNAPSHOT', 'p1')]


def test_create_snapshot_garbage_from_driver(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = snap_env(
        dummy_driver_invalid_return_methods=['create_snapshot'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _take(mgr, share, snapshot)
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidShareSnapshot)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_ERROR
    assert got['export_locations'] == []
    assert _messages(db, admin_ctx, snapinst['id']) == [
        ('002', '001', 'SHARE_SNAPSHOT', 'p1')]


def test_create_snapshot_ignores_snapshot_not_creating(snap_env, db,
                                                       admin_ctx):
    mgr, share, inst, snapshot, snapinst = snap_env()
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': 'available'})
    _take(mgr, share, snapshot)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == 'available' and got['provider_location'] is None


@pytest.mark.parametrize('bad_id, error', [
    ('no-such-snapshot', exception.ShareSnapshotNotFound),
    (123, exception.InvalidInput),
    ('', exception.InvalidInput),
])
def test_snapshot_bad_input_changes_nothing(snap_env, db, admin_ctx, bad_id,
                                            error):
    mgr, share, inst, snapshot, snapinst = snap_env()
    for call in (lambda: mgr.create_snapshot(helpers.user_ctx(), share_id=share['id'],
                                             snapshot_id=bad_id),
                 lambda: mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=bad_id),
                 lambda: mgr.revert_to_snapshot(helpers.user_ctx(),
                                                snapshot_id=bad_id)):
        with pytest.raises(messaging.ExpectedException) as excinfo:
            call()
        assert isinstance(helpers.unwrap(excinfo), error)
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == 'creating'
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        'available'
    assert db.message_get_all(admin_ctx) == []


# -- delete_snapshot ----------------------------------------------------------

def _deletable(snap_env, db, admin_ctx, status='deleting', **options):
    """A created snapshot whose quota (two snapshots' worth) is committed."""
    mgr, share, inst, snapshot, snapinst = snap_env(**options)
    _take(mgr, share, snapshot)
    for _ in range(2):
        _commit(db, admin_ctx, {'snapshots': 1, 'snapshot_gigabytes': 2},
                share_type_id=inst['share_type_id'])
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': status})
    return mgr, share, inst, snapshot, snapinst


def _assert_snapshot_quota(db, ctx, inst, snapshots, gigabytes):
    for usage in (_usage(db, ctx),
                  _usage(db, ctx, share_type_id=inst['share_type_id'])):
        assert usage['snapshots']['in_use'] == snapshots
        assert usage['snapshot_gigabytes']['in_use'] == gigabytes


def _assert_gone(db, ctx, snapshot, snapinst):
    with pytest.raises(exception.ShareSnapshotNotFound):
        db.share_snapshot_get(ctx, snapshot['id'])
    gone = _snapinst(db, ctx, snapinst['id'])
    assert gone['status'] == c.STATUS_DELETED
    assert gone['deleted'] == snapinst['id']
    assert _rows(db, "SELECT count(*) AS n FROM "
                     "share_snapshot_instance_export_locations WHERE "
                     "share_snapshot_instance_id = :i AND deleted = 'False'",
                 i=snapinst['id']) == [{'n': 0}]


def test_delete_snapshot_success(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(snap_env, db,
                                                      admin_ctx)
    db.share_snapshot_metadata_update(admin_ctx, snapshot['id'], {'k': 'v'})
    rule = db.share_snapshot_access_create(admin_ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'],
                        force=False, deferred_delete=False)
    _assert_gone(db, admin_ctx, snapshot, snapinst)
    assert _rows(db, "SELECT state, deleted FROM "
                     "share_snapshot_instance_access_map") == [
        {'state': 'deleted', 'deleted': _rows(
            db, 'SELECT id FROM share_snapshot_instance_access_map')[0]['id']}]
    assert _rows(db, 'SELECT deleted FROM share_snapshot_access_map') == [
        {'deleted': rule['id']}]
    assert _rows(db, "SELECT deleted FROM share_snapshot_metadata") != [
        {'deleted': 'False'}]
    _assert_snapshot_quota(db, admin_ctx, inst, 1, 2)
    # The share itself is untouched.
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        'available'


def test_delete_snapshot_driver_failure(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(
        snap_env, db, admin_ctx, dummy_driver_fail_methods=['delete_snapshot'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_ERROR_DELETING
    assert len(got['export_locations']) == 3
    assert _messages(db, admin_ctx, snapinst['id']) == [
        ('007', '001', 'SHARE_SNAPSHOT', 'p1')]
    _assert_snapshot_quota(db, admin_ctx, inst, 2, 4)


def test_force_delete_snapshot_survives_driver_failure(snap_env, db,
                                                       admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(
        snap_env, db, admin_ctx, dummy_driver_fail_methods=['delete_snapshot'])
    mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'], force=True)
    _assert_gone(db, admin_ctx, snapshot, snapinst)
    assert _messages(db, admin_ctx, snapinst['id']) == [
        ('007', '001', 'SHARE_SNAPSHOT', 'p1')]
    _assert_snapshot_quota(db, admin_ctx, inst, 1, 2)


def test_deferred_delete_success_releases_quota_once(snap_env, db,
                                                     admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(
        snap_env, db, admin_ctx, status='deferred_deleting')
    mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'],
                        deferred_delete=True)
    _assert_gone(db, admin_ctx, snapshot, snapinst)
    _assert_snapshot_quota(db, admin_ctx, inst, 1, 2)


def test_deferred_delete_failure_is_retried_periodically(snap_env, db,
                                                         admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(
        snap_env, db, admin_ctx, status='deferred_deleting',
        dummy_driver_fail_methods=['delete_snapshot'])
    mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'],
                        deferred_delete=True)
    got = db.share_snapshot_instance_get(admin_ctx, snapinst['id'])
    assert got['status'] == c.STATUS_ERROR_DEFERRED_DELETING
    assert _messages(db, admin_ctx, snapinst['id']) == [
        ('007', '001', 'SHARE_SNAPSHOT', 'p1')]
    # The quota came back at once, even though the backend still has it.
    _assert_snapshot_quota(db, admin_ctx, inst, 1, 2)
    # The periodic task keeps failing quietly while the backend refuses...
    mgr.do_deferred_snapshot_deletion(admin_ctx)
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == c.STATUS_ERROR_DEFERRED_DELETING
    # ...and deletes the snapshot once it accepts, without more quota.
    _fail('dummy_driver_fail_methods', [])
    mgr.do_deferred_snapshot_deletion(admin_ctx)
    _assert_gone(db, admin_ctx, snapshot, snapinst)
    _assert_snapshot_quota(db, admin_ctx, inst, 1, 2)
    assert not mgr.driver.private_storage.get(snapinst['id'])


def test_deferred_share_deletion_waits_for_snapshots(snap_env, db,
                                                     admin_ctx):
    mgr, share, inst, snapshot, snapinst = _deletable(
        snap_env, db, admin_ctx, status='deferred_deleting',
        dummy_driver_fail_methods=['delete_snapshot'])
    mgr.delete_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'],
                        deferred_delete=True)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': 'deferred_deleting'})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              deferred_delete=True)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_ERROR_DEFERRED_DELETING
    _fail('dummy_driver_fail_methods', [])
    mgr.do_deferred_snapshot_deletion(admin_ctx)
    mgr.do_deferred_share_deletion(admin_ctx)
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])


def test_deferred_share_deletion_retries_write_one_message(manager_factory,
                                                           db, admin_ctx):
    """The periodic retry of a failed deferred deletion only logs, as upstream."""
    mgr = manager_factory()
    share, inst = _available_share(mgr, db, admin_ctx)
    _fail('dummy_driver_fail_methods', ['delete_share'])
    db.share_instance_update(admin_ctx, inst['id'],
                             {'status': 'deferred_deleting'})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              deferred_delete=True)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_ERROR_DEFERRED_DELETING
    first = _messages(db, admin_ctx, inst['id'])     # upstream: the instance
    assert [m[:2] for m in first] == [('007', '001')]
    for _attempt in range(2):
        mgr.do_deferred_share_deletion(admin_ctx)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_ERROR_DEFERRED_DELETING
    assert _messages(db, admin_ctx, inst['id']) == first
    _fail('dummy_driver_fail_methods', [])
    mgr.do_deferred_share_deletion(admin_ctx)
    with pytest.raises(exception.ShareNotFound):
        db.share_get(admin_ctx, share['id'])


# -- shares created from snapshots --------------------------------------------

def _child(db, ctx, share, snapshot, **extra):
    """A share created from ``snapshot``, as the API and scheduler write it."""
    return helpers.make_share(db, ctx, size=share['size'],
                              snapshot_id=snapshot['id'], **extra)


def _from_snapshot(mgr, inst, snapshot):
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                              request_spec={}, filter_properties={},
                              snapshot_id=snapshot['id'])


def test_share_from_snapshot_success(snap_env, db, admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    seen = {}
    real = mgr.driver.create_share_from_snapshot

    def spy(context, inst, snap, share_server=None, parent_share=None):
        seen.update(snap=snap['id'], parent=parent_share['id'],
                    parent_exports=len(parent_share['export_locations']))
        return real(context, inst, snap, share_server=share_server,
                    parent_share=parent_share)
    mgr.driver.create_share_from_snapshot = spy
    child, inst = _child(db, admin_ctx, share, snapshot)
    _from_snapshot(mgr, inst, snapshot)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == c.STATUS_AVAILABLE
    assert got['progress'] == '100%' and got['launched_at'] is not None
    assert got['availability_zone'] == 'nova'
    assert len(got['export_locations']) == 3
    assert seen == {'snap': snapinst['id'], 'parent': parent['id'],
                    'parent_exports': 3}


def test_share_from_snapshot_driver_failure(snap_env, db, admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env(
        dummy_driver_fail_methods=['create_share_from_snapshot'])
    _take(mgr, share, snapshot)
    child, inst = _child(db, admin_ctx, share, snapshot)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _from_snapshot(mgr, inst, snapshot)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == c.STATUS_ERROR
    assert got['export_locations'] == []
    assert _messages(db, admin_ctx, child['id']) == [
        ('002', '001', 'SHARE', 'p1')]
    # The source snapshot is untouched.
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == 'available'


def test_share_from_snapshot_garbage_from_driver(snap_env, db, admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env(
        dummy_driver_invalid_return_methods=['create_share_from_snapshot'])
    _take(mgr, share, snapshot)
    child, inst = _child(db, admin_ctx, share, snapshot)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _from_snapshot(mgr, inst, snapshot)
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidShareInstance)
    assert 'invalid status' in str(helpers.unwrap(excinfo))
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    assert _messages(db, admin_ctx, child['id']) == [
        ('002', '001', 'SHARE', 'p1')]


def test_share_from_missing_snapshot_fails_the_instance(manager_factory, db,
                                                        admin_ctx):
    mgr = manager_factory()
    child, inst = helpers.make_share(db, admin_ctx, snapshot_id='gone')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'],
                                  snapshot_id='gone')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareSnapshotNotFound)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == 'error'
    assert _messages(db, admin_ctx, child['id']) == [
        ('002', '001', 'SHARE', 'p1')]


def _make_async(mgr):
    """The dummy creates the share, then answers like an asynchronous backend."""
    real = mgr.driver.create_share_from_snapshot

    def async_create(*args, **kwargs):
        real(*args, **kwargs)
        return {'status': c.STATUS_CREATING_FROM_SNAPSHOT}
    mgr.driver.create_share_from_snapshot = async_create


def test_async_share_from_snapshot_finished_by_periodic_task(snap_env, db,
                                                             admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    _make_async(mgr)
    child, inst = _child(db, admin_ctx, share, snapshot)
    _from_snapshot(mgr, inst, snapshot)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == c.STATUS_CREATING_FROM_SNAPSHOT
    assert got['progress'] == '0%' and got['export_locations'] == []
    real_status = mgr.driver.get_share_status
    mgr.driver.get_share_status = lambda share, server=None: {
        'status': c.STATUS_CREATING_FROM_SNAPSHOT, 'progress': '50%'}
    mgr.periodic_share_status_update(admin_ctx)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert (got['status'], got['progress']) == (
        c.STATUS_CREATING_FROM_SNAPSHOT, '50%')
    mgr.driver.get_share_status = real_status
    mgr.periodic_share_status_update(admin_ctx)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert (got['status'], got['progress']) == (c.STATUS_AVAILABLE, '100%')
    assert len(got['export_locations']) == 3
    assert db.message_get_all(admin_ctx) == []


def test_async_share_from_snapshot_failure_reported_by_driver(
        snap_env, db, admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    _make_async(mgr)
    child, inst = _child(db, admin_ctx, share, snapshot)
    _from_snapshot(mgr, inst, snapshot)
    _fail('dummy_driver_fail_methods', ['get_share_status'])
    mgr.periodic_share_status_update(admin_ctx)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert (got['status'], got['progress']) == (c.STATUS_ERROR, None)
    assert _messages(db, admin_ctx, child['id']) == [
        ('005', '017', 'SHARE', 'p1')]


def test_periodic_status_garbage_leaves_instance(snap_env, db, admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    _make_async(mgr)
    child, inst = _child(db, admin_ctx, share, snapshot)
    _from_snapshot(mgr, inst, snapshot)
    _fail('dummy_driver_invalid_return_methods', ['get_share_status'])
    mgr.periodic_share_status_update(admin_ctx)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_CREATING_FROM_SNAPSHOT


def test_periodic_status_update_reads_in_constant_queries(snap_env, db,
                                                          admin_ctx):
    mgr, share, parent, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    mgr.driver.get_share_status = lambda share, server=None: {
        'status': c.STATUS_CREATING_FROM_SNAPSHOT, 'progress': '10%'}
    engine = db.get_engine()

    def selects_for(n):
        for _ in range(n):
            helpers.make_share(db, admin_ctx,
                               status=c.STATUS_CREATING_FROM_SNAPSHOT)
        statements = []

        def record(*args, **kwargs):
            if args[2].lstrip().upper().startswith('SELECT'):
                statements.append(args[2])
        sqlalchemy.event.listen(engine, 'before_cursor_execute', record)
        try:
            mgr.periodic_share_status_update(admin_ctx)
        finally:
            sqlalchemy.event.remove(engine, 'before_cursor_execute', record)
        return len(statements)

    assert selects_for(2) == selects_for(6)


# -- revert_to_snapshot -------------------------------------------------------

def _reverting(snap_env, db, admin_ctx, share_size, snap_size, **options):
    """A share reverted from ``share_size`` GB to a ``snap_size`` GB snapshot, as the API leaves it."""
    mgr, share, inst, snapshot, snapinst = snap_env(**options)
    _take(mgr, share, snapshot)
    db.share_snapshot_update(admin_ctx, snapshot['id'], {'size': snap_size})
    db.share_update(admin_ctx, share['id'], {'size': share_size})
    _commit(db, admin_ctx, {'gigabytes': share_size})
    reservations = db.quota_reserve(admin_ctx,
                                    {'gigabytes': snap_size - share_size},
                                    'p1', 'u1')
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'reverting'})
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': 'restoring'})
    return mgr, share, inst, snapshot, snapinst, reservations


def _revert(mgr, snapshot, reservations):
    mgr.revert_to_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'],
                           reservations=reservations)


def _assert_after_revert(db, ctx, share, inst, snapinst, status, size):
    assert db.share_instance_get(ctx, inst['id'])['status'] == status
    assert db.share_get(ctx, share['id'])['size'] == size
    assert db.share_snapshot_instance_get(ctx, snapinst['id'])[
        'status'] == c.STATUS_AVAILABLE


def test_revert_success_commits_reservations(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3)
    seen = {}
    real = mgr.driver.revert_to_snapshot

    def spy(context, snap, share_rules, snapshot_rules, share_server=None):
        seen.update(id=snap['id'], size=snap['size'],
                    share=snap['share']['id'])
        return real(context, snap, share_rules, snapshot_rules,
                    share_server=share_server)
    mgr.driver.revert_to_snapshot = spy
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 2, 'reserved': 1}
    _revert(mgr, snapshot, res)
    _assert_after_revert(db, admin_ctx, share, inst, snapinst,
                         c.STATUS_AVAILABLE, 3)
    assert seen == {'id': snapinst['id'], 'size': 3, 'share': inst['id']}
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 3, 'reserved': 0}
    assert db.message_get_all(admin_ctx) == []


def test_revert_driver_failure_rolls_back(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3,
        dummy_driver_fail_methods=['revert_to_snapshot'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _revert(mgr, snapshot, res)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    _assert_after_revert(db, admin_ctx, share, inst, snapinst,
                         c.STATUS_REVERTING_ERROR, 2)
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 2, 'reserved': 0}
    assert _messages(db, admin_ctx, share['id']) == [
        ('006', '001', 'SHARE', 'p1')]


def test_revert_garbage_size_falls_back_to_snapshot_size(snap_env, db,
                                                         admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3,
        dummy_driver_invalid_return_methods=['revert_to_snapshot'])
    _revert(mgr, snapshot, res)
    _assert_after_revert(db, admin_ctx, share, inst, snapinst,
                         c.STATUS_AVAILABLE, 3)
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 3, 'reserved': 0}


def test_revert_ignored_unless_reverting(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3)
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'available'})
    _revert(mgr, snapshot, res)
    assert db.share_get(admin_ctx, share['id'])['size'] == 2
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == 'restoring'
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 2, 'reserved': 0}


def _make_async_revert(mgr):
    mgr.driver.revert_to_snapshot = lambda *args, **kwargs: {
        'status': c.STATUS_REVERTING_TO_SNAPSHOT}


def test_async_revert_finished_by_periodic_task(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3)
    _make_async_revert(mgr)
    _revert(mgr, snapshot, res)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == \
        c.STATUS_REVERTING_TO_SNAPSHOT
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == c.STATUS_RESTORING
    # Rolled back now; the periodic task commits the real change later.
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 2, 'reserved': 0}
    mgr.periodic_share_status_update(admin_ctx)
    _assert_after_revert(db, admin_ctx, share, inst, snapinst,
                         c.STATUS_AVAILABLE, 3)
    assert db.share_instance_get(admin_ctx, inst['id'])['progress'] == '100%'
    assert _usage(db, admin_ctx)['gigabytes'] == {'in_use': 3, 'reserved': 0}
    by_type = _usage(db, admin_ctx, share_type_id=inst['share_type_id'])
    assert by_type['gigabytes']['in_use'] == 1


def test_async_revert_failure_reported_by_driver(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, res = _reverting(
        snap_env, db, admin_ctx, share_size=2, snap_size=3)
    _make_async_revert(mgr)
    _revert(mgr, snapshot, res)
    _fail('dummy_driver_fail_methods', ['get_share_status'])
    mgr.periodic_share_status_update(admin_ctx)
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert (got['status'], got['progress']) == (c.STATUS_REVERTING_ERROR,
                                                None)
    _assert_after_revert(db, admin_ctx, share, inst, snapinst,
                         c.STATUS_REVERTING_ERROR, 2)
    assert _messages(db, admin_ctx, share['id']) == [
        ('005', '035', 'SHARE', 'p1')]


# -- manage / unmanage --------------------------------------------------------

def _unmanaged(snap_env, db, admin_ctx, **options):
    """A snapshot that was created, then unmanaged (the backend keeps it)."""
    mgr, share, inst, snapshot, snapinst = snap_env(**options)
    _take(mgr, share, snapshot)
    _commit(db, admin_ctx, {'snapshots': 1, 'snapshot_gigabytes': 2},
            user_id='admin1', share_type_id=inst['share_type_id'])
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': 'unmanage_starting'})
    mgr.unmanage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'])
    location = _snapinst(db, admin_ctx, snapinst['id'])['provider_location']
    return mgr, share, inst, snapshot, snapinst, location


def test_unmanage_snapshot_success(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst, location = _unmanaged(
        snap_env, db, admin_ctx)
    _assert_gone(db, admin_ctx, snapshot, snapinst)
    assert _usage(db, admin_ctx, user_id='admin1')['snapshots']['in_use'] == 0
    assert mgr.driver.private_storage.get(
        snapinst['id'], key='provider_location') == location


def test_unmanage_snapshot_driver_failure(snap_env, db, admin_ctx):
    mgr, share, inst, snapshot, snapinst = snap_env(
        dummy_driver_fail_methods=['unmanage_snapshot'])
    _take(mgr, share, snapshot)
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': 'unmanage_starting'})
    with pytest.raises(messaging.ExpectedException):
        mgr.unmanage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'])
    # As upstream: a generic driver error leaves the snapshot where the
    # API put it, and no user message.
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == c.STATUS_UNMANAGING
    assert db.message_get_all(admin_ctx) == []


def test_unmanage_snapshot_refused_by_the_driver(snap_env, db, admin_ctx,
                                                 monkeypatch):
    mgr, share, inst, snapshot, snapinst = snap_env()
    _take(mgr, share, snapshot)
    db.share_snapshot_instance_update(admin_ctx, snapinst['id'],
                                      {'status': 'unmanage_starting'})

    def refuse(snapshot_instance):
        raise exception.UnmanageInvalidShareSnapshot(reason='in use')
    monkeypatch.setattr(mgr.driver, 'unmanage_snapshot', refuse)
    mgr.unmanage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'])
    assert db.share_snapshot_instance_get(admin_ctx, snapinst['id'])[
        'status'] == c.STATUS_UNMANAGE_ERROR


def _to_manage(db, ctx, share, location):
    return _snapshot(db, ctx, share, status='manage_starting', size=None,
                     provider_location=location)


def test_manage_snapshot_success(snap_env, db, admin_ctx):
    mgr, share, inst, old, old_inst, location = _unmanaged(
        snap_env, db, admin_ctx)
    snapshot, snapinst = _to_manage(db, admin_ctx, share, location)
    mgr.manage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'],
                        driver_options={})
    got = db.share_snapshot_get(admin_ctx, snapshot['id'])
    assert (got['status'], got['progress'], got['size']) == (
        c.STATUS_AVAILABLE, '100%', 1)
    assert got['provider_location'] == location
    meta = {m['key']: m['value'] for m in got['share_snapshot_metadata']}
    assert meta['__managed_at'] == str(got['created_at'])
    usage = _usage(db, admin_ctx, user_id='admin1')
    assert usage['snapshots']['in_use'] == 1
    assert usage['snapshot_gigabytes']['in_use'] == 1
    # The dummy keeps the adopted snapshot under its new instance id.
    assert mgr.driver.private_storage.get(snapinst['id'])


@pytest.mark.parametrize('unknown, error', [
    (True, exception.ShareBackendException),          # no such snapshot
    (False, exception.ManageInvalidShareSnapshot),    # names none at all
])
def test_manage_snapshot_driver_failure(snap_env, db, admin_ctx, unknown,
                                        error):
    mgr, share, inst, old, old_inst, location = _unmanaged(
        snap_env, db, admin_ctx)
    if unknown:
        location = location[:-36] + uuidutils.generate_uuid().replace(
            '-', '_')
    else:
        location += '_not_there'
    snapshot, snapinst = _to_manage(db, admin_ctx, share, location)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'],
                            driver_options={})
    assert isinstance(helpers.unwrap(excinfo), error)
    got = db.share_snapshot_get(admin_ctx, snapshot['id'])
    assert (got['status'], got['size']) == (c.STATUS_MANAGE_ERROR, 1)
    assert _usage(db, admin_ctx, user_id='admin1')['snapshots']['in_use'] == 0


def test_manage_snapshot_garbage_from_driver(snap_env, db, admin_ctx):
    mgr, share, inst, old, old_inst, location = _unmanaged(
        snap_env, db, admin_ctx,
        dummy_driver_invalid_return_methods=['manage_existing_snapshot'])
    snapshot, snapinst = _to_manage(db, admin_ctx, share, location)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.manage_snapshot(_cloud_admin(), snapshot_id=snapshot['id'],
                            driver_options={})
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidShareSnapshot)
    got = db.share_snapshot_get(admin_ctx, snapshot['id'])
    assert (got['status'], got['size']) == (c.STATUS_MANAGE_ERROR, 1)
