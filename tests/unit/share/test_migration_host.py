"""Host-assisted share migration on two dummy backends, share RPC routed between them, data casts on the fake transport.

Start, completion, cancellation, failures, reconciliation; localfs
connection info.
"""

import os

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite import rpc
from manila_lite.share import migration_host
from tests.unit.share import helpers
from tests.unit.share.test_migration import _age_share

CONF = cfg.CONF
DEST = 'hostA@beta#fake_pool_for_beta'


@pytest.fixture
def routed(manager_factory, monkeypatch):
    """``(alpha, beta, sent)``: share RPC to either backend reaches its manager; every message is in ``sent`` as ``(target, message, wait)``."""
    alpha, beta = manager_factory(), manager_factory(name='beta')
    servers = {alpha.host: alpha, beta.host: beta}
    sent = []
    faults = {}

    def _send(target, ctxt, message, wait_for_reply=None, timeout=None,
              call_monitor_timeout=None, retry=None, transport_options=None):
        sent.append((target, message, wait_for_reply))
        if message['method'] in faults:
            raise faults[message['method']]
        if target.topic != CONF.share_topic:
            return None
        ctx = ml_context.RequestContext.from_dict(ctxt)
        try:
            return getattr(servers[target.server], message['method'])(
                ctx, **message['args'])
        except Exception:
            if wait_for_reply:
                raise
            return None

    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    CONF.set_override('migration_create_delete_share_timeout', 5)
    yield alpha, beta, sent, faults
    CONF.clear_override('migration_create_delete_share_timeout')


@pytest.fixture(autouse=True)
def clear_faults():
    yield
    for section in ('alpha', 'beta'):
        try:
            CONF.clear_override('dummy_driver_fail_methods', group=section)
        except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
            pass


def _migrating_share(mgr, db, ctx):
    share, inst = helpers.make_share(db, ctx)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_update(ctx, share['id'],
                    {'task_state': c.TASK_STATE_MIGRATION_STARTING})
    db.share_instance_update(ctx, inst['id'], {'status': c.STATUS_MIGRATING})
    return share['id'], inst['id']


def _start(mgr, share_id, **flags):
    args = dict(force_host_assisted_migration=True, preserve_metadata=False,
                writable=False, nondisruptive=False, preserve_snapshots=False)
    args.update(flags)
    mgr.migration_start(helpers.user_ctx(), share_id=share_id,
                        dest_host=DEST, **args)


def _task(db, ctx, share_id):
    return db.share_get(ctx, share_id)['task_state']


def _instances(db, ctx, share_id):
    return {i['status']: i for i in db.share_instance_get_all(
        ctx, {'share_id': share_id})}


def _data_messages(sent):
    return [(t, m, w) for t, m, w in sent if t.topic == 'manila-data']


def _started(routed, db, ctx):
    """A share whose host-assisted migration was handed to the data service: ``(share id, source id, destination)``."""
    alpha, _beta, _sent, _faults = routed
    share_id, src_id = _migrating_share(alpha, db, ctx)
    _start(alpha, share_id)
    return share_id, src_id, _instances(db, ctx, share_id)[c.STATUS_MIGRATING_TO]


def _assert_given_back(db, ctx, share_id, src_id, task_state):
    assert _task(db, ctx, share_id) == task_state
    assert list(_instances(db, ctx, share_id)) == [c.STATUS_AVAILABLE]
    src = db.share_instance_get(ctx, src_id)
    assert (src['status'], src['cast_rules_to_readonly']) == (
        c.STATUS_AVAILABLE, False)


# -- start ---------------------------------------------------------------------

