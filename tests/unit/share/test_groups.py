"""Share group and group snapshot flows against SQLite and the dummy driver: success, driver failures, bad answers, refusals."""

import datetime

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_utils import timeutils
import pytest
import sqlalchemy

from manila_lite.common import constants as c
from manila_lite.share import groups
from manila_lite.share import reconcile
from tests.unit.share import helpers

CONF = cfg.CONF


def _rows(db, sql, **params):
    with db.get_engine().connect() as conn:
        return [dict(r._mapping) for r in
                conn.execute(sqlalchemy.text(sql), params)]


def _group(db, group_id):
    return _rows(db, 'SELECT * FROM share_groups WHERE id = :i', i=group_id)[0]


def _group_snapshot(db, snapshot_id):
    return _rows(db, 'SELECT * FROM share_group_snapshots WHERE id = :i',
                 i=snapshot_id)[0]


def _members(db, snapshot_id):
    return _rows(db, 'SELECT * FROM share_snapshot_instances WHERE '
                 'share_group_snapshot_id = :i ORDER BY id', i=snapshot_id)


def _instance_statuses(db, group_id):
    return sorted(r['status'] for r in _rows(
        db, 'SELECT si.status FROM share_instances si JOIN shares s ON '
        "s.id = si.share_id WHERE s.share_group_id = :g AND si.deleted = "
        "'False'", g=group_id))


@pytest.fixture
def env(manager_factory, db, admin_ctx):
    def build(**options):
        mgr = manager_factory(**options)
        mgr.driver.get_share_stats(refresh=True)
        return mgr
    return build


def _available_group(mgr, db, ctx, **kwargs):
    """An empty group created, then two shares created into it (as upstream's API does)."""
    group_id, _ = helpers.make_group(db, ctx, **kwargs)
    mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    instances = []
    for _ in range(2):
        _share, inst = helpers.make_share(db, ctx, share_group_id=group_id)
        mgr.create_share_instance(helpers.user_ctx(),
                                  share_instance_id=inst['id'])
        instances.append(inst)
    return group_id, instances


def _available_group_snapshot(mgr, db, ctx, group_id):
    snapshot_id = helpers.make_group_snapshot(db, ctx, group_id)
    mgr.create_share_group_snapshot(helpers.user_ctx(),
                                    share_group_snapshot_id=snapshot_id)
    return snapshot_id


def test_group_lifecycle_with_snapshot_and_clone(env, db, admin_ctx):
    mgr = env()
    group_id, instances = _available_group(mgr, db, admin_ctx)
    group = _group(db, group_id)
    assert group['status'] == c.STATUS_AVAILABLE
    assert group['availability_zone_id'] == mgr.availability_zone_id(
        admin_ctx)
    assert group['consistent_snapshot_support'] == 'pool'
    assert _instance_statuses(db, group_id) == [c.STATUS_AVAILABLE] * 2

    snapshot_id = _available_group_snapshot(mgr, db, admin_ctx, group_id)
    assert _group_snapshot(db, snapshot_id)['status'] == c.STATUS_AVAILABLE
    members = _members(db, snapshot_id)
    assert [m['status'] for m in members] == [c.STATUS_AVAILABLE] * 2
    assert {m['share_instance_id'] for m in members} == {
        i['id'] for i in instances}

    clone_id, clones = helpers.make_group(
        db, admin_ctx, source_snapshot=snapshot_id)
    mgr.create_share_group(helpers.user_ctx(), share_group_id=clone_id)
    assert _group(db, clone_id)['status'] == c.STATUS_AVAILABLE
    assert _instance_statuses(db, clone_id) == [c.STATUS_AVAILABLE] * 2
    for clone in clones:
        row = db.share_instance_get(admin_ctx, clone['id'])
        assert row['progress'] == '100%'
        assert row['export_locations'], 'no export location for a clone'

    db.share_group_snapshot_conditional_update(
        admin_ctx, snapshot_id, [c.STATUS_AVAILABLE],
        {'status': c.STATUS_DELETING})
    mgr.delete_share_group_snapshot(helpers.user_ctx(),
                                    share_group_snapshot_id=snapshot_id)
    assert _group_snapshot(db, snapshot_id)['deleted'] == snapshot_id
    assert all(m['deleted'] == m['id'] for m in _members(db, snapshot_id))

    db.share_group_conditional_update(admin_ctx, group_id,
                                      [c.STATUS_AVAILABLE],
                                      {'status': c.STATUS_DELETING})
    mgr.delete_share_group(helpers.user_ctx(), share_group_id=group_id)
    assert _group(db, group_id)['deleted'] == group_id
    mappings = _rows(db, 'SELECT deleted FROM share_group_share_type_mappings'
                     ' WHERE share_group_id = :g', g=group_id)
    assert mappings and all(m['deleted'] != 'False' for m in mappings)


