"""Walks every state table of share/states.py against a real database: each event moves rows from its sources only."""

from oslo_utils import uuidutils
import pytest

from manila_lite.common import constants as c
from manila_lite.db.sqlalchemy import models
from manila_lite.share import states
from tests.unit.db import helpers as db_helpers
from tests.unit.share import helpers

ALL_STATUSES = {v for k, v in vars(c).items()
                if k.startswith('STATUS_') and isinstance(v, str)}
ACCESS_STATES = {v for k, v in vars(c).items()
                 if k.startswith('ACCESS_STATE_') and isinstance(v, str)}
TASK_STATES = {v for k, v in vars(c).items()
               if k.startswith('TASK_STATE_') and isinstance(v, str)}


# -- one row factory per kind: (statuses to try, make(status) -> (target,
#    read() -> status)) ---------------------------------------------------------

def _instance(db, ctx, status):
    _share, inst = helpers.make_share(db, ctx, status=status)
    return inst['id'], lambda: db.share_instance_get(ctx,
                                                     inst['id'])['status']


def _snapshot_instance(db, ctx, status):
    share, _inst = helpers.make_share(db, ctx, status='available')
    snapshot = db.share_snapshot_create(ctx, {
        'share_id': share['id'], 'status': status, 'size': 1,
        'user_id': 'u1', 'project_id': 'p1'})
    snap_id = snapshot.instance['id']
    return snap_id, lambda: db.share_snapshot_instance_get(
        ctx, snap_id)['status']


def _backup(db, ctx, status):
    share, _inst = helpers.make_share(db, ctx, status='available')
    backup = db.share_backup_create(ctx, share['id'], {
        'status': status, 'user_id': 'u1', 'project_id': 'p1', 'size': 1})
    return backup['id'], lambda: db.share_backup_get(ctx,
                                                     backup['id'])['status']


