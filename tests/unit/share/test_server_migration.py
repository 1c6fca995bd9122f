"""Share server migration between two DHSS dummy backends: check, start, continue, progress, complete, cancel, failures, reconciliation."""

import datetime

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils
import pytest
import sqlalchemy as sa

from manila_lite.common import constants as c
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.share import helpers
from tests.unit.share.test_servers import create
from tests.unit.share.test_servers import make_network

CONF = cfg.CONF
DEST = 'hostA@beta'


@pytest.fixture
def two(manager_factory):
    """DHSS managers of alpha (source) and beta (destination)."""
    return (manager_factory(**helpers.dhss_options()),
            manager_factory(name='beta', **helpers.dhss_options('beta')))


@pytest.fixture(autouse=True)
def clear_faults():
    yield
    for option in ('dummy_driver_fail_methods',
                   'dummy_driver_invalid_return_methods',
                   'dummy_driver_server_migration_nondisruptive'):
        for group in ('alpha', 'beta'):
            try:
                CONF.clear_override(option, group=group)
            except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
                pass


def _fail(option, *methods):
    CONF.set_override(option, list(methods), group='beta')


def _server_with_shares(mgr, db, ctx, snapshot=False):
    """A server of alpha with two shares (one with a snapshot), moved by 'the API' into server_migrating."""
    net_id, _subnet = make_network(db)
    first = create(mgr, db, ctx, net_id)
    second = create(mgr, db, ctx, net_id)
    server_id = first['share_server_id']
    assert second['share_server_id'] == server_id
    snap_inst = None
    if snapshot:
        _snap, snap_inst = helpers.make_snapshot(db, ctx, db.share_get(
            ctx, first['share_id']), status=c.STATUS_SERVER_MIGRATING)
        snap_inst = snap_inst['id']
    db.share_server_update(ctx, server_id, {
        'status': c.STATUS_SERVER_MIGRATING,
        'task_state': c.TASK_STATE_MIGRATION_STARTING})
    for inst in (first, second):
        db.share_instance_update(ctx, inst['id'],
                                 {'status': c.STATUS_SERVER_MIGRATING})
    return server_id, [first['id'], second['id']], snap_inst, net_id


def _start(mgr, server_id, **flags):
    args = dict(writable=True, nondisruptive=False, preserve_snapshots=True,
                new_share_network_id=None)
    args.update(flags)
    mgr.share_server_migration_start(
        helpers.user_ctx(), share_server_id=server_id, dest_host=DEST, **args)


def _dest(db, ctx, src_id):
    found = [s for s in db.share_server_get_all_by_host(ctx, DEST)
             if s['source_share_server_id'] == src_id]
    return found[0] if found else None


def _server(db, ctx, server_id):
    s = db.share_server_get(ctx, server_id)
    return s['status'], s['task_state']


def _statuses(db, ctx, inst_ids):
    return {db.share_instance_get(ctx, i)['status'] for i in inst_ids}


def _messages(db, ctx, inst_ids):
    shares = {db.share_instance_get(ctx, i)['share_id'] for i in inst_ids}
    return sum(len(helpers.messages(db, ctx, s)) for s in shares)


def _unwrap(excinfo):
    return helpers.unwrap(excinfo)


def _phase1(beta, db, ctx, server_id):
    _start(beta, server_id)
    for _ in range(2):
        beta.share_server_migration_driver_continue(ctx)
    dest = _dest(db, ctx, server_id)
    assert _server(db, ctx, server_id)[1] == \
        c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE
    return dest


def test_check(two, db, admin_ctx):
    alpha, beta = two
    server_id, _ids, _snap, net_id = _server_with_shares(alpha, db, admin_ctx)
    result = beta.share_server_migration_check(
        helpers.user_ctx(), share_server_id=server_id, dest_host=DEST,
        writable=True, nondisruptive=False, preserve_snapshots=True,
        new_share_network_id=net_id)
    assert result['compatible'] is True
    assert result['share_network_id'] == net_id
    refused = beta.share_server_migration_check(
        helpers.user_ctx(), share_server_id=server_id, dest_host=DEST,
        writable=True, nondisruptive=True, preserve_snapshots=True,
        new_share_network_id=net_id)
    assert refused['compatible'] is False


