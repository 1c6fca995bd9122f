"""localfs replication through two managers (SQLite): directories kept in sync, replica snapshots, promotion without data loss, out_of_sync."""

import os

import pytest

from manila_lite.common import constants as c
from tests.unit.share import helpers
from tests.unit.share.replication import helpers as rh


@pytest.fixture
def pair(manager_factory, tmp_path):
    """Managers of two localfs backends of one replication domain."""
    def build(replication_type='readable'):
        managers = []
        for name, ip in (('alpha', '127.0.0.1'), ('beta', '127.0.0.2')):
            managers.append(manager_factory(
                name=name, share_driver='localfs',
                localfs_pools=[str(tmp_path / 'pools' / name)],
                localfs_export_ips=[ip], replication_domain='rd',
                localfs_replication_type=replication_type,
                localfs_exports_file=str(tmp_path / ('%s.exports' % name)),
                localfs_apply_samba_config=False))
        return managers
    return build


def _dir(db, ctx, instance_id):
    inst = db.share_instance_get(ctx, instance_id, with_share_data=True)
    return inst['export_locations'][0]['path'].split(':', 1)[1]


def _replicated(alpha, beta, db, ctx, tmp_path):
    """An active share on alpha holding a file, and its replica created on beta."""
    share, inst = helpers.make_share(db, ctx, host=alpha.host + '#alpha',
                                     replication_type='readable')
    alpha.create_share_instance(helpers.user_ctx(), inst['id'])
    db.share_instance_update(ctx, inst['id'], {'replica_state': 'active'})
    active_dir = str(tmp_path / 'pools' / 'alpha' / ('share-' + inst['id']))
    with open(os.path.join(active_dir, 'a.txt'), 'w') as f:
        f.write('first')
    replica_id = rh.add_replica(db, ctx, share['id'],
                                host=beta.host + '#beta')
    beta.create_share_replica(helpers.user_ctx(), share_replica_id=replica_id,
                              share_id=share['id'])
    return share, inst['id'], active_dir, replica_id


def _read(path):
    with open(path) as f:
        return f.read()


def test_replica_is_a_synced_read_only_copy(pair, db, admin_ctx, tmp_path):
    alpha, beta = pair()
    stats = alpha.driver.get_share_stats(refresh=True)
    assert (stats['replication_type'], stats['replication_domain']) == (
        'readable', 'rd')
    share, active_id, active_dir, replica_id = _replicated(
        alpha, beta, db, admin_ctx, tmp_path)
    replica = rh.instance_row(db, replica_id)
    assert (replica['status'], replica['replica_state']) == (
        c.STATUS_AVAILABLE, c.REPLICA_STATE_IN_SYNC)
    replica_dir = _dir(db, admin_ctx, replica_id)
    assert replica_dir.startswith(str(tmp_path / 'pools' / 'beta'))
    assert db.share_instance_get(admin_ctx, replica_id)[
        'export_locations'][0]['path'].startswith('127.0.0.2:')
    assert _read(os.path.join(replica_dir, 'a.txt')) == 'first'
    # changes reach the replica at the next periodic update: new, changed
    # and removed files
    with open(os.path.join(active_dir, 'a.txt'), 'w') as f:
        f.write('second!')
    os.mkdir(os.path.join(active_dir, 'sub'))
    with open(os.path.join(active_dir, 'sub', 'b.txt'), 'w') as f:
        f.write('b')
    with open(os.path.join(replica_dir, 'stray'), 'w') as f:
        f.write('only on the replica')
    beta.periodic_share_replica_update(admin_ctx)
    assert _read(os.path.join(replica_dir, 'a.txt')) == 'second!'
    assert _read(os.path.join(replica_dir, 'sub', 'b.txt')) == 'b'
    assert not os.path.exists(os.path.join(replica_dir, 'stray'))
    assert rh.instance_row(db, replica_id)['replica_state'] == (
        c.REPLICA_STATE_IN_SYNC)
    # an access rule reaches the replica read-only
    rule = {'access_id': 'r1', 'access_type': 'ip', 'access_to': '192.0.2.1',
            'access_level': 'rw'}
    beta.driver.update_replica_state(
        admin_ctx, [{'id': active_id, 'replica_state': 'active'},
                    {'id': replica_id, 'replica_state': 'in_sync'}],
        db.share_instance_get(admin_ctx, replica_id, with_share_data=True),
        [rule], [])
    exports_text = _read(tmp_path / 'beta.exports')
    assert '192.0.2.1(ro' in exports_text


