"""Driver-assisted share migration on the dummy driver: start, continue, progress, complete, cancel, failures, reconciliation."""

import datetime

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils
from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.conftest import configure_backend
from tests.unit.share import helpers

CONF = cfg.CONF
DEST = 'hostA@beta#fake_pool_for_beta'
SAME = 'hostA@alpha#fake_pool_for_alpha'


@pytest.fixture
def two(manager_factory):
    """Managers of two dummy backends, alpha (source) and beta (destination)."""
    return manager_factory(), manager_factory(name='beta')


@pytest.fixture(autouse=True)
def clear_faults():
    yield
    for option in ('dummy_driver_fail_methods',
                   'dummy_driver_invalid_return_methods'):
        try:
            CONF.clear_override(option, group='alpha')
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            pass


@pytest.fixture(autouse=True)
def short_destination_wait():
    """A start that went host-assisted by mistake fails fast: no share service serves beta's casts here."""
    CONF.set_override('migration_create_delete_share_timeout', 2)
    yield
    CONF.clear_override('migration_create_delete_share_timeout')


def _fail(option, *methods):
    CONF.set_override(option, list(methods), group='alpha')


def _migrating_share(mgr, db, ctx, size=1):
    """An available share the API then asked to migrate (task_state migration_starting, instance migrating)."""
    share, inst = helpers.make_share(db, ctx, size=size)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_update(ctx, share['id'],
                    {'task_state': c.TASK_STATE_MIGRATION_STARTING})
    db.share_instance_update(ctx, inst['id'], {'status': c.STATUS_MIGRATING})
    return share['id'], inst['id']


def _start(mgr, share_id, dest_host=DEST, **flags):
    args = dict(force_host_assisted_migration=False, preserve_metadata=False,
                writable=False, nondisruptive=False, preserve_snapshots=False)
    args.update(flags)
    mgr.migration_start(helpers.user_ctx(), share_id=share_id,
                        dest_host=dest_host, **args)


def _task(db, ctx, share_id):
    return db.share_get(ctx, share_id)['task_state']


def _instances(db, ctx, share_id):
    """``{status: instance}`` of the share's live instances."""
    return {i['status']: i for i in db.share_instance_get_all(
        ctx, {'share_id': share_id})}


def _dest(db, ctx, share_id):
    return _instances(db, ctx, share_id)[c.STATUS_MIGRATING_TO]


def _error(excinfo):
    return helpers.unwrap(excinfo)


def _actions(db, ctx, share_id):
    return [m['action_id'] for m in helpers.messages(db, ctx, share_id)]


def _phase1(mgr, db, ctx, share_id):
    _start(mgr, share_id)
    for _ in range(2):
        mgr.migration_driver_continue(ctx)
    assert _task(db, ctx, share_id) == c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE


# -- the whole driver-assisted flow -------------------------------------------

def test_start_continue_progress_complete(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx, size=2)
    _start(mgr, share_id, writable=True, preserve_metadata=True)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS
    dest = _dest(db, admin_ctx, share_id)
    assert dest['host'] == DEST
    assert db.share_instance_get(admin_ctx, src_id)['status'] == \
        c.STATUS_MIGRATING
    progress = mgr.migration_get_progress(
        helpers.user_ctx(), src_instance_id=src_id,
        dest_instance_id=dest['id'])
    assert progress == {'total_progress': 0}
    mgr.migration_driver_continue(admin_ctx)
    assert mgr.migration_get_progress(
        helpers.user_ctx(), src_instance_id=src_id,
        dest_instance_id=dest['id']) == {'total_progress': 50}
    mgr.migration_driver_continue(admin_ctx)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.migration_get_progress(helpers.user_ctx(), src_instance_id=src_id,
                                   dest_instance_id=dest['id'])
    assert isinstance(_error(excinfo), exception.InvalidShare)
    mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    share = db.share_get(admin_ctx, share_id)
    assert share['task_state'] == c.TASK_STATE_MIGRATION_SUCCESS
    assert [i['id'] for i in share.instances] == [dest['id']]
    got = db.share_instance_get(admin_ctx, dest['id'])
    assert (got['status'], got['progress']) == (c.STATUS_AVAILABLE, '100%')
    assert got['export_locations']
    assert all(el['path'].endswith(dest['id'].replace('-', '_'))
               for el in got['export_locations'])
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, src_id)
    assert _actions(db, admin_ctx, share_id) == []