def test_start_continue_progress_complete(two, db, admin_ctx):
    alpha, beta = two
    server_id, ids, snap_inst, _net = _server_with_shares(
        alpha, db, admin_ctx, snapshot=True)
    _start(beta, server_id)
    dest = _dest(db, admin_ctx, server_id)
    assert _server(db, admin_ctx, dest['id']) == (
        c.STATUS_SERVER_MIGRATING_TO,
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS)
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_SERVER_MIGRATING, c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS)
    assert db.network_allocations_get_for_share_server(admin_ctx, dest['id'])
    progress = beta.share_server_migration_get_progress(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    assert progress == {'total_progress': 0}
    beta.share_server_migration_driver_continue(admin_ctx)
    assert beta.share_server_migration_get_progress(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id']) == {'total_progress': 50}
    beta.share_server_migration_driver_continue(admin_ctx)
    assert _server(db, admin_ctx, dest['id'])[1] == \
        c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE
    beta.share_server_migration_complete(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    assert _server(db, admin_ctx, dest['id']) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_SUCCESS)
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_INACTIVE, c.TASK_STATE_MIGRATION_SUCCESS)
    for inst_id in ids:
        inst = db.share_instance_get(admin_ctx, inst_id)
        assert inst['status'] == c.STATUS_AVAILABLE
        assert inst['share_server_id'] == dest['id']
        assert inst['host'].startswith(DEST + '#')
        paths = [e['path'] for e in
                 db.export_location_get_all_by_share_instance_id(
                     admin_ctx, inst_id)]
        assert paths
    snap = db.share_snapshot_instance_get(admin_ctx, snap_inst)
    assert snap['status'] == c.STATUS_AVAILABLE
    assert snap['provider_location'].startswith('/path/to/fake/snapshot/')
    # the source's own host deletes it (the cast it got)
    alpha.delete_share_server(admin_ctx, share_server={'id': server_id})
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, server_id)
    assert not db.network_allocations_get_for_share_server(admin_ctx,
                                                           server_id)


@pytest.mark.parametrize('method', [
    'share_server_migration_check_compatibility', '_setup_server',
    'share_server_migration_start'])
def test_start_failure_gives_the_source_back(two, db, admin_ctx, method):
    alpha, beta = two
    server_id, ids, snap_inst, _net = _server_with_shares(
        alpha, db, admin_ctx, snapshot=True)
    _fail('dummy_driver_fail_methods', method)
    with pytest.raises(messaging.ExpectedException):
        _start(beta, server_id)
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_ERROR)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}
    assert db.share_snapshot_instance_get(admin_ctx, snap_inst)['status'] \
        == c.STATUS_AVAILABLE
    assert _dest(db, admin_ctx, server_id) is None
    assert _messages(db, admin_ctx, ids) == 2


def test_incompatible_destination(two, db, admin_ctx):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _start(beta, server_id, nondisruptive=True)
    assert isinstance(_unwrap(excinfo), exception.ShareServerMigrationFailed)
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_ERROR)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}


@pytest.mark.parametrize('option,method', [
    ('dummy_driver_invalid_return_methods',
     'share_server_migration_check_compatibility'),
    ('dummy_driver_fail_methods', 'share_server_migration_continue'),
    ('dummy_driver_invalid_return_methods',
     'share_server_migration_continue')])
def test_bad_driver_answers_before_completion(two, db, admin_ctx, option,
                                              method):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    _fail(option, method)
    try:
        _start(beta, server_id)
    except messaging.ExpectedException:
        pass
    beta.share_server_migration_driver_continue(admin_ctx)
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_ERROR)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}
    dest = [s for s in db.share_server_get_all_by_host(admin_ctx, DEST)
            if s['source_share_server_id'] == server_id
            and s['status'] != c.STATUS_ERROR]
    assert not dest
    assert _messages(db, admin_ctx, ids) == 2


@pytest.mark.parametrize('option', ['dummy_driver_fail_methods',
                                    'dummy_driver_invalid_return_methods'])
def test_complete_failure_leaves_everything_error(two, db, admin_ctx,
                                                  option):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    dest = _phase1(beta, db, admin_ctx, server_id)
    _fail(option, 'share_server_migration_complete')
    with pytest.raises(messaging.ExpectedException):
        beta.share_server_migration_complete(
            helpers.user_ctx(), src_share_server_id=server_id,
            dest_share_server_id=dest['id'])
    for sid in (server_id, dest['id']):
        assert _server(db, admin_ctx, sid) == (
            c.STATUS_ERROR, c.TASK_STATE_MIGRATION_ERROR)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_ERROR}
    assert _messages(db, admin_ctx, ids) == 2


