"""Share groups on a share network (DHSS=True, dummy, SQLite): a server chosen or created for the group, its shares on it, reused by clones."""

import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from tests.unit.share import helpers
from tests.unit.share import test_servers


@pytest.fixture
def dhss_env(manager_factory):
    def build(**options):
        mgr = manager_factory(**helpers.dhss_options(**options))
        mgr.driver.get_share_stats(refresh=True)
        return mgr
    return build


def _group(mgr, db, ctx, net_id, **extra):
    group_id, members = helpers.make_group(
        db, ctx, host=mgr.host + '#pool', share_network_id=net_id, **extra)
    mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    return db.share_group_get(ctx, group_id), members


def _share_into(mgr, db, ctx, group, net_id):
    _share, inst = helpers.make_share(db, ctx, host=group['host'],
                                      share_network_id=net_id,
                                      share_group_id=group['id'])
    mgr.create_share_instance(ctx, inst['id'])
    return db.share_instance_get(ctx, inst['id'])


def test_group_gets_a_server_and_its_shares_go_on_it(dhss_env, db,
                                                     admin_ctx):
    mgr = dhss_env()
    net_id, subnet_id = test_servers.make_network(db)
    # a server already on the network (a plain share's) is the driver's pick
    plain = test_servers.create(mgr, db, admin_ctx, net_id)
    group, _ = _group(mgr, db, admin_ctx, net_id)
    assert group['status'] == c.STATUS_AVAILABLE
    assert group['share_server_id'] == plain['share_server_id']
    # with max one share per server the next group gets a server of its own
    limited = dhss_env(name='beta', max_shares_per_share_server=1)
    group_b, _ = _group(limited, db, admin_ctx, net_id)
    assert group_b['status'] == c.STATUS_AVAILABLE
    server_b = db.share_server_get(admin_ctx, group_b['share_server_id'])
    assert server_b['status'] == c.STATUS_ACTIVE
    assert server_b['host'] == limited.host
    assert server_b['share_network_subnet_ids'] == [subnet_id]
    inst = _share_into(mgr, db, admin_ctx, group, net_id)
    assert inst['status'] == c.STATUS_AVAILABLE
    assert inst['share_server_id'] == group['share_server_id']


def test_group_from_snapshot_uses_the_source_groups_server(dhss_env, db,
                                                           admin_ctx):
    mgr = dhss_env()
    net_id, _subnet = test_servers.make_network(db)
    group, _ = _group(mgr, db, admin_ctx, net_id)
    _share_into(mgr, db, admin_ctx, group, net_id)
    snapshot_id = helpers.make_group_snapshot(db, admin_ctx, group['id'])
    mgr.create_share_group_snapshot(helpers.user_ctx(),
                                    share_group_snapshot_id=snapshot_id)
    assert db.share_group_snapshot_get(admin_ctx, snapshot_id)[
        'status'] == c.STATUS_AVAILABLE
    clone, members = _group(mgr, db, admin_ctx, net_id,
                            source_snapshot=snapshot_id)
    assert clone['status'] == c.STATUS_AVAILABLE
    assert clone['share_server_id'] == group['share_server_id']
    assert [db.share_instance_get(admin_ctx, m['id'])['status']
            for m in members] == [c.STATUS_AVAILABLE]
    db.share_group_update(admin_ctx, clone['id'],
                          {'status': c.STATUS_DELETING})
    for member in members:
        db.share_instance_update(admin_ctx, member['id'],
                                 {'status': c.STATUS_DELETING})
        mgr.delete_share_instance(admin_ctx, member['id'])
    mgr.delete_share_group(helpers.user_ctx(), share_group_id=clone['id'])
    with pytest.raises(exception.NotFound):
        db.share_group_get(admin_ctx, clone['id'])


def test_group_without_a_server_fails_with_a_message(dhss_env, db,
                                                     admin_ctx):
    mgr = dhss_env(dummy_driver_fail_methods=['_setup_server'])
    net_id, _subnet = test_servers.make_network(db)
    group_id, _ = helpers.make_group(db, admin_ctx, host=mgr.host + '#pool',
                                     share_network_id=net_id)
    with pytest.raises(messaging.ExpectedException):
        mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    group = db.share_group_get(admin_ctx, group_id)
    assert group['status'] == c.STATUS_ERROR
    assert helpers.messages(db, admin_ctx, group_id, 'action_id',
                            'detail_id') == [('002', '004')]
    server = db.share_server_get(admin_ctx, group['share_server_id'])
    assert server['status'] == c.STATUS_ERROR
    assert test_servers.allocations(db, admin_ctx, server['id']) == []