def test_access_rules_move_to_the_destination(manager_factory, db,
                                              admin_ctx):
    mgr = manager_factory()
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    rule = db.share_access_create(admin_ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': '10.0.0.1',
        'access_level': 'rw', 'state': c.ACCESS_STATE_ACTIVE})
    new_type = db.share_type_create(admin_ctx, {
        'id': uuidutils.generate_uuid(), 'name': 'gold',
        'extra_specs': {'driver_handles_share_servers': 'False',
                        'snapshot_support': 'True'}})
    _start(mgr, share_id, dest_host=SAME, new_share_type_id=new_type['id'])
    dest = _dest(db, admin_ctx, share_id)
    assert dest['share_type_id'] == new_type['id']
    for _ in range(2):
        mgr.migration_driver_continue(admin_ctx)
    mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    mappings = db.share_instance_access_get_all(admin_ctx, dest['id'])
    assert [(m['access_id'], m['state']) for m in mappings] == [
        (rule['id'], c.ACCESS_STATE_ACTIVE)]
    got = db.share_instance_get(admin_ctx, dest['id'])
    assert got['access_rules_status'] == c.STATUS_ACTIVE
    share = db.share_get(admin_ctx, share_id)
    assert share['snapshot_support'] is True
    assert share['create_share_from_snapshot_support'] is False


def _type_usage(db, ctx, type_id):
    usage = db.quota_usage_get_all_by_project_and_share_type(ctx, 'p1',
                                                             type_id)
    return usage.get('shares', {}).get('in_use', 0), \
        usage.get('gigabytes', {}).get('in_use', 0)


def _new_type_charged(db, ctx, size):
    """A new share type and the quota upstream's API charges it at migration_start."""
    new_type = db.share_type_create(ctx, {
        'id': uuidutils.generate_uuid(), 'name': 'gold',
        'extra_specs': {'driver_handles_share_servers': 'False'}})
    reservations = db.quota_reserve(ctx, {'shares': 1, 'gigabytes': size},
                                    'p1', 'u1', share_type_id=new_type['id'])
    db.reservation_commit(ctx, reservations, project_id='p1', user_id='u1',
                          share_type_id=new_type['id'])
    return new_type['id']


def _charge_source(db, ctx, size):
    old_type = db.share_type_get_by_name(ctx, 'default')['id']
    reservations = db.quota_reserve(ctx, {'shares': 1, 'gigabytes': size},
                                    'p1', 'u1', share_type_id=old_type)
    db.reservation_commit(ctx, reservations, project_id='p1', user_id='u1',
                          share_type_id=old_type)
    return old_type


def test_new_share_type_moves_the_quota_on_completion(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx, size=3)
    old_type = _charge_source(db, admin_ctx, 3)
    new_type = _new_type_charged(db, admin_ctx, 3)
    _start(mgr, share_id, new_share_type_id=new_type)
    for _ in range(2):
        mgr.migration_driver_continue(admin_ctx)
    dest = _dest(db, admin_ctx, share_id)
    mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    assert _type_usage(db, admin_ctx, old_type) == (0, 0)
    assert _type_usage(db, admin_ctx, new_type) == (1, 3)
    user = db.quota_usage_get_all_by_project_and_user(admin_ctx, 'p1', 'u1')
    assert user['shares']['in_use'] == 1


def test_cancel_gives_the_new_type_quota_back(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx, size=2)
    old_type = _charge_source(db, admin_ctx, 2)
    new_type = _new_type_charged(db, admin_ctx, 2)
    _start(mgr, share_id, new_share_type_id=new_type)
    dest = _dest(db, admin_ctx, share_id)
    mgr.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                         dest_instance_id=dest['id'])
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_CANCELLED
    assert list(_instances(db, admin_ctx, share_id)) == [c.STATUS_AVAILABLE]
    assert _type_usage(db, admin_ctx, new_type) == (0, 0)
    assert _type_usage(db, admin_ctx, old_type) == (1, 2)


def test_cancel_after_phase1(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _phase1(mgr, db, admin_ctx, share_id)
    dest = _dest(db, admin_ctx, share_id)
    mgr.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                         dest_instance_id=dest['id'])
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_CANCELLED
    assert db.share_instance_get(admin_ctx, src_id)['status'] == \
        c.STATUS_AVAILABLE
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, dest['id'])


