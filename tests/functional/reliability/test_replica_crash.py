"""A daemon killed during replica create, promote and delete leaves, once restarted, no replica stranded and one active replica per share."""

import pytest

from tests.functional import share_rows as rows
from tests.unit.share.replication import helpers as rh

pytestmark = pytest.mark.functional

SLOW = 'create_replica:60,promote_replica:60,delete_replica:60'
TRANSITIONAL = ('creating', 'deleting', 'replication_change')


def _replicated_share(pg, daemon, share_rpc):
    share = rows.share(pg, daemon, 'creating', replication_type='readable')
    inst = share['instance']
    pg.share_instance_update(rows.admin_ctx(), inst['id'],
                             {'replica_state': 'active'})
    share_rpc.create_share_instance(rows.user_ctx(), inst,
                                    daemon.pool_host(), request_spec={},
                                    filter_properties={})
    rows.wait_status(daemon, share['id'], 'available')
    return share


def _replica(daemon, replica_id):
    return daemon.db.row('SELECT * FROM share_instances WHERE id = :i',
                         i=replica_id)


def test_kill_during_replica_operations(fresh_db, pg_facade, daemon_factory,
                                        share_rpc):
    pg, ctx = pg_facade, rows.admin_ctx()
    daemon = daemon_factory(fresh_db, options={'DEFAULT': {
        'transitional_state_timeout': 2,
        'transitional_state_check_interval': 1}})
    shares = [_replicated_share(pg, daemon, share_rpc) for _ in range(3)]
    daemon.stop()
    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': SLOW}})
    daemon.start()
    creating = rh.add_replica(pg, ctx, shares[0]['id'],
                              host=daemon.pool_host())
    promoting = rh.add_replica(pg, ctx, shares[1]['id'],
                               status='replication_change',
                               replica_state='in_sync',
                               host=daemon.pool_host())
    deleting = rh.add_replica(pg, ctx, shares[2]['id'], status='deleting',
                              replica_state='in_sync',
                              host=daemon.pool_host())
    share_rpc.create_share_replica(rows.user_ctx(), _replica(
        daemon, creating), daemon.pool_host(), {}, {})
    share_rpc.promote_share_replica(rows.user_ctx(),
                                    _replica(daemon, promoting))
    share_rpc.delete_share_replica(rows.user_ctx(),
                                   _replica(daemon, deleting))
    # each operation holds its share's replica lock while the driver sleeps
    daemon.wait_for(lambda: daemon.log_text().count(
        'locked-share-replica-operation-for-share-') >= 3, timeout=60,
        message='three replica operations under way')
    daemon.kill()

    daemon.configure({'alpha': {'dummy_driver_driver_methods_delays': ''}})
    daemon.start()
    ids = (creating, promoting, deleting)
    daemon.wait_for(lambda: not any(
        _replica(daemon, rid)['status'] in TRANSITIONAL for rid in ids),
        timeout=90, message='replicas settled after the restart')
    assert _replica(daemon, creating)['status'] == 'available'
    assert _replica(daemon, deleting)['deleted'] == deleting
    for share in shares:
        active = daemon.db.scalar(
            "SELECT count(*) FROM share_instances WHERE share_id = :s AND "
            "deleted = 'False' AND replica_state = 'active'", s=share['id'])
        assert active == 1, share['id']
    assert _replica(daemon, promoting)['status'] == 'available'