def test_cancel(two, db, admin_ctx):
    alpha, beta = two
    server_id, ids, snap_inst, _net = _server_with_shares(
        alpha, db, admin_ctx, snapshot=True)
    _start(beta, server_id)
    dest = _dest(db, admin_ctx, server_id)
    beta.share_server_migration_cancel(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_CANCELLED)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}
    assert db.share_snapshot_instance_get(admin_ctx, snap_inst)['status'] \
        == c.STATUS_AVAILABLE
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, dest['id'])
    assert not db.network_allocations_get_for_share_server(admin_ctx,
                                                           dest['id'])
    # a second cancel is refused: nothing is migrating
    with pytest.raises(messaging.ExpectedException) as excinfo:
        beta.share_server_migration_cancel(
            helpers.user_ctx(), src_share_server_id=server_id,
            dest_share_server_id=dest['id'])
    assert isinstance(_unwrap(excinfo), exception.ShareServerNotFound)


def test_cancel_and_complete_refused_at_the_wrong_moment(two, db,
                                                         admin_ctx):
    alpha, beta = two
    server_id, _ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    _start(beta, server_id)
    dest = _dest(db, admin_ctx, server_id)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        beta.share_server_migration_complete(
            helpers.user_ctx(), src_share_server_id=server_id,
            dest_share_server_id=dest['id'])
    assert isinstance(_unwrap(excinfo), exception.InvalidShareServer)
    assert _server(db, admin_ctx, server_id)[1] == \
        c.TASK_STATE_MIGRATION_DRIVER_IN_PROGRESS


def test_unknown_ids(two, db, admin_ctx):
    _alpha, beta = two
    for call, kwargs in (
            (beta.share_server_migration_get_progress,
             {'src_share_server_id': 'nope', 'dest_share_server_id': 'no'}),
            (beta.share_server_migration_complete,
             {'src_share_server_id': 'nope', 'dest_share_server_id': 'no'}),
            (beta.share_server_migration_cancel,
             {'src_share_server_id': 'nope', 'dest_share_server_id': 'no'}),
            (beta.share_server_migration_start,
             {'share_server_id': 'nope', 'dest_host': DEST,
              'writable': True, 'nondisruptive': False,
              'preserve_snapshots': False})):
        with pytest.raises(messaging.ExpectedException) as excinfo:
            call(helpers.user_ctx(), **kwargs)
        assert isinstance(_unwrap(excinfo), exception.ShareServerNotFound)


def _age(db, server_id, seconds):
    with db.get_engine().begin() as conn:
        conn.execute(sa.update(models.ShareServer.__table__).where(
            models.ShareServer.__table__.c.id == server_id).values(
            updated_at=timeutils.utcnow() - datetime.timedelta(
                seconds=seconds)))


def test_crash_mid_start_is_settled(two, db, admin_ctx):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    _start(beta, server_id)
    dest = _dest(db, admin_ctx, server_id)
    # a handler that died between the driver's start and its answer
    db.share_server_update(admin_ctx, server_id, {
        'task_state': c.TASK_STATE_MIGRATION_DRIVER_STARTING})
    _age(db, server_id, CONF.transitional_state_timeout + 60)
    from manila_lite.share import reconcile
    assert reconcile.reconcile_server_migrations(beta, admin_ctx) == 1
    assert _server(db, admin_ctx, server_id) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_ERROR)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(admin_ctx, dest['id'])
    assert _messages(db, admin_ctx, ids) >= 2