def test_group_snapshot_falls_back_to_one_snapshot_per_member(
        env, db, admin_ctx, monkeypatch):
    mgr = env()
    group_id, instances = _available_group(mgr, db, admin_ctx)
    taken = []
    real = mgr.driver.create_snapshot

    def spy(context, snapshot, share_server=None):
        taken.append(snapshot['share_instance_id'])
        return real(context, snapshot, share_server=share_server)
    monkeypatch.setattr(mgr.driver, 'create_snapshot', spy)
    _available_group_snapshot(mgr, db, admin_ctx, group_id)
    assert sorted(taken) == sorted(i['id'] for i in instances)


def test_create_share_into_a_group_gives_the_driver_its_members(
        env, db, admin_ctx, monkeypatch):
    mgr = env()
    group_id, _instances = _available_group(mgr, db, admin_ctx)
    _share, inst = helpers.make_share(db, admin_ctx, share_group_id=group_id)
    seen = []
    real = mgr.driver.create_share

    def spy(context, share, share_server=None):
        seen.append(sorted(m['id'] for m in share['share_group_members']))
        return real(context, share, share_server=share_server)
    monkeypatch.setattr(mgr.driver, 'create_share', spy)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert len(seen) == 1 and inst['id'] in seen[0] and len(seen[0]) == 3
    assert _instance_statuses(db, group_id) == [c.STATUS_AVAILABLE] * 3


@pytest.mark.parametrize('option', ['dummy_driver_fail_methods',
                                    'dummy_driver_invalid_return_methods'])
def test_group_from_snapshot_failure(env, db, admin_ctx, option):
    mgr = env()
    group_id, _ = _available_group(mgr, db, admin_ctx)
    snapshot_id = _available_group_snapshot(mgr, db, admin_ctx, group_id)
    bad = env(name='beta', **{option: [
        'create_share_group_from_share_group_snapshot']})
    clone_id, _ = helpers.make_group(db, admin_ctx, host=bad.host + '#p',
                                     source_snapshot=snapshot_id)
    with pytest.raises(messaging.ExpectedException):
        bad.create_share_group(helpers.user_ctx(), share_group_id=clone_id)
    assert _group(db, clone_id)['status'] == c.STATUS_ERROR
    assert _instance_statuses(db, clone_id) == [c.STATUS_ERROR] * 2
    assert helpers.messages(db, admin_ctx, clone_id, 'action_id',
                            'resource_type') == [('002', 'SHARE_GROUP')]


def test_group_create_and_delete_failures(env, db, admin_ctx):
    mgr = env(dummy_driver_fail_methods=['create_share_group',
                                         'delete_share_group'])
    group_id, _ = helpers.make_group(db, admin_ctx, share_count=2)
    with pytest.raises(messaging.ExpectedException) as info:
        mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    assert 'create_share_group' in str(helpers.unwrap(info))
    group = _group(db, group_id)
    assert group['status'] == c.STATUS_ERROR
    assert group['availability_zone_id'] is not None
    assert _instance_statuses(db, group_id) == [c.STATUS_ERROR] * 2
    db.share_group_conditional_update(admin_ctx, group_id, [c.STATUS_ERROR],
                                      {'status': c.STATUS_DELETING})
    with pytest.raises(messaging.ExpectedException):
        mgr.delete_share_group(helpers.user_ctx(), share_group_id=group_id)
    group = _group(db, group_id)
    assert (group['status'], group['deleted']) == (c.STATUS_ERROR, 'False')
    assert sorted(helpers.messages(db, admin_ctx, group_id, 'action_id')) == [
        ('002',), ('007',)]


@pytest.mark.parametrize('option', ['dummy_driver_fail_methods',
                                    'dummy_driver_invalid_return_methods'])
def test_group_snapshot_failures(env, db, admin_ctx, option):
    mgr = env(**{option: ['create_share_group_snapshot',
                          'delete_share_group_snapshot']})
    group_id, _ = _available_group(mgr, db, admin_ctx)
    snapshot_id = helpers.make_group_snapshot(db, admin_ctx, group_id)
    with pytest.raises(messaging.ExpectedException):
        mgr.create_share_group_snapshot(helpers.user_ctx(),
                                        share_group_snapshot_id=snapshot_id)
    assert _group_snapshot(db, snapshot_id)['status'] == c.STATUS_ERROR
    assert [m['status'] for m in _members(db, snapshot_id)] == [
        c.STATUS_ERROR] * 2
    db.share_group_snapshot_conditional_update(
        admin_ctx, snapshot_id, [c.STATUS_ERROR],
        {'status': c.STATUS_DELETING})
    with pytest.raises(messaging.ExpectedException):
        mgr.delete_share_group_snapshot(helpers.user_ctx(),
                                        share_group_snapshot_id=snapshot_id)
    row = _group_snapshot(db, snapshot_id)
    assert (row['status'], row['deleted']) == (c.STATUS_ERROR, 'False')
    assert sorted(helpers.messages(db, admin_ctx, snapshot_id, 'action_id',
                                   'resource_type')) == [
        ('002', 'SHARE_GROUP'), ('007', 'SHARE_GROUP')]