def test_cancel_refused_outside_phase1(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _phase1(mgr, db, admin_ctx, share_id)
    dest = _dest(db, admin_ctx, share_id)
    mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                             dest_instance_id=dest['id'])
    assert isinstance(_error(excinfo), exception.NotFound)


# -- failures --------------------------------------------------------------------

def _assert_given_back(db, ctx, share_id, src_id):
    assert _task(db, ctx, share_id) == c.TASK_STATE_MIGRATION_ERROR
    assert list(_instances(db, ctx, share_id)) == [c.STATUS_AVAILABLE]
    assert db.share_instance_get(ctx, src_id)['status'] == c.STATUS_AVAILABLE
    assert _actions(db, ctx, share_id) == ['005']


# (a driver failure without such flags goes host-assisted:
# test_migration_host.py)
@pytest.mark.parametrize('flags, words', [
    ({'writable': True}, 'writable'),
    ({'preserve_metadata': True, 'nondisruptive': True},
     'nondisruptive, preserve_metadata')])
def test_driver_error_at_start(two, db, admin_ctx, flags, words):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _fail('dummy_driver_fail_methods', 'migration_start')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _start(mgr, share_id, **flags)
    assert isinstance(_error(excinfo), exception.ShareMigrationFailed)
    assert words in str(_error(excinfo))
    _assert_given_back(db, admin_ctx, share_id, src_id)


def test_incompatible_destination(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    cleanup = configure_backend('gamma', share_driver='localfs')
    try:
        db.service_create(admin_ctx, {
            'host': 'hostA@gamma', 'binary': 'manila-share',
            'topic': 'manila-share', 'report_count': 0, 'state': 'up'})
        share_id, src_id = _migrating_share(mgr, db, admin_ctx)
        with pytest.raises(messaging.ExpectedException) as excinfo:
            _start(mgr, share_id, dest_host='hostA@gamma#pool',
                   writable=True)
    finally:
        cleanup()
    assert isinstance(_error(excinfo), exception.ShareMigrationFailed)
    assert 'writable' in str(_error(excinfo))
    _assert_given_back(db, admin_ctx, share_id, src_id)


def test_unknown_destination_service(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException):
        _start(mgr, share_id, dest_host='nowhere@none#p')
    _assert_given_back(db, admin_ctx, share_id, src_id)


@pytest.mark.parametrize('method', ['migration_check_compatibility',
                                    'migration_continue'])
def test_garbage_from_the_driver_fails_the_migration(two, db, admin_ctx,
                                                     method):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _fail('dummy_driver_invalid_return_methods', method)
    try:       # writable: no host-assisted fallback (test_migration_host.py)
        _start(mgr, share_id, writable=True)
    except messaging.ExpectedException:
        pass
    mgr.migration_driver_continue(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id)


def test_continue_failure_gives_the_source_back(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)
    _fail('dummy_driver_fail_methods', 'migration_continue')
    mgr.migration_driver_continue(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id)


def test_garbage_progress_is_an_error_answer(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)
    dest = _dest(db, admin_ctx, share_id)
    _fail('dummy_driver_invalid_return_methods', 'migration_get_progress')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.migration_get_progress(helpers.user_ctx(), src_instance_id=src_id,
                                   dest_instance_id=dest['id'])
    assert isinstance(_error(excinfo), exception.ShareBackendException)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS


@pytest.mark.parametrize('option', ['dummy_driver_fail_methods',
                                    'dummy_driver_invalid_return_methods'])
def test_driver_error_at_complete(two, db, admin_ctx, option):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _phase1(mgr, db, admin_ctx, share_id)
    dest = _dest(db, admin_ctx, share_id)
    _fail(option, 'migration_complete')
    with pytest.raises(messaging.ExpectedException):
        mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                               dest_instance_id=dest['id'])
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_ERROR
    for inst_id in (src_id, dest['id']):
        assert db.share_instance_get(admin_ctx, inst_id)['status'] == \
            c.STATUS_ERROR
    assert _actions(db, admin_ctx, share_id) == ['005']


def test_driver_error_at_cancel_changes_nothing(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)
    dest = _dest(db, admin_ctx, share_id)
    _fail('dummy_driver_fail_methods', 'migration_cancel')
    with pytest.raises(messaging.ExpectedException):
        mgr.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                             dest_instance_id=dest['id'])
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS
    assert set(_instances(db, admin_ctx, share_id)) == {
        c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO}


# -- bad input -------------------------------------------------------------------

