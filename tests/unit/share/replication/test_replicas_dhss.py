"""Replicas of a share on a share network (DHSS=True, dummy, SQLite): each replica gets a share server of its host, or fails with message 004."""

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from tests.unit.share import helpers
from tests.unit.share.replication import helpers as rh
from tests.unit.share import test_servers


def _replicated_share_on_network(mgr, db, ctx, net_id):
    share, inst = helpers.make_share(db, ctx, host=mgr.host + '#pool',
                                     share_network_id=net_id,
                                     replication_type='readable')
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(ctx, inst['id'], {'replica_state': 'active'})
    return db.share_get(ctx, share['id']), inst['id']


def _share_and_replica_row(manager_factory, db, ctx, **beta_options):
    """A replicated share active on alpha (on a share network) and a replica row for beta; ``(beta, share, active id, replica id)``."""
    alpha = manager_factory(**helpers.dhss_options(replication_domain='rd'))
    beta = manager_factory(**helpers.dhss_options(
        'beta', name='beta', replication_domain='rd',
        standalone_network_plugin_allowed_ip_ranges=[
            '10.254.0.100-10.254.0.200'], **beta_options))
    net_id, _subnet = test_servers.make_network(db)
    share, active_id = _replicated_share_on_network(alpha, db, ctx, net_id)
    replica_id = rh.add_replica(db, ctx, share['id'],
                                host=beta.host + '#pool')
    return beta, share, active_id, replica_id


def test_replica_goes_on_a_server_of_its_host(manager_factory, db,
                                              admin_ctx):
    beta, share, active_id, replica_id = _share_and_replica_row(
        manager_factory, db, admin_ctx)
    beta.create_share_replica(helpers.user_ctx(),
                              share_replica_id=replica_id,
                              share_id=share['id'])
    replica = rh.instance_row(db, replica_id)
    assert (replica['status'], replica['replica_state']) == (
        c.STATUS_AVAILABLE, c.REPLICA_STATE_IN_SYNC)
    server = db.share_server_get(admin_ctx, replica['share_server_id'])
    assert (server['host'], server['status']) == (beta.host, c.STATUS_ACTIVE)
    active = rh.instance_row(db, active_id)
    assert active['share_server_id'] != server['id']
    assert test_servers.allocations(db, admin_ctx, server['id'], 'user')[
        0].startswith('10.254.0.1')


def test_replica_without_a_server_fails_with_message(manager_factory, db,
                                                     admin_ctx):
    beta, share, _active_id, replica_id = _share_and_replica_row(
        manager_factory, db, admin_ctx,
        dummy_driver_fail_methods=['_setup_server'])
    with pytest.raises(messaging.ExpectedException):
        beta.create_share_replica(helpers.user_ctx(),
                                  share_replica_id=replica_id,
                                  share_id=share['id'])
    replica = rh.instance_row(db, replica_id)
    assert (replica['status'], replica['replica_state']) == (
        c.STATUS_ERROR, c.STATUS_ERROR)
    assert helpers.messages(db, admin_ctx, replica_id, 'detail_id') == [
        ('004',)]