def test_replica_snapshot_and_promotion_keep_the_data(pair, db, admin_ctx,
                                                      tmp_path):
    alpha, beta = pair()
    share, active_id, active_dir, replica_id = _replicated(
        alpha, beta, db, admin_ctx, tmp_path)
    snapshot = rh.replicated_snapshot(db, admin_ctx, share,
                                      [replica_id])
    alpha.create_replicated_snapshot(helpers.user_ctx(),
                                     snapshot_id=snapshot['id'],
                                     share_id=share['id'])
    instances = rh.snapshot_instances(db, snapshot['id'])
    assert instances[active_id]['status'] == c.STATUS_AVAILABLE
    assert instances[replica_id]['status'] == c.STATUS_CREATING
    beta.periodic_share_replica_snapshot_update(admin_ctx)
    instances = rh.snapshot_instances(db, snapshot['id'])
    assert instances[replica_id]['status'] == c.STATUS_AVAILABLE
    copy_dir = instances[replica_id]['provider_location']
    assert copy_dir.startswith(str(tmp_path / 'pools' / 'beta'))
    assert _read(os.path.join(copy_dir, 'a.txt')) == 'first'

    # written just before the promotion: on the promoted replica after it
    with open(os.path.join(active_dir, 'late.txt'), 'w') as f:
        f.write('late')
    db.share_instance_update(admin_ctx, replica_id,
                             {'status': c.STATUS_REPLICATION_CHANGE})
    beta.promote_share_replica(helpers.user_ctx(),
                               share_replica_id=replica_id,
                               share_id=share['id'])
    promoted = rh.instance_row(db, replica_id)
    assert (promoted['status'], promoted['replica_state']) == (
        c.STATUS_AVAILABLE, c.REPLICA_STATE_ACTIVE)
    assert rh.instance_row(db, active_id)['replica_state'] == (
        c.REPLICA_STATE_IN_SYNC)
    replica_dir = _dir(db, admin_ctx, replica_id)
    assert _read(os.path.join(replica_dir, 'late.txt')) == 'late'
    # roles swapped: the old active one now follows the new one
    with open(os.path.join(replica_dir, 'after.txt'), 'w') as f:
        f.write('after')
    alpha.periodic_share_replica_update(admin_ctx)
    assert _read(os.path.join(active_dir, 'after.txt')) == 'after'


def test_a_failed_sync_is_out_of_sync(pair, db, admin_ctx, tmp_path):
    alpha, beta = pair(replication_type='dr')
    share, active_id, active_dir, replica_id = _replicated(
        alpha, beta, db, admin_ctx, tmp_path)
    # dr replicas are not exported
    assert db.share_instance_get(admin_ctx, replica_id)[
        'export_locations'] == []
    hidden = active_dir + '.away'
    os.rename(active_dir, hidden)
    try:
        beta.periodic_share_replica_update(admin_ctx)
        assert rh.instance_row(db, replica_id)['replica_state'] == (
            c.REPLICA_STATE_OUT_OF_SYNC)
    finally:
        os.rename(hidden, active_dir)
    beta.periodic_share_replica_update(admin_ctx)
    assert rh.instance_row(db, replica_id)['replica_state'] == (
        c.REPLICA_STATE_IN_SYNC)