def test_unknown_share_is_one_error(two, db, admin_ctx):
    mgr, _beta = two
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _start(mgr, uuidutils.generate_uuid())
    assert isinstance(_error(excinfo), exception.ShareNotFound)


def test_start_for_a_share_not_starting_is_ignored(two, db, admin_ctx):
    mgr, _beta = two
    share, inst = helpers.make_share(db, admin_ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    _start(mgr, share['id'])
    assert _task(db, admin_ctx, share['id']) is None
    assert list(_instances(db, admin_ctx, share['id'])) == [c.STATUS_AVAILABLE]


def test_complete_before_phase1_touches_nothing(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)
    dest = _dest(db, admin_ctx, share_id)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                               dest_instance_id=dest['id'])
    assert isinstance(_error(excinfo), exception.InvalidShare)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.migration_complete(helpers.user_ctx(), src_instance_id=dest['id'],
                               dest_instance_id=src_id)
    assert isinstance(_error(excinfo), exception.InvalidShare)


# -- reconciliation ----------------------------------------------------------------

@pytest.fixture
def timeout():
    CONF.set_override('transitional_state_timeout', 60)
    yield
    CONF.clear_override('transitional_state_timeout')


def _age_share(db, share_id, seconds):
    when = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db.get_engine().begin() as conn:
        conn.execute(sa.text('UPDATE shares SET updated_at = :w WHERE '
                             'id = :i'), {'w': when, 'i': share_id})


@pytest.mark.parametrize('task_state', [
    c.TASK_STATE_MIGRATION_STARTING, c.TASK_STATE_MIGRATION_IN_PROGRESS,
    c.TASK_STATE_MIGRATION_DRIVER_STARTING])
def test_stranded_start_leaves_the_share_usable(two, db, admin_ctx, timeout,
                                                task_state):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)       # a start that got as far as a dest row
    db.share_update(admin_ctx, share_id, {'task_state': task_state})
    mgr.reconcile_transitional_states(admin_ctx)
    assert _task(db, admin_ctx, share_id) == task_state    # not stale yet
    _age_share(db, share_id, 120)
    mgr.reconcile_transitional_states(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id)
    # the driver, which may have begun, is told to drop its copy
    started = task_state == c.TASK_STATE_MIGRATION_DRIVER_STARTING
    assert (src_id not in mgr.driver.migration_progress) == started


def _completing(mgr, db, admin_ctx):
    """A share after phase 1 whose completion began: (share id, source id, destination row)."""
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _phase1(mgr, db, admin_ctx, share_id)
    dest = _dest(db, admin_ctx, share_id)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_MIGRATION_COMPLETING})
    return share_id, src_id, dest


def test_stranded_completion_marks_both_instances_error(two, db, admin_ctx,
                                                        timeout):
    mgr, _beta = two
    share_id, src_id, dest = _completing(mgr, db, admin_ctx)
    _age_share(db, share_id, 120)
    mgr.reconcile_transitional_states(admin_ctx)
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_ERROR
    for inst_id in (src_id, dest['id']):
        assert db.share_instance_get(admin_ctx, inst_id)['status'] == \
            c.STATUS_ERROR


def test_stranded_completion_after_the_cut_over_is_finished(
        two, db, admin_ctx, timeout):
    """Died after the destination became available and the source inactive: the source's rows go, the migration succeeds."""
    mgr, _beta = two
    share_id, src_id, dest = _completing(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, src_id,
                             {'status': c.STATUS_INACTIVE})
    db.share_instance_update(admin_ctx, dest['id'],
                             {'status': c.STATUS_AVAILABLE})
    _age_share(db, share_id, 120)
    mgr.reconcile_transitional_states(admin_ctx)
    share = db.share_get(admin_ctx, share_id)
    assert share['task_state'] == c.TASK_STATE_MIGRATION_SUCCESS
    assert [i['id'] for i in share.instances] == [dest['id']]


def test_migrations_in_phase1_are_not_stranded(two, db, admin_ctx, timeout):
    mgr, _beta = two
    share_id, src_id = _migrating_share(mgr, db, admin_ctx)
    _start(mgr, share_id)
    _age_share(db, share_id, 120)
    mgr.reconcile_transitional_states(admin_ctx)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS


# -- snapshots migrated along (upstream's snapshot mappings) -------------------