def test_start_creates_destination_and_casts_the_copy(routed, db, admin_ctx):
    alpha, beta, sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    assert dest['host'] == DEST
    assert dest['export_locations']           # beta's driver created it
    src = db.share_instance_get(admin_ctx, src_id)
    assert (src['status'], src['cast_rules_to_readonly']) == (
        c.STATUS_MIGRATING, True)
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_DATA_COPYING_STARTING
    share_methods = [(t.server, m['method'], m['version'])
                     for t, m, _w in sent if t.topic == 'manila-share']
    assert share_methods == [
        ('hostA@beta', 'create_share_instance', '1.4'),
        ('hostA@beta', 'connection_get_info', '1.12')]
    [(target, message, wait)] = _data_messages(sent)
    assert (target.topic, target.server, bool(target.fanout), bool(wait)) \
        == ('manila-data', None, False, False)
    assert (message['method'], message['version']) == ('migration_start',
                                                       '1.0')
    args = message['args']
    assert sorted(args) == sorted([
        'share_id', 'ignore_list', 'share_instance_id',
        'dest_share_instance_id', 'connection_info_src',
        'connection_info_dest'])
    assert (args['share_id'], args['share_instance_id'],
            args['dest_share_instance_id'], args['ignore_list']) == (
        share_id, src_id, dest['id'], ['lost+found'])
    assert set(args['connection_info_src']) >= {'mount', 'unmount',
                                                'access_mapping'}
    assert args['connection_info_dest'] == beta.connection_get_info(
        admin_ctx, share_instance_id=dest['id'])


def test_driver_failure_falls_back_to_host_assisted(routed, db, admin_ctx):
    alpha, _beta, sent, _faults = routed
    share_id, src_id = _migrating_share(alpha, db, admin_ctx)
    CONF.set_override('dummy_driver_fail_methods', ['migration_start'],
                      group='alpha')
    _start(alpha, share_id, force_host_assisted_migration=False)
    assert _task(db, admin_ctx, share_id) == c.TASK_STATE_DATA_COPYING_STARTING
    live = _instances(db, admin_ctx, share_id)
    assert sorted(live) == [c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO]
    assert len(_data_messages(sent)) == 1


def test_destination_creation_failure(routed, db, admin_ctx):
    alpha, _beta, sent, _faults = routed
    share_id, src_id = _migrating_share(alpha, db, admin_ctx)
    CONF.set_override('dummy_driver_fail_methods', ['create_share'],
                      group='beta')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _start(alpha, share_id)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareMigrationFailed)
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    # the destination's own creation failure (002), the migration's (005)
    assert sorted(m['action_id'] for m in helpers.messages(
        db, admin_ctx, share_id)) == ['002', '005']
    assert _data_messages(sent) == []


@pytest.mark.parametrize('method', ['connection_get_info', 'migration_start'])
def test_failure_after_the_destination_deletes_it(routed, db, admin_ctx,
                                                  method):
    alpha, _beta, sent, faults = routed
    share_id, src_id = _migrating_share(alpha, db, admin_ctx)
    faults[method] = messaging.MessagingTimeout('no answer')
    with pytest.raises(messaging.ExpectedException):
        _start(alpha, share_id)
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    deletes = [m for t, m, _w in sent
               if m['method'] == 'delete_share_instance']
    assert [(d['args']['force'], d['version']) for d in deletes] == [
        (True, '1.27')]


def test_snapshots_refuse_host_assisted(routed, db, admin_ctx):
    alpha, _beta, sent, _faults = routed
    share_id, src_id = _migrating_share(alpha, db, admin_ctx)
    helpers.make_snapshot(db, admin_ctx, db.share_get(admin_ctx, share_id),
                          status='available')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _start(alpha, share_id)
    assert 'snapshots' in str(helpers.unwrap(excinfo))
    assert sent == []


# -- complete ------------------------------------------------------------------

def _complete(alpha, src_id, dest_id):
    alpha.migration_complete(helpers.user_ctx(), src_instance_id=src_id,
                             dest_instance_id=dest_id)


def test_complete_after_the_copy(routed, db, admin_ctx):
    alpha, _beta, sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    rule = db.share_access_create(admin_ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': '10.0.0.1',
        'access_level': 'rw', 'state': c.ACCESS_STATE_ACTIVE})
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_COMPLETED})
    _complete(alpha, src_id, dest['id'])
    share = db.share_get(admin_ctx, share_id)
    assert share['task_state'] == c.TASK_STATE_MIGRATION_SUCCESS
    assert [i['id'] for i in share.instances] == [dest['id']]
    got = db.share_instance_get(admin_ctx, dest['id'])
    assert (got['status'], got['progress'], got['access_rules_status']) == (
        c.STATUS_AVAILABLE, '100%', c.STATUS_ACTIVE)
    mapping = db.share_instance_access_get(admin_ctx, rule['id'], dest['id'])
    assert mapping['state'] == c.ACCESS_STATE_ACTIVE
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, src_id)
    assert 'update_access' in [m['method'] for _t, m, _w in sent]


