"""Replicated snapshot flows against SQLite and the dummy driver: create, delete (force), revert, periodic update."""

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from tests.unit.share import helpers
from tests.unit.share.replication import helpers as rh

CONF = cfg.CONF


@pytest.fixture
def env(manager_factory, db, admin_ctx):
    """A readable share with one in_sync replica."""
    mgr = manager_factory(replication_domain='rd1')
    share, active_id = rh.replicated_share(mgr, db, admin_ctx, size=2)
    replica_id = rh.add_replica(db, admin_ctx, share['id'])
    mgr.create_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                             share_id=share['id'])
    return mgr, share, active_id, replica_id


def _statuses(db, snapshot_id):
    return {k: (r['status'], r['deleted'] != 'False')
            for k, r in rh.snapshot_instances(db, snapshot_id).items()}


def test_create_replicated_snapshot(env, db, admin_ctx):
    mgr, share, active_id, replica_id = env
    snapshot = rh.replicated_snapshot(db, admin_ctx, share, [replica_id])
    mgr.create_replicated_snapshot(helpers.user_ctx(),
                                   snapshot_id=snapshot['id'],
                                   share_id=share['id'])
    assert _statuses(db, snapshot['id']) == {
        active_id: ('available', False), replica_id: ('available', False)}
    progress = {r['progress'] for r in
                rh.snapshot_instances(db, snapshot['id']).values()}
    assert progress == {'100%'}


def test_create_replicated_snapshot_failure(env, db, admin_ctx):
    mgr, share, active_id, replica_id = env
    snapshot = rh.replicated_snapshot(db, admin_ctx, share, [replica_id])
    rh.fail(['create_replicated_snapshot'])
    with pytest.raises(messaging.ExpectedException):
        mgr.create_replicated_snapshot(helpers.user_ctx(),
                                       snapshot_id=snapshot['id'],
                                       share_id=share['id'])
    assert _statuses(db, snapshot['id']) == {
        active_id: ('error', False), replica_id: ('error', False)}
    assert helpers.messages(db, admin_ctx, snapshot['id'], 'action_id') == [
        ('002',)]


@pytest.mark.parametrize('force', [False, True])
def test_delete_replicated_snapshot(env, db, admin_ctx, force):
    mgr, share, active_id, replica_id = env
    snapshot = rh.replicated_snapshot(db, admin_ctx, share, [replica_id],
                                      status='deleting')
    mgr.delete_replicated_snapshot(helpers.user_ctx(),
                                   snapshot_id=snapshot['id'],
                                   share_id=share['id'], force=force)
    assert {v[1] for v in _statuses(db, snapshot['id']).values()} == {True}


@pytest.mark.parametrize('force, gone', [(False, False), (True, True)])
def test_delete_replicated_snapshot_failure(env, db, admin_ctx, force, gone):
    mgr, share, active_id, replica_id = env
    snapshot = rh.replicated_snapshot(db, admin_ctx, share, [replica_id],
                                      status='deleting')
    rh.fail(['delete_replicated_snapshot'])
    call = lambda: mgr.delete_replicated_snapshot(  # noqa: E731
        helpers.user_ctx(), snapshot_id=snapshot['id'],
        share_id=share['id'], force=force)
    if force:
        call()
        assert {v[1] for v in _statuses(db, snapshot['id']).values()} == {
            True}
    else:
        with pytest.raises(messaging.ExpectedException):
            call()
        assert _statuses(db, snapshot['id']) == {
            active_id: ('error_deleting', False),
            replica_id: ('error_deleting', False)}


def _revert_rows(db, ctx, share, active_id, replica_id):
    snapshot = rh.replicated_snapshot(db, ctx, share, [replica_id],
                                      status='available')
    db.share_instance_update(ctx, active_id, {'status': 'reverting'})
    db.share_snapshot_instance_update(ctx, snapshot.instance['id'],
                                      {'status': 'restoring'})
    return snapshot


def test_revert_to_replicated_snapshot(env, db, admin_ctx):
    mgr, share, active_id, replica_id = env
    snapshot = _revert_rows(db, admin_ctx, share, active_id, replica_id)
    mgr.revert_to_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'])
    assert rh.instance_row(db, active_id)['status'] == 'available'
    assert _statuses(db, snapshot['id'])[active_id] == ('available', False)


def test_revert_to_replicated_snapshot_failure(env, db, admin_ctx):
    mgr, share, active_id, replica_id = env
    snapshot = _revert_rows(db, admin_ctx, share, active_id, replica_id)
    rh.fail(['revert_to_replicated_snapshot'])
    with pytest.raises(messaging.ExpectedException):
        mgr.revert_to_snapshot(helpers.user_ctx(), snapshot_id=snapshot['id'])
    assert rh.instance_row(db, active_id)['status'] == 'reverting_error'
    assert _statuses(db, snapshot['id'])[active_id] == ('available', False)


def test_periodic_snapshot_update(env, db, admin_ctx):
    mgr, share, active_id, replica_id = env
    creating = rh.replicated_snapshot(db, admin_ctx, share, [replica_id])
    mgr.periodic_share_replica_snapshot_update(admin_ctx)
    statuses = _statuses(db, creating['id'])
    # only the non-active replica's instance is polled
    assert statuses == {active_id: ('creating', False),
                        replica_id: ('available', False)}
    rh.fail(['update_replicated_snapshot'])
    other = rh.replicated_snapshot(db, admin_ctx, share, [replica_id])
    mgr.periodic_share_replica_snapshot_update(admin_ctx)
    assert _statuses(db, other['id'])[replica_id] == ('error', False)


def test_reconcile_drives_a_stranded_replicated_snapshot_again(env, db,
                                                               admin_ctx):
    from manila_lite.share import reconcile
    mgr, share, active_id, replica_id = env
    snapshot = rh.replicated_snapshot(db, admin_ctx, share, [replica_id])
    CONF.set_override('transitional_state_timeout', 60)
    try:
        found = reconcile.find_stranded_snapshots(
            mgr, admin_ctx, now=rh.later(3600))
        # the non-active replica's instance is left to the periodic update
        assert [s['share_instance_id'] for s in found] == [active_id]
        reconcile.settle_snapshot(mgr, admin_ctx, found[0])
    finally:
        CONF.clear_override('transitional_state_timeout')
    assert _statuses(db, snapshot['id']) == {
        active_id: ('available', False), replica_id: ('available', False)}


def test_delete_of_an_unknown_replicated_snapshot_is_an_error(env):
    # Bad input is answered with one error, never dropped in silence.
    mgr, share, _active_id, _replica_id = env
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.delete_replicated_snapshot(helpers.user_ctx(),
                                       snapshot_id='no-such-snapshot',
                                       share_id=share['id'])
    assert 'no-such-snapshot' in str(helpers.unwrap(excinfo))