def test_a_share_network_with_dhss_false_is_refused(env, db, admin_ctx):
    mgr = env()
    group_id, _ = helpers.make_group(db, admin_ctx)
    with db.get_engine().begin() as conn:
        conn.execute(sqlalchemy.text(
            "INSERT INTO share_networks (id, project_id, user_id, deleted) "
            "VALUES ('sn1', 'p1', 'u1', 'False')"))
        conn.execute(sqlalchemy.text(
            "UPDATE share_groups SET share_network_id = 'sn1' WHERE id = :g"),
            {'g': group_id})
    with pytest.raises(messaging.ExpectedException) as info:
        mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    assert 'share-network' in str(helpers.unwrap(info))
    assert _group(db, group_id)['status'] == c.STATUS_ERROR
    assert helpers.messages(db, admin_ctx, group_id, 'detail_id') == [
        ('003',)]


def test_a_group_not_in_the_expected_status_is_left_alone(
        env, db, admin_ctx):
    mgr = env(dummy_driver_fail_methods=['create_share_group',
                                         'delete_share_group'])
    group_id, _ = helpers.make_group(db, admin_ctx, status=c.STATUS_AVAILABLE)
    mgr.create_share_group(helpers.user_ctx(), share_group_id=group_id)
    mgr.delete_share_group(helpers.user_ctx(), share_group_id=group_id)
    assert _group(db, group_id)['status'] == c.STATUS_AVAILABLE
    assert helpers.messages(db, admin_ctx, group_id) == []


def test_consistent_snapshot_support_reads_only_known_values(env):
    mgr = env()
    mgr.driver._stats['share_group_stats'] = {
        'consistent_snapshot_support': 'everything'}
    assert groups.consistent_snapshot_support(mgr) is None
    mgr.driver._stats['share_group_stats'] = {
        'consistent_snapshot_support': 'host'}
    assert groups.consistent_snapshot_support(mgr) == 'host'


def _age_rows(db, table, ids, seconds=120):
    when = timeutils.utcnow() - datetime.timedelta(seconds=seconds)
    with db.get_engine().begin() as conn:
        for row_id in ids:
            conn.execute(sqlalchemy.text(
                'UPDATE %s SET updated_at = :w, created_at = :w '
                'WHERE id = :i' % table), {'w': when, 'i': row_id})


def test_stranded_groups_and_group_snapshots_are_driven_again(
        env, db, admin_ctx):
    CONF.set_override('transitional_state_timeout', 60)
    try:
        mgr = env()
        creating, _ = helpers.make_group(db, admin_ctx, share_count=2)
        fresh, _ = helpers.make_group(db, admin_ctx)
        deleting, _ = _available_group(mgr, db, admin_ctx)
        snapshot_id = helpers.make_group_snapshot(db, admin_ctx, deleting)
        db.share_group_conditional_update(admin_ctx, deleting,
                                          [c.STATUS_AVAILABLE],
                                          {'status': c.STATUS_DELETING})
        _age_rows(db, 'share_groups', [creating, deleting])
        _age_rows(db, 'share_group_snapshots', [snapshot_id])
        _age_rows(db, 'share_snapshot_instances',
                  [m['id'] for m in _members(db, snapshot_id)])
        # The members are settled with their group snapshot, not alone.
        assert reconcile.find_stranded_snapshots(mgr, admin_ctx) == []
        assert reconcile.reconcile(mgr, admin_ctx) == 3
        assert _group(db, creating)['status'] == c.STATUS_AVAILABLE
        assert _instance_statuses(db, creating) == [c.STATUS_AVAILABLE] * 2
        assert _group_snapshot(db, snapshot_id)['status'] == (
            c.STATUS_AVAILABLE)
        assert [m['status'] for m in _members(db, snapshot_id)] == [
            c.STATUS_AVAILABLE] * 2
        assert _group(db, deleting)['deleted'] == deleting
        assert _group(db, fresh)['status'] == c.STATUS_CREATING
        assert reconcile.reconcile(mgr, admin_ctx) == 0
    finally:
        CONF.clear_override('transitional_state_timeout')