@pytest.mark.parametrize('task_state', [c.TASK_STATE_DATA_COPYING_STARTING,
                                        c.TASK_STATE_DATA_COPYING_IN_PROGRESS])
def test_complete_before_the_copy_ends_is_refused(routed, db, admin_ctx,
                                                  task_state):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id, {'task_state': task_state})
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _complete(alpha, src_id, dest['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.InvalidShare)
    assert _task(db, admin_ctx, share_id) == task_state
    assert sorted(_instances(db, admin_ctx, share_id)) == [
        c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO]


def test_failed_copy_ends_in_migration_error(routed, db, admin_ctx):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_ERROR})
    with pytest.raises(messaging.ExpectedException) as excinfo:
        _complete(alpha, src_id, dest['id'])
    assert isinstance(helpers.unwrap(excinfo), migration_host.DataCopyFailed)
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    assert [m['action_id'] for m in helpers.messages(
        db, admin_ctx, share_id)] == ['005']


def test_cancelled_copy_ends_in_migration_cancelled(routed, db, admin_ctx):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_CANCELLED})
    _complete(alpha, src_id, dest['id'])
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_CANCELLED)
    assert helpers.messages(db, admin_ctx, share_id) == []


def test_rules_failure_at_completion_gives_the_source_back(routed, db,
                                                           admin_ctx):
    alpha, _beta, _sent, faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_access_create(admin_ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': '10.0.0.1',
        'access_level': 'rw', 'state': c.ACCESS_STATE_ACTIVE})
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_COMPLETED})
    faults['update_access'] = messaging.MessageDeliveryFailure('broker')
    with pytest.raises(messaging.ExpectedException):
        _complete(alpha, src_id, dest['id'])
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    assert '005' in [m['action_id'] for m in helpers.messages(
        db, admin_ctx, share_id)]


# -- cancel --------------------------------------------------------------------

def _cancel(alpha, src_id, dest_id):
    alpha.migration_cancel(helpers.user_ctx(), src_instance_id=src_id,
                           dest_instance_id=dest_id)


def test_cancel_after_the_copy(routed, db, admin_ctx):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_COMPLETED})
    _cancel(alpha, src_id, dest['id'])
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_CANCELLED)


def test_cancel_while_copying_asks_the_data_service(routed, db, admin_ctx):
    alpha, _beta, sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_IN_PROGRESS})
    del sent[:]
    _cancel(alpha, src_id, dest['id'])
    [(target, message, wait)] = _data_messages(sent)
    assert (target.topic, message['method'], message['version'],
            message['args'], bool(wait)) == (
        'manila-data', 'data_copy_cancel', '1.0', {'share_id': share_id},
        True)
    # the data service's cancelled copy comes back as migration_complete
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_DATA_COPYING_IN_PROGRESS


# -- reconciliation ------------------------------------------------------------

@pytest.fixture
def stale_after_60s():
    CONF.set_override('transitional_state_timeout', 60)
    yield
    CONF.clear_override('transitional_state_timeout')


@pytest.mark.parametrize('task_state, ends_in', [
    (c.TASK_STATE_DATA_COPYING_ERROR, c.TASK_STATE_MIGRATION_ERROR),
    (c.TASK_STATE_DATA_COPYING_CANCELLED, c.TASK_STATE_MIGRATION_CANCELLED)])
def test_copy_ended_without_complete_is_settled(routed, db, admin_ctx,
                                                stale_after_60s, task_state,
                                                ends_in):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id, {'task_state': task_state})
    alpha.reconcile_transitional_states(admin_ctx)
    assert _task(db, admin_ctx, share_id) == task_state     # not stale yet
    _age_share(db, share_id, 120)
    alpha.reconcile_transitional_states(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id, ends_in)


