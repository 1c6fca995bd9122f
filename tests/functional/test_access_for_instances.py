"""update_access_for_instances (RPC 1.21 cast) through the real daemon, RabbitMQ and PostgreSQL.

Several instances synced in one cast, and the driver failure.
"""

import pytest

from oslo_utils import uuidutils

from tests.functional import share_rows

pytestmark = pytest.mark.functional


def _queue_allow(pg, share_id, instance_id, to):
    """Rows as upstream's API writes them: a queued rule, instance syncing."""
    ctx = share_rows.admin_ctx()
    rule = pg.share_access_create(ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': to,
        'access_level': 'rw', 'state': 'queued_to_apply'})
    pg.share_instance_access_rules_status_update(ctx, instance_id,
                                                 ['active'], 'syncing')
    return rule['id']


def _queue_deny(pg, instance_id, access_id):
    ctx = share_rows.admin_ctx()
    pg.share_instance_access_update(ctx, access_id, instance_id,
                                    {'state': 'queued_to_deny'})
    pg.share_instance_access_rules_status_update(ctx, instance_id,
                                                 ['active'], 'syncing')


def _rule_state(daemon, instance_id, access_id):
    return daemon.db.scalar(
        'SELECT state FROM share_instance_access_map WHERE '
        'share_instance_id = :i AND access_id = :a', i=instance_id,
        a=access_id)


def _rules_status(daemon, instance_id):
    return daemon.db.scalar('SELECT access_rules_status FROM share_instances '
                            'WHERE id = :i', i=instance_id)


def _wait_synced(daemon, expected, status):
    """Wait for each (instance, rule) state and each instance ``status``."""
    def done():
        return (all(_rule_state(daemon, i, a) == s
                    for (i, a), s in expected.items()) and
                all(_rules_status(daemon, i) == status
                    for i, _ in expected))
    daemon.wait_for(done, timeout=30, message='rules %s and instances %s'
                    % (expected, status))


def _shares(pg, daemon, share_rpc, count):
    """``count`` shares the daemon created: [(share_id, instance_id)]."""
    out = []
    for _ in range(count):
        row = share_rows.available_share(pg, daemon, share_rpc, charge=False)
        out.append((row['id'], row['instance']['id']))
    return out


def test_several_instances_in_one_cast(daemon_factory, fresh_db, pg_facade,
                                       share_rpc):
    daemon = daemon_factory(fresh_db)
    (sa, ia), (sb, ib), (sc, ic) = _shares(pg_facade, daemon, share_rpc, 3)
    a1 = _queue_allow(pg_facade, sa, ia, '10.0.0.1')
    a2 = _queue_allow(pg_facade, sa, ia, '10.0.0.2')
    b1 = _queue_allow(pg_facade, sb, ib, '10.0.1.0/24')
    assert {_rules_status(daemon, i) for i in (ia, ib)} == {'syncing'}

    # One cast (exactly what upstream's migration code sends) for A, B and C;
    # C has nothing queued.
    share_rpc.update_access_for_instances(share_rows.user_ctx(),
                                          daemon.pool_host(), [ia, ib, ic])
    _wait_synced(daemon, {(ia, a1): 'active', (ia, a2): 'active',
                          (ib, b1): 'active'}, 'active')
    assert _rules_status(daemon, ic) == 'active'

    # Second round: deny B's rule, allow one on C; an unknown instance id
    # first in the list does not keep the others from being synced.
    _queue_deny(pg_facade, ib, b1)
    c1 = _queue_allow(pg_facade, sc, ic, '10.0.2.1')
    missing = uuidutils.generate_uuid()
    share_rpc.update_access_for_instances(share_rows.user_ctx(),
                                          daemon.service_hosts[0],
                                          [missing, ib, ic])
    _wait_synced(daemon, {(ib, b1): 'deleted', (ic, c1): 'active'}, 'active')
    mapping = daemon.db.row(
        'SELECT id, deleted FROM share_instance_access_map WHERE '
        'share_instance_id = :i AND access_id = :a', i=ib, a=b1)
    assert mapping['deleted'] == mapping['id']
    assert daemon.db.scalar('SELECT deleted FROM share_access_map '
                            'WHERE id = :i', i=b1) == b1
    # A was not in the second cast and is untouched.
    assert [_rule_state(daemon, ia, a) for a in (a1, a2)] == ['active'] * 2
    # The unknown id is reported once the others are done.

    def reported():
        return [line for line in daemon.log_text().splitlines()
                if 'update_access_for_instances failed' in line]
    lines = daemon.wait_for(reported, message='the unknown instance logged')
    assert len(lines) == 1 and 'ShareInstanceNotFound' in lines[0], lines
    assert missing in lines[0], lines
    log = daemon.log_text()
    for instance_id in (ia, ib, ic):
        assert ('Access rules of share instance %s are in sync'
                % instance_id) in log
    assert not daemon.db.rows('SELECT id FROM messages')


def test_driver_failure_marks_every_instance(daemon_factory, fresh_db,
                                             pg_facade, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': 'update_access'}})
    (sa, ia), (sb, ib) = _shares(pg_facade, daemon, share_rpc, 2)
    a1 = _queue_allow(pg_facade, sa, ia, '10.0.0.1')
    b1 = _queue_allow(pg_facade, sb, ib, '10.0.0.2')
    share_rpc.update_access_for_instances(share_rows.user_ctx(),
                                          daemon.pool_host(), [ia, ib])

    # The first instance's failure does not stop the second one's sync.
    _wait_synced(daemon, {(ia, a1): 'error', (ib, b1): 'error'}, 'error')
    for share_id in (sa, sb):
        daemon.wait_for(lambda: share_rows.messages(daemon, share_id),
                        message='user message of share %s' % share_id)
        assert share_rows.messages(daemon, share_id) == [
            ('010', '001', 'SHARE', 'p1')]
    statuses = {r['status'] for r in daemon.db.rows(
        'SELECT status FROM share_instances WHERE id IN (:a, :b)',
        a=ia, b=ib)}
    assert statuses == {'available'}
    assert 'injected failure of update_access' in daemon.log_text()