def _snapshotted_share(mgr, db, ctx):
    """An available share with one available snapshot, then asked to migrate."""
    share, inst = helpers.make_share(db, ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    snapshot, snapinst = helpers.make_snapshot(db, ctx, share)
    mgr.create_snapshot(helpers.user_ctx(), share_id=share['id'],
                        snapshot_id=snapshot['id'])
    db.share_update(ctx, share['id'],
                    {'task_state': c.TASK_STATE_MIGRATION_STARTING})
    db.share_instance_update(ctx, inst['id'], {'status': c.STATUS_MIGRATING})
    return share['id'], inst['id'], snapshot['id'], snapinst['id']


def _snapinsts(db, ctx, snapshot_id):
    """``{share instance id: snapshot instance}`` of a snapshot's live instances."""
    return {s['share_instance_id']: s
            for s in db.share_snapshot_instance_get_all_with_filters(
                ctx, {'snapshot_ids': [snapshot_id]})}


def test_snapshots_move_with_the_share(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id, snap_id, src_snap = _snapshotted_share(
        mgr, db, admin_ctx)
    _start(mgr, share_id, preserve_snapshots=True)
    dest = _dest(db, admin_ctx, share_id)
    during = _snapinsts(db, admin_ctx, snap_id)
    assert {k: v['status'] for k, v in during.items()} == {
        src_id: c.STATUS_MIGRATING, dest['id']: c.STATUS_MIGRATING_TO}
    for _ in range(2):
        mgr.migration_driver_continue(admin_ctx)
    mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest['id'])
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_SUCCESS
    after = _snapinsts(db, admin_ctx, snap_id)
    assert list(after) == [dest['id']]
    moved = after[dest['id']]
    assert (moved['status'], moved['progress']) == (c.STATUS_AVAILABLE,
                                                    '100%')
    assert moved['provider_location'].startswith('/path/to/fake/snapshot/')
    assert moved['id'] != src_snap
    assert db.share_snapshot_get(admin_ctx, snap_id)['status'] == \
        c.STATUS_AVAILABLE
    assert _actions(db, admin_ctx, share_id) == []


def test_cancel_gives_the_snapshots_back(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id, snap_id, src_snap = _snapshotted_share(
        mgr, db, admin_ctx)
    _start(mgr, share_id)
    dest = _dest(db, admin_ctx, share_id)
    mgr.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                         dest_instance_id=dest['id'])
    after = _snapinsts(db, admin_ctx, snap_id)
    assert {k: (v['id'], v['status']) for k, v in after.items()} == {
        src_id: (src_snap, c.STATUS_AVAILABLE)}


def test_failed_completion_leaves_the_snapshots_error(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id, snap_id, _src_snap = _snapshotted_share(
        mgr, db, admin_ctx)
    _phase1(mgr, db, admin_ctx, share_id)
    dest = _dest(db, admin_ctx, share_id)
    _fail('dummy_driver_fail_methods', 'migration_complete')
    with pytest.raises(messaging.ExpectedException):
        mgr.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                               dest_instance_id=dest['id'])
    statuses = {v['status']
                for v in _snapinsts(db, admin_ctx, snap_id).values()}
    assert statuses == {c.STATUS_ERROR}


def test_snapshot_not_available_fails_the_start(two, db, admin_ctx):
    mgr, _beta = two
    share_id, src_id, snap_id, src_snap = _snapshotted_share(
        mgr, db, admin_ctx)
    db.share_snapshot_instance_update(admin_ctx, src_snap,
                                      {'status': c.STATUS_ERROR})
    with pytest.raises(messaging.ExpectedException):
        _start(mgr, share_id)
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_ERROR
    assert list(_snapinsts(db, admin_ctx, snap_id)) == [src_id]
    assert list(_instances(db, admin_ctx, share_id)) == [c.STATUS_AVAILABLE]


def test_a_driver_that_drops_snapshots_is_refused(two, db, admin_ctx,
                                                  monkeypatch):
    mgr, _beta = two
    share_id, src_id, snap_id, src_snap = _snapshotted_share(
        mgr, db, admin_ctx)
    answer = {'compatible': True, 'writable': True,
              'preserve_metadata': True, 'nondisruptive': False,
              'preserve_snapshots': False}
    monkeypatch.setattr(mgr.driver, 'migration_check_compatibility',
                        lambda *args, **kwargs: answer)
    with pytest.raises(messaging.ExpectedException):
        _start(mgr, share_id)
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_MIGRATION_ERROR
    assert {k: v['status'] for k, v in _snapinsts(
        db, admin_ctx, snap_id).items()} == {src_id: c.STATUS_AVAILABLE}