def test_destination_of_a_stranded_start_is_deleted(routed, db, admin_ctx,
                                                    stale_after_60s):
    """The service died after the destination's host created it, before it became migrating_to."""
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_instance_update(admin_ctx, dest['id'],
                             {'status': c.STATUS_AVAILABLE})
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_MIGRATION_IN_PROGRESS})
    _age_share(db, share_id, 120)
    alpha.reconcile_transitional_states(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, dest['id'])


def _completing(routed, db, ctx, src_status, dest_status):
    """A host-assisted completion whose handler died with the source and destination in these statuses."""
    share_id, src_id, dest = _started(routed, db, ctx)
    db.share_access_create(ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': '10.0.0.1',
        'access_level': 'rw', 'state': c.ACCESS_STATE_ACTIVE})
    db.share_instance_access_copy(ctx, share_id, dest['id'])
    db.share_update(ctx, share_id,
                    {'task_state': c.TASK_STATE_MIGRATION_COMPLETING})
    db.share_instance_update(ctx, src_id, {'status': src_status})
    db.share_instance_update(ctx, dest['id'], {'status': dest_status})
    _age_share(db, share_id, 120)
    return share_id, src_id, dest


def test_completion_stranded_before_the_cut_over_gives_the_source_back(
        routed, db, admin_ctx, stale_after_60s):
    """Died while the destination's rules were applied: the source's data are intact, so it is the share again."""
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _completing(
        routed, db, admin_ctx, c.STATUS_MIGRATING, c.STATUS_MIGRATING_TO)
    alpha.reconcile_transitional_states(admin_ctx)
    _assert_given_back(db, admin_ctx, share_id, src_id,
                       c.TASK_STATE_MIGRATION_ERROR)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, dest['id'])
    assert [m['action_id'] for m in helpers.messages(
        db, admin_ctx, share_id)] == ['005']


@pytest.mark.parametrize('src_status', [c.STATUS_MIGRATING,
                                        c.STATUS_INACTIVE, c.STATUS_DELETING])
def test_completion_stranded_after_the_cut_over_is_finished(
        routed, db, admin_ctx, stale_after_60s, src_status):
    """Died after the destination became the share's instance: the source's deletion is done and the migration succeeds."""
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _completing(
        routed, db, admin_ctx, src_status, c.STATUS_AVAILABLE)
    alpha.reconcile_transitional_states(admin_ctx)
    share = db.share_get(admin_ctx, share_id)
    assert share['task_state'] == c.TASK_STATE_MIGRATION_SUCCESS
    assert [(i['id'], i['status']) for i in share.instances] == [
        (dest['id'], c.STATUS_AVAILABLE)]
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, src_id)
    assert helpers.messages(db, admin_ctx, share_id) == []


def test_copy_in_progress_is_not_settled(routed, db, admin_ctx,
                                         stale_after_60s):
    alpha, _beta, _sent, _faults = routed
    share_id, src_id, dest = _started(routed, db, admin_ctx)
    db.share_update(admin_ctx, share_id,
                    {'task_state': c.TASK_STATE_DATA_COPYING_IN_PROGRESS})
    _age_share(db, share_id, 120)
    alpha.reconcile_transitional_states(admin_ctx)
    assert _task(db, admin_ctx, share_id) == \
        c.TASK_STATE_DATA_COPYING_IN_PROGRESS


# -- localfs: what the data service runs -------------------------------------

def test_localfs_connection_info_is_a_bind_mount(manager_factory, db,
                                                 admin_ctx, tmp_path):
    pool = tmp_path / 'pool'
    mgr = manager_factory(name='lfs', share_driver='localfs',
                          localfs_pools=str(pool))
    share, inst = helpers.make_share(db, admin_ctx, host='hostA@lfs#pool')
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    info = mgr.connection_get_info(helpers.user_ctx(),
                                   share_instance_id=inst['id'])
    share_dir = os.path.join(str(pool), 'share-%s' % inst['id'])
    assert os.path.isdir(share_dir)
    assert info['access_mapping'] == {'ip': ['nfs']}
    # the data service's formatting and splitting
    assert (info['mount'] % {'path': '/mnt/x', 'options': ''}).split() == [
        'mount', '--bind', share_dir, '/mnt/x']
    assert (info['unmount'] % {'path': '/mnt/x'}).split() == [
        'umount', '/mnt/x']