def test_read_only_rules_while_migrating_then_writable(two, db, admin_ctx,
                                                       monkeypatch):
    """A driver that cannot stay writable: rules cast to read-only at start, writable again after completion."""
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    check = beta.driver.share_server_migration_check_compatibility

    def not_writable(*args, **kwargs):
        return dict(check(*args, **kwargs), writable=False)
    monkeypatch.setattr(beta.driver,
                        'share_server_migration_check_compatibility',
                        not_writable)
    # the source's backend is another service: its cast is carried out here
    monkeypatch.setattr(
        beta.share_rpcapi, 'update_access_for_instances',
        lambda ctx, host, inst_ids, share_server_id=None:
            alpha.update_access_for_instances(
                ctx, share_instance_ids=inst_ids,
                share_server_id=share_server_id))
    _start(beta, server_id, writable=False)
    assert all(db.share_instance_get(admin_ctx, i)['cast_rules_to_readonly']
               for i in ids)
    for _ in range(2):
        beta.share_server_migration_driver_continue(admin_ctx)
    dest = _dest(db, admin_ctx, server_id)
    beta.share_server_migration_complete(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    assert not any(
        db.share_instance_get(admin_ctx, i)['cast_rules_to_readonly']
        for i in ids)
    assert _statuses(db, admin_ctx, ids) == {c.STATUS_AVAILABLE}


def test_migration_to_a_new_share_network(two, db, admin_ctx):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    new_net, new_subnet = make_network(db)
    _start(beta, server_id, new_share_network_id=new_net)
    dest = _dest(db, admin_ctx, server_id)
    assert dest['share_network_subnet_ids'] == [new_subnet]
    assert {a['share_network_subnet_id'] for a in
            db.network_allocations_get_for_share_server(
                admin_ctx, dest['id'], label='user')} == {new_subnet}
    for _ in range(2):
        beta.share_server_migration_driver_continue(admin_ctx)
    beta.share_server_migration_complete(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    assert {db.share_instance_get(admin_ctx, i)['share_network_id']
            for i in ids} == {new_net}


# -- nondisruptive: the server moves as it is ----------------------------------

def _nondisruptive_phase1(beta, db, ctx, server_id, **flags):
    CONF.set_override('dummy_driver_server_migration_nondisruptive', True,
                      group='beta')
    _start(beta, server_id, nondisruptive=True, **flags)
    for _ in range(2):
        beta.share_server_migration_driver_continue(ctx)
    dest = _dest(db, ctx, server_id)
    assert _server(db, ctx, dest['id']) == (
        c.STATUS_SERVER_MIGRATING_TO,
        c.TASK_STATE_MIGRATION_DRIVER_PHASE1_DONE)
    # no server was set up on the backend for it
    assert dest['identifier'] is None
    return dest


def _complete_nondisruptive(beta, db, ctx, server_id, dest, ids):
    src = db.share_server_get(ctx, server_id)
    beta.share_server_migration_complete(
        helpers.user_ctx(), src_share_server_id=server_id,
        dest_share_server_id=dest['id'])
    got = db.share_server_get(ctx, dest['id'])
    assert (got['status'], got['task_state'], got['identifier']) == (
        c.STATUS_ACTIVE, c.TASK_STATE_MIGRATION_SUCCESS, src['identifier'])
    assert got['backend_details']['service_ip'] == \
        src['backend_details']['service_ip']
    # moved as it is: nothing for the source's host to tear down, its row
    # is gone already (no delete_share_server cast to the source's host)
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(ctx, server_id)
    for inst_id in ids:
        inst = db.share_instance_get(ctx, inst_id)
        assert (inst['status'], inst['share_server_id']) == (
            c.STATUS_AVAILABLE, dest['id'])
        assert db.export_location_get_all_by_share_instance_id(ctx, inst_id)
    return got


def test_nondisruptive_migration_reuses_the_source_allocations(two, db,
                                                               admin_ctx):
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    src_allocs = sorted(a['id'] for a in
                        db.network_allocations_get_for_share_server(
                            admin_ctx, server_id))
    assert src_allocs
    dest = _nondisruptive_phase1(beta, db, admin_ctx, server_id)
    assert dest['share_network_subnet_ids'] == db.share_server_get(
        admin_ctx, server_id)['share_network_subnet_ids']
    assert not db.network_allocations_get_for_share_server(admin_ctx,
                                                           dest['id'])
    _complete_nondisruptive(beta, db, admin_ctx, server_id, dest, ids)
    assert sorted(a['id'] for a in db.network_allocations_get_for_share_server(
        admin_ctx, dest['id'])) == src_allocs
    assert _messages(db, admin_ctx, ids) == 0


def test_nondisruptive_migration_to_a_new_share_network(two, db, admin_ctx):
    """A network change gives the moved server new allocations; the source is still only dropped from the database (upstream)."""
    alpha, beta = two
    server_id, ids, _snap, _net = _server_with_shares(alpha, db, admin_ctx)
    new_net, new_subnet = make_network(db)
    dest = _nondisruptive_phase1(beta, db, admin_ctx, server_id,
                                 new_share_network_id=new_net)
    new_allocs = db.network_allocations_get_for_share_server(
        admin_ctx, dest['id'], label='user')
    assert {a['share_network_subnet_id'] for a in new_allocs} == {new_subnet}
    _complete_nondisruptive(beta, db, admin_ctx, server_id, dest, ids)
    assert {db.share_instance_get(admin_ctx, i)['share_network_id']
            for i in ids} == {new_net}