def _access_rule(db, ctx, state):
    share, inst = helpers.make_share(db, ctx, status='available')
    rule = db.share_access_create(ctx, {
        'share_id': share['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    db_helpers.raw_execute(
        'UPDATE share_instance_access_map SET state = :s '
        'WHERE access_id = :a', s=state, a=rule['id'])
    return inst['id'], lambda: db.share_instance_access_get_all(
        ctx, inst['id'], filters={'access_id': rule['id']})[0]['state']


def _rules_status(db, ctx, status):
    _share, inst = helpers.make_share(db, ctx, status='available',
                                      access_rules_status=status)
    return inst['id'], lambda: db.share_instance_get(
        ctx, inst['id'])['access_rules_status']


def _snapshot_access_rule(db, ctx, state):
    share, _inst = helpers.make_share(db, ctx, status='available')
    snapshot = db.share_snapshot_create(ctx, {
        'share_id': share['id'], 'status': 'available', 'size': 1,
        'user_id': 'u1', 'project_id': 'p1'})
    snap_id = snapshot.instance['id']
    rule = db.share_snapshot_access_create(ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    db_helpers.raw_execute(
        'UPDATE share_snapshot_instance_access_map SET state = :s '
        'WHERE access_id = :a', s=state, a=rule['id'])
    return snap_id, lambda: (
        db.share_snapshot_access_get_all_for_snapshot_instance(
            ctx, snap_id, filters={'access_id': rule['id']})[0]['state'])


def _server(db, ctx, status, column='status'):
    server = db_helpers.add_row(ctx, models.ShareServer,
                                id=uuidutils.generate_uuid(),
                                host='hostA@alpha', **{column: status})
    return server.id, lambda: db.share_server_get(ctx, server.id)[column]


def _share_task(db, ctx, task_state):
    share, _inst = helpers.make_share(db, ctx, status='available',
                                      task_state=task_state)
    return share['id'], lambda: db.share_get(ctx, share['id'])['task_state']


def _group(db, ctx, status):
    group = db_helpers.add_row(ctx, models.ShareGroup,
                               id=uuidutils.generate_uuid(), user_id='u1',
                               project_id='p1', status=status)
    return group.id, lambda: db_helpers.raw_rows(
        'SELECT status FROM share_groups WHERE id = :i', i=group.id)[0][
            'status']


def _group_snapshot(db, ctx, status):
    group_id, _read = _group(db, ctx, 'available')
    snap = db_helpers.add_row(ctx, models.ShareGroupSnapshot,
                              id=uuidutils.generate_uuid(),
                              share_group_id=group_id, user_id='u1',
                              project_id='p1', status=status)
    return snap.id, lambda: db_helpers.raw_rows(
        'SELECT status FROM share_group_snapshots WHERE id = :i',
        i=snap.id)[0]['status']


def _network(db, ctx, status):
    network = db_helpers.add_row(ctx, models.ShareNetwork,
                                 id=uuidutils.generate_uuid(),
                                 project_id='p1', status=status)
    return network.id, lambda: db.share_network_get(ctx,
                                                    network.id)['status']


STATUSES = sorted(ALL_STATUSES - {c.STATUS_DELETED})
FACTORIES = {
    'share_instance': (STATUSES, _instance),
    'share_snapshot_instance': (STATUSES, _snapshot_instance),
    'share_backup': (STATUSES, _backup),
    'share_instance_access': (sorted(ACCESS_STATES - {
        c.ACCESS_STATE_DELETED}), _access_rule),
    'share_instance_access_rules_status': (
        [c.STATUS_ACTIVE, c.SHARE_INSTANCE_RULES_SYNCING,
         c.SHARE_INSTANCE_RULES_ERROR], _rules_status),
    'share_snapshot_instance_access': (sorted(ACCESS_STATES - {
        c.ACCESS_STATE_DELETED}), _snapshot_access_rule),
    'share_server': (STATUSES, _server),
    'share_server_task': (sorted(TASK_STATES),
                          lambda db, ctx, s: _server(db, ctx, s,
                                                     'task_state')),
    'share_task': (sorted(TASK_STATES), _share_task),
    'share_group': (STATUSES, _group),
    'share_group_snapshot': (STATUSES, _group_snapshot),
    'share_network': (STATUSES, _network),
}
BULK = ('share_instance_access', 'share_instance_access_rules_status',
        'share_snapshot_instance_access')


def _tried(table, statuses):
    """The statuses a table names (sources and targets) and two it does not: enough to see every branch."""
    named = set(table.statuses or ())
    for t in table.transitions:
        named.update(t.sources or ())
        named.add(t.target)
    others = [s for s in statuses if s not in named][:2]
    return [s for s in statuses if s in named] + others


CASES = [(kind, event) for kind, table in sorted(states.TABLES.items())
         for event in table.events()]


def test_every_table_is_walked():
    assert set(FACTORIES) == set(states.TABLES)


def test_tables_use_only_upstream_statuses():
    known = (ALL_STATUSES | ACCESS_STATES | TASK_STATES |
             {c.SHARE_INSTANCE_RULES_SYNCING, c.SHARE_INSTANCE_RULES_ERROR})
    for table in states.TABLES.values():
        for t in table.transitions:
            assert t.sources is states.ANY or set(t.sources) <= known, t
            assert t.target is states.REPORTED or t.target in known, t


@pytest.mark.parametrize('kind, event', CASES,
                         ids=['%s-%s' % case for case in CASES])
def test_each_transition_moves_from_sources_only(db, admin_ctx, kind,
                                                 event):
    table = states.TABLES[kind]
    transition = table[event]
    statuses, make = FACTORIES[kind]
    sources = transition.sources
    if sources is states.ANY and table.conditional:
        sources = table.statuses
    target = transition.target
    options = {}
    if target is states.REPORTED:
        target = options['reported'] = c.STATUS_ERROR
    for status in _tried(table, statuses):
        row_id, read = make(db, admin_ctx, status)
        if kind in BULK:
            moved = states.advance_all(admin_ctx, table, row_id, event)
        else:
            moved = states.advance(admin_ctx, table, row_id, event,
                                   **options)
        now = read()
        if sources is states.ANY or status in sources:
            assert moved and now == target, (event, status)
        else:
            assert not moved and now == status, (event, status)


def test_a_reported_target_must_be_a_status_of_the_kind(db, admin_ctx):
    _share, inst = helpers.make_share(db, admin_ctx, status='ensuring')
    with pytest.raises(ValueError):
        states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                       'ensure_reported', reported='bogus')
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        'ensuring')


def test_a_table_without_a_conditional_writer_holds_only_any_sources():
    with pytest.raises(ValueError):
        states.StateTable('x', [('e', ('a',), 'b')], conditional=False)


def test_sources_argument_narrows(db, admin_ctx):
    _share, inst = helpers.make_share(db, admin_ctx, status='available')
    assert not states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                              'ensure_started', sources=['ensuring'])
    assert states.advance(admin_ctx, states.SHARE_INSTANCE, inst['id'],
                          'ensure_started', sources=['available'])


def test_advance_many_moves_rows_in_source_statuses(db, admin_ctx):
    rows = [helpers.make_share(db, admin_ctx, status=s)[1]['id']
            for s in ('available', 'ensuring', 'error')]
    assert states.advance_many(admin_ctx, states.SHARE_INSTANCE, rows,
                               'ensure_finished',
                               sources=['ensuring']) == 1
    assert [db.share_instance_get(admin_ctx, i)['status']
            for i in rows] == ['available', 'available', 'error']


def test_advance_many_can_answer_the_moved_ids(db, admin_ctx):
    rows = [helpers.make_share(db, admin_ctx, status=s)[1]['id']
            for s in ('available', 'error_deleting', 'creating')]
    moved = states.advance_many(admin_ctx, states.SHARE_INSTANCE, rows,
                                'expired_delete_requested',
                                values={'progress': '0%'}, return_ids=True)
    assert sorted(moved) == sorted(rows[:2])
    after = [db.share_instance_get(admin_ctx, i) for i in rows]
    assert [i['status'] for i in after] == ['deleting', 'deleting',
                                            'creating']
    assert [i['progress'] for i in after] == ['0%', '0%', None]
    assert states.advance_many(admin_ctx, states.SHARE_INSTANCE, [],
                               'transfer_expired', return_ids=True) == []
