"""Access rules through the ShareManager on SQLite and the dummy driver.

State walks, driver answers and failures, fallback, start-up re-apply,
validation, locking.
"""

import os
import subprocess
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from manila_lite.common import constants as c
from manila_lite import exception
from manila_lite.share import access
from manila_lite.share import states
from manila_lite.share import unsupported
from tests.unit.db import helpers as db_helpers
from tests.unit.share import helpers

CONF = cfg.CONF


def _messages(db, ctx, resource_id):
    return helpers.messages(db, ctx, resource_id, 'action_id', 'detail_id', 'resource_type')


def _available(mgr, db, ctx, **kwargs):
    share, inst = helpers.make_share(db, ctx, **kwargs)
    mgr.create_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_instance_get(ctx, inst['id'])['status'] == 'available'
    return share, inst


def _allow(db, ctx, share, inst, to='10.0.0.0/24', access_type='ip',
           level='rw'):
    """What upstream's API writes for allow access (schema.md section 2)."""
    rule = db.share_access_create(ctx, {
        'share_id': share['id'], 'access_type': access_type,
        'access_to': to, 'access_level': level})
    db.share_instance_access_rules_status_update(
        ctx, inst['id'], [c.STATUS_ACTIVE], c.SHARE_INSTANCE_RULES_SYNCING)
    return rule['id']


def _queue(db, ctx, inst, access_id, state, **rule_values):
    """What upstream's API writes for deny (or level update): mapping state + syncing."""
    db.share_instance_access_update(ctx, access_id, inst['id'],
                                    dict(rule_values, state=state))
    db.share_instance_access_rules_status_update(
        ctx, inst['id'], [c.STATUS_ACTIVE], c.SHARE_INSTANCE_RULES_SYNCING)


def _state(db, ctx, inst, access_id):
    rows = db.share_instance_access_get_all(ctx, inst['id'],
                                            filters={'access_id': access_id})
    return rows[0]['state'] if rows else None


def _rules_status(db, ctx, inst):
    return db.share_instance_get(ctx, inst['id'])['access_rules_status']


class Spy:
    """Wraps a driver method: records each call (and DB states seen during it), then runs it."""

    def __init__(self, driver, name, observe=None, result=None, raises=None):
        self.calls = []
        self.original = getattr(driver, name)
        self.observe = observe
        self.result = result
        self.raises = raises
        setattr(driver, name, self)

    def __call__(self, *args, **kwargs):
        seen = self.observe() if self.observe else None
        self.calls.append({'args': args, 'kwargs': kwargs, 'seen': seen})
        if self.raises is not None:
            raise self.raises
        answer = self.original(*args, **kwargs)
        if self.result is not None:
            return self.result(*args, **kwargs)
        return answer


def _ids(rules):
    return sorted(r['access_id'] for r in rules)


# -- the state tables, walked against the database ---------------------------

LIVE_STATES = sorted(states._LIVE_ACCESS_STATES)


@pytest.mark.parametrize('event', states.ACCESS_RULE.events())
def test_access_rule_table_moves_sources_only(db, admin_ctx, event):
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    by_state = {}
    for n, state in enumerate(LIVE_STATES):
        rule = db.share_access_create(admin_ctx, {
            'share_id': share['id'], 'access_type': 'ip',
            'access_to': '10.0.0.%d' % n, 'state': state})
        by_state[state] = rule['id']
    transition = states.ACCESS_RULE[event]
    moved = states.advance_all(admin_ctx, states.ACCESS_RULE, inst['id'],
                               event)
    assert moved == len(transition.sources)
    for state, access_id in by_state.items():
        want = transition.target if state in transition.sources else state
        assert _state(db, admin_ctx, inst, access_id) == want, (event, state)


def test_access_rule_table_narrows_to_access_ids(db, admin_ctx):
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    ids = [db.share_access_create(admin_ctx, {
        'share_id': share['id'], 'access_type': 'ip', 'access_to': to,
        'state': 'applying'})['id'] for to in ('10.0.0.1', '10.0.0.2')]
    assert states.advance_all(admin_ctx, states.ACCESS_RULE,
                              (inst['id'], [ids[0]]),
                              'driver_reported_error') == 1
    assert [_state(db, admin_ctx, inst, i) for i in ids] == ['error',
                                                             'applying']


@pytest.mark.parametrize('event', states.ACCESS_RULES_STATUS.events())
def test_rules_status_table_moves_sources_only(db, admin_ctx, event):
    transition = states.ACCESS_RULES_STATUS[event]
    insts = {}
    for status in c.ACCESS_RULES_STATUSES:
        _share, inst = helpers.make_share(db, admin_ctx, status='available',
                                          access_rules_status=status)
        insts[status] = inst
    moved = states.advance_all(admin_ctx, states.ACCESS_RULES_STATUS,
                               [i['id'] for i in insts.values()], event)
    assert moved == len(transition.sources)
    for status, inst in insts.items():
        want = transition.target if status in transition.sources else status
        assert _rules_status(db, admin_ctx, inst) == want, (event, status)


def test_tables_use_upstream_strings():
    access_states = {v for k, v in vars(c).items()
                     if k.startswith('ACCESS_STATE_')}
    for table in (states.ACCESS_RULE, states.SNAPSHOT_ACCESS_RULE):
        for t in table.transitions:
            assert set(t.sources) | {t.target} <= access_states, t
    for t in states.ACCESS_RULES_STATUS.transitions:
        assert set(t.sources) | {t.target} <= set(c.ACCESS_RULES_STATUSES)


def test_access_methods_are_no_longer_refused():
    for method in ('update_access', 'update_access_for_instances',
                   'snapshot_update_access'):
        assert method not in unsupported.CASTS


# -- allow, deny, update: the walks --------------------------------------------

def test_allow_walk(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    db.share_metadata_update(admin_ctx, share['id'], {'k': 'v'})
    access_id = _allow(db, admin_ctx, share, inst)
    assert _state(db, admin_ctx, inst, access_id) == 'queued_to_apply'
    spy = Spy(mgr.driver, 'update_access', observe=lambda: (
        _state(db, admin_ctx, inst, access_id),
        _rules_status(db, admin_ctx, inst)))

    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])

    [call] = spy.calls
    assert call['seen'] == ('applying', 'syncing')
    share_arg, access_rules = call['args'][1], call['args'][2]
    assert share_arg['id'] == inst['id']
    assert share_arg['share_id'] == share['id']
    assert share_arg['share_proto'] == 'NFS'
    assert share_arg['metadata'] == {'k': 'v'}
    assert _ids(access_rules) == [access_id]
    assert _ids(call['kwargs']['add_rules']) == [access_id]
    assert call['kwargs']['delete_rules'] == []
    assert call['kwargs']['update_rules'] == []
    assert call['kwargs']['share_server'] is None
    rule = call['kwargs']['add_rules'][0]
    assert (rule['access_type'], rule['access_to'], rule['access_level']) == (
        'ip', '10.0.0.0/24', 'rw')
    assert rule['id'] != rule['access_id']      # the mapping id
    assert _state(db, admin_ctx, inst, access_id) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'
    assert _messages(db, admin_ctx, share['id']) == []


def test_deny_walk_soft_deletes_mapping_and_rule(manager_factory, db,
                                                 admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    keep = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    gone = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    _queue(db, admin_ctx, inst, gone, 'queued_to_deny')
    spy = Spy(mgr.driver, 'update_access',
              observe=lambda: _state(db, admin_ctx, inst, gone))

    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])

    [call] = spy.calls
    assert call['seen'] == 'denying'
    assert _ids(call['kwargs']['delete_rules']) == [gone]
    assert _ids(call['args'][2]) == [keep]
    assert call['kwargs']['add_rules'] == []
    assert _state(db, admin_ctx, inst, gone) is None
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_access_get(admin_ctx, gone)
    rows = db_helpers.raw_rows(
        'SELECT state, deleted, id FROM share_instance_access_map '
        'WHERE access_id = :a', a=gone)
    assert [(r['state'], r['deleted']) for r in rows] == [
        ('deleted', rows[0]['id'])]
    assert _state(db, admin_ctx, inst, keep) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_update_level_walk(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    _queue(db, admin_ctx, inst, access_id, 'queued_to_update',
           access_level='ro')
    spy = Spy(mgr.driver, 'update_access',
              observe=lambda: _state(db, admin_ctx, inst, access_id))

    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])

    [call] = spy.calls
    assert call['seen'] == 'updating'
    [rule] = call['kwargs']['update_rules']
    assert rule['access_id'] == access_id and rule['access_level'] == 'ro'
    assert call['kwargs']['add_rules'] == []
    assert _state(db, admin_ctx, inst, access_id) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_changes_queued_during_the_driver_call_get_a_second_round(
        manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    first = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    late = []

    def queue_another():
        if not late:
            late.append(_allow(db, admin_ctx, share, inst, to='10.0.0.2'))

    spy = Spy(mgr.driver, 'update_access', observe=queue_another)
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert len(spy.calls) == 2
    assert _ids(spy.calls[0]['kwargs']['add_rules']) == [first]
    assert _ids(spy.calls[1]['kwargs']['add_rules']) == late
    assert _ids(spy.calls[1]['args'][2]) == sorted([first] + late)
    assert _state(db, admin_ctx, inst, late[0]) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_sync_in_progress_leaves_the_work_to_it(manager_factory, db,
                                                admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    busy = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    _queue(db, admin_ctx, inst, busy, 'applying')
    queued = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    spy = Spy(mgr.driver, 'update_access')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert spy.calls == []
    assert _state(db, admin_ctx, inst, queued) == 'queued_to_apply'
    assert _rules_status(db, admin_ctx, inst) == 'syncing'


def test_nothing_queued_settles_a_stale_syncing_status(manager_factory, db,
                                                       admin_ctx):
    mgr = manager_factory()
    _share, inst = _available(mgr, db, admin_ctx)
    db.share_instance_update(admin_ctx, inst['id'],
                             {'access_rules_status': 'syncing'})
    spy = Spy(mgr.driver, 'update_access')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert spy.calls == []
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_update_access_for_instances_syncs_each(manager_factory, db,
                                                admin_ctx):
    mgr = manager_factory()
    rules = []
    insts = []
    for n in range(2):
        share, inst = _available(mgr, db, admin_ctx)
        rules.append(_allow(db, admin_ctx, share, inst, to='10.0.1.%d' % n))
        insts.append(inst)
    mgr.update_access_for_instances(
        helpers.user_ctx(), share_instance_ids=[i['id'] for i in insts],
        share_server_id=None)
    assert [_state(db, admin_ctx, i, r) for i, r in zip(insts, rules)] == [
        'active', 'active']


def test_update_access_for_instances_reports_unknown_ids(manager_factory, db,
                                                         admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    rule = _allow(db, admin_ctx, share, inst)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.update_access_for_instances(
            helpers.user_ctx(), share_instance_ids=['no-such-instance', inst['id']],
            share_server_id=None)
    assert isinstance(helpers.unwrap(excinfo), exception.ShareInstanceNotFound)
    assert _state(db, admin_ctx, inst, rule) == 'active'


def test_update_access_for_instances_unknown_server_touches_nothing(
        manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    rule = _allow(db, admin_ctx, share, inst)
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.update_access_for_instances(
            helpers.user_ctx(), share_instance_ids=[inst['id']],
            share_server_id='no-such-server')
    assert isinstance(helpers.unwrap(excinfo), exception.ShareServerNotFound)
    assert _state(db, admin_ctx, inst, rule) == 'queued_to_apply'


# -- what the driver answers -------------------------------------------------

def test_driver_access_key_is_stored_on_the_rule(manager_factory, db,
                                                 admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    Spy(mgr.driver, 'update_access', result=lambda *a, **kw: {
        r['access_id']: {'access_key': 'key-of-%s' % r['access_to'],
                         'state': 'active'}
        for r in kw['add_rules']})
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert db.share_access_get(admin_ctx, access_id)['access_key'] == (
        'key-of-10.0.0.0/24')
    [mapping] = db.share_instance_access_get_all(admin_ctx, inst['id'])
    assert mapping['access_key'] == 'key-of-10.0.0.0/24'
    assert mapping['state'] == 'active'


def test_driver_per_rule_error(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    bad = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    good = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    Spy(mgr.driver, 'update_access',
        result=lambda *a, **kw: {bad: {'state': 'error'},
                                 'not-a-rule': {'state': 'active'},
                                 good: 'not a dict'})
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert _state(db, admin_ctx, inst, bad) == 'error'
    assert _state(db, admin_ctx, inst, good) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'error'
    # An error rule is not sent again; once nothing is in error the
    # status comes back to active.
    del mgr.driver.update_access
    spy = Spy(mgr.driver, 'update_access')
    _queue(db, admin_ctx, inst, bad, 'queued_to_deny')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert _ids(spy.calls[0]['kwargs']['delete_rules']) == [bad]
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_ignored_driver_answers_never_log_their_keys(manager_factory, db,
                                                     admin_ctx, caplog):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    Spy(mgr.driver, 'update_access', result=lambda *a, **kw: {
        'not-a-rule': {'access_key': 'Sekrit-of-stranger', 'state': 'active'},
        access_id: 'Sekrit-as-a-string'})
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    ignored = [r.getMessage() for r in caplog.records
               if 'Ignoring the driver' in r.getMessage()]
    assert len(ignored) == 2
    assert 'Sekrit' not in caplog.text


def test_invalid_rule_errors_alone(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    bad = _allow(db, admin_ctx, share, inst, to='10.0.0.300')
    good = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    spy = Spy(mgr.driver, 'update_access')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    [call] = spy.calls
    assert _ids(call['kwargs']['add_rules']) == [good]
    assert _ids(call['args'][2]) == [good]
    assert _state(db, admin_ctx, inst, bad) == 'error'
    assert _state(db, admin_ctx, inst, good) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'error'
    assert _messages(db, admin_ctx, share['id']) == [('010', '021', 'SHARE')]


def test_driver_failure_sets_error_and_message(manager_factory, db,
                                               admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=[])
    share, inst = _available(mgr, db, admin_ctx)
    old = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    new = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    CONF.set_override('dummy_driver_fail_methods', ['update_access'],
                      group='alpha')
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    assert _state(db, admin_ctx, inst, new) == 'error'
    assert _state(db, admin_ctx, inst, old) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'error'
    assert _messages(db, admin_ctx, share['id']) == [('010', '001', 'SHARE')]


def test_driver_garbage_answer_is_a_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    Spy(mgr.driver, 'update_access', result=lambda *a, **kw: ['garbage'])
    with pytest.raises(messaging.ExpectedException):
        mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert _state(db, admin_ctx, inst, access_id) == 'error'
    assert _rules_status(db, admin_ctx, inst) == 'error'


def test_fallback_to_allow_and_deny(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    Spy(mgr.driver, 'update_access', raises=NotImplementedError())
    allow = Spy(mgr.driver, 'allow_access', result=lambda *a, **kw: None)
    deny = Spy(mgr.driver, 'deny_access', result=lambda *a, **kw: None)
    allow.original = deny.original = lambda *a, **kw: None
    access_id = _allow(db, admin_ctx, share, inst)
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert [c_['args'][2]['access_id'] for c_ in allow.calls] == [access_id]
    assert allow.calls[0]['kwargs'] == {'share_server': None}
    assert _state(db, admin_ctx, inst, access_id) == 'active'
    _queue(db, admin_ctx, inst, access_id, 'queued_to_deny')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    assert [c_['args'][2]['access_id'] for c_ in deny.calls] == [access_id]
    assert _state(db, admin_ctx, inst, access_id) is None
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_cast_rules_to_readonly(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    kept = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    denied = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    db.share_instance_update(admin_ctx, inst['id'],
                             {'cast_rules_to_readonly': True})
    _queue(db, admin_ctx, inst, denied, 'queued_to_deny')
    added = _allow(db, admin_ctx, share, inst, to='10.0.0.3')
    spy = Spy(mgr.driver, 'update_access')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    [call] = spy.calls
    assert _ids(call['args'][2]) == sorted([kept, added])
    assert {r['access_level'] for r in call['args'][2]} == {'ro'}
    assert call['kwargs']['add_rules'] == []
    assert call['kwargs']['delete_rules'] == []
    assert call['kwargs']['update_rules'] == []
    assert _state(db, admin_ctx, inst, denied) is None
    assert _state(db, admin_ctx, inst, added) == 'active'
    # Only what the driver saw was read-only; the rule keeps its level.
    assert db.share_access_get(admin_ctx, kept)['access_level'] == 'rw'


@pytest.mark.parametrize('ipv6_implemented', [False, True])
def test_ipv6_rules_and_drivers_without_ipv6(manager_factory, db, admin_ctx,
                                             ipv6_implemented):
    mgr = manager_factory()
    mgr.driver.ipv6_implemented = ipv6_implemented
    share, inst = _available(mgr, db, admin_ctx)
    v4 = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    v6 = _allow(db, admin_ctx, share, inst, to='2001:db8::/64')
    spy = Spy(mgr.driver, 'update_access')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    sent = _ids(spy.calls[0]['kwargs']['add_rules'])
    assert sent == (sorted([v4, v6]) if ipv6_implemented else [v4])
    # Upstream filters them out of what the driver sees; they end active.
    assert _state(db, admin_ctx, inst, v6) == 'active'


# -- validation ----------------------------------------------------------------

@pytest.mark.parametrize('access_type,access_to,level,valid', [
    ('ip', '10.0.0.1', 'rw', True),
    ('ip', '10.0.0.0/24', 'ro', True),
    ('ip', '0.0.0.0/0', 'rw', True),
    ('ip', '2001:db8::1', 'rw', True),
    ('ip', '2001:db8::/32', 'rw', True),
    ('ip', '10.0.0.1/24', 'rw', False),      # host bits set
    ('ip', '10.0.0.256', 'rw', False),
    ('ip', '2001:db8::/129', 'rw', False),
    ('ip', 'example.com', 'rw', False),
    ('ip', '', 'rw', False),
    ('user', 'alice', 'rw', True),
    ('user', 'Domain User', 'rw', True),
    ('user', 'bob', 'rw', False),             # under 4 characters
    ('user', 'a' * 256, 'rw', False),
    ('user', 'al:ce', 'rw', False),
    ('user', 'al/ce', 'rw', False),
    ('user', '....', 'rw', False),
    ('user', '    ', 'rw', False),
    ('cert', 'client.example.com', 'rw', True),
    ('cert', 'x' * 64, 'rw', True),
    ('cert', 'x' * 65, 'rw', False),
    ('cert', '   ', 'rw', False),
    ('cephx', 'alice', 'rw', True),
    ('cephx', 'client.alice', 'rw', False),
    ('cephx', '', 'rw', False),
    ('cephx', 'al\u00efce', 'rw', False),
    ('krb', 'alice', 'rw', False),
    ('ip', '10.0.0.1', 'rx', False),
])
def test_rule_validation(access_type, access_to, level, valid):
    problem = access.rule_problem({'access_type': access_type,
                                   'access_to': access_to,
                                   'access_level': level})
    assert (problem is None) == valid, problem


# -- delete path -------------------------------------------------------------

def test_delete_denies_every_rule_first(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    active = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    errored = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    _queue(db, admin_ctx, inst, errored, 'error')
    spy = Spy(mgr.driver, 'update_access')
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    [call] = spy.calls
    assert _ids(call['kwargs']['delete_rules']) == sorted([active, errored])
    assert call['args'][2] == []
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(admin_ctx, inst['id'])


def test_delete_with_failing_deny(manager_factory, db, admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=['update_access'])
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    db.share_instance_update(admin_ctx, inst['id'], {'status': 'deleting'})
    with pytest.raises(messaging.ExpectedException):
        mgr.delete_share_instance(helpers.user_ctx(), share_instance_id=inst['id'])
    got = db.share_instance_get(admin_ctx, inst['id'])
    assert got['status'] == 'error_deleting'
    assert got['access_rules_status'] == 'error'
    assert _state(db, admin_ctx, inst, access_id) == 'error'
    assert [m[0] for m in _messages(db, admin_ctx, inst['id'])] == ['003']


# -- start-up ------------------------------------------------------------------

def test_rules_left_applying_are_resent_at_start_up(manager_factory, db,
                                                    admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    ok = _allow(db, admin_ctx, share, inst, to='10.0.0.1')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    crashed = _allow(db, admin_ctx, share, inst, to='10.0.0.2')
    leaving = _allow(db, admin_ctx, share, inst, to='10.0.0.3')
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    # A crash in the middle of a driver call leaves this behind:
    _queue(db, admin_ctx, inst, crashed, 'applying')
    _queue(db, admin_ctx, inst, leaving, 'denying')
    spy = Spy(mgr.driver, 'update_access')

    mgr.init_host(service_id=mgr.service_id)

    [call] = spy.calls
    assert _ids(call['kwargs']['add_rules']) == [crashed]
    assert _ids(call['kwargs']['delete_rules']) == [leaving]
    assert _state(db, admin_ctx, inst, crashed) == 'active'
    assert _state(db, admin_ctx, inst, leaving) is None
    assert _state(db, admin_ctx, inst, ok) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_in_sync_instances_are_left_alone_at_start_up(manager_factory, db,
                                                      admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    _allow(db, admin_ctx, share, inst)
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    spy = Spy(mgr.driver, 'update_access')
    mgr.init_host(service_id=mgr.service_id)
    assert spy.calls == []


def test_driver_asks_to_reapply_at_start_up(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    mgr.update_access(helpers.user_ctx(), share_instance_id=inst['id'])
    mgr.driver.ensure_shares = lambda ctx, shares: {
        s['id']: {'reapply_access_rules': True} for s in shares}
    spy = Spy(mgr.driver, 'update_access')
    mgr.init_host(service_id=mgr.service_id)
    [call] = spy.calls
    assert _ids(call['kwargs']['add_rules']) == [access_id]
    assert _state(db, admin_ctx, inst, access_id) == 'active'
    assert _rules_status(db, admin_ctx, inst) == 'active'


def test_failed_reapply_at_start_up_is_logged_not_fatal(manager_factory, db,
                                                        admin_ctx):
    mgr = manager_factory(dummy_driver_fail_methods=[])
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    _queue(db, admin_ctx, inst, access_id, 'applying')
    CONF.set_override('dummy_driver_fail_methods', ['update_access'],
                      group='alpha')
    mgr.init_host(service_id=mgr.service_id)
    assert db.share_instance_get(admin_ctx, inst['id'])['status'] == (
        'available')
    assert _state(db, admin_ctx, inst, access_id) == 'error'
    assert _rules_status(db, admin_ctx, inst) == 'error'
    assert _messages(db, admin_ctx, share['id']) == [('010', '001', 'SHARE')]


def test_reset_for_reapply_is_batched(manager_factory, db, admin_ctx):
    mgr = manager_factory()

    def setup(count):
        ids = []
        for _ in range(count):
            share, inst = helpers.make_share(db, admin_ctx, status='available',
                                             access_rules_status='error')
            for state in ('applying', 'denying', 'active', 'error'):
                db.share_access_create(admin_ctx, {
                    'share_id': share['id'], 'access_type': 'ip',
                    'access_to': '10.0.0.1', 'state': state})
            ids.append(inst['id'])
        return ids

    counts = []
    for count in (2, 6):
        ids = setup(count)
        with db_helpers.StatementCounter(db.get_engine()) as counter:
            access.reset_for_reapply(mgr, admin_ctx, ids, reapply=True)
        counts.append(counter.count)
        for iid in ids:
            assert db.share_instance_get(admin_ctx, iid)[
                'access_rules_status'] == 'syncing'
            assert sorted(m['state'] for m in db.share_instance_access_get_all(
                admin_ctx, iid)) == ['error', 'queued_to_apply',
                                     'queued_to_apply', 'queued_to_deny']
    assert counts[0] == counts[1]


def test_reset_without_reapply_keeps_active_rules(manager_factory, db,
                                                  admin_ctx):
    mgr = manager_factory()
    share, inst = helpers.make_share(db, admin_ctx, status='available')
    for state in ('applying', 'active'):
        db.share_access_create(admin_ctx, {
            'share_id': share['id'], 'access_type': 'ip',
            'access_to': '10.0.0.1', 'state': state})
    access.reset_for_reapply(mgr, admin_ctx, [inst['id']])
    assert sorted(m['state'] for m in db.share_instance_access_get_all(
        admin_ctx, inst['id'])) == ['active', 'queued_to_apply']
    assert _rules_status(db, admin_ctx, inst) == 'syncing'


# -- locking ---------------------------------------------------------------------

_HOLDER = r'''
from oslo_concurrency import lockutils
import sys
with lockutils.external_lock(sys.argv[1], lock_file_prefix='manila-',
                             lock_path=sys.argv[2]):
    print('held', flush=True)
    sys.stdin.read()
'''


def test_mapping_writes_wait_for_the_external_lock(manager_factory, db,
                                                   admin_ctx):
    mgr = manager_factory()
    share, inst = _available(mgr, db, admin_ctx)
    access_id = _allow(db, admin_ctx, share, inst)
    lock_path = CONF.oslo_concurrency.lock_path
    os.makedirs(lock_path, exist_ok=True)
    holder = subprocess.Popen(
        [sys.executable, '-c', _HOLDER,
         'locked_access_rules_operation_by_share_instance_%s' % inst['id'],
         lock_path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'
        worker = threading.Thread(target=mgr.update_access,
                                  args=(helpers.user_ctx(),),
                                  kwargs={'share_instance_id': inst['id']})
        worker.start()
        time.sleep(1.0)
        assert worker.is_alive()
        assert _state(db, admin_ctx, inst, access_id) == 'queued_to_apply'
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert _state(db, admin_ctx, inst, access_id) == 'active'
    assert os.path.exists(os.path.join(
        lock_path, 'manila-locked_access_rules_operation_by_share_instance_%s'
        % inst['id']))


# -- snapshot access ---------------------------------------------------------

def _snapshot(mgr, db, ctx):
    share, inst = _available(mgr, db, ctx)
    snapshot = db.share_snapshot_create(ctx, {
        'share_id': share['id'], 'size': 1, 'user_id': 'u1',
        'project_id': 'p1', 'status': 'available', 'progress': '100%',
        'share_proto': 'NFS'})
    return share, inst, snapshot, snapshot.instances[0]


def _snap_state(db, ctx, snap_inst, access_id):
    rows = db.share_snapshot_access_get_all_for_snapshot_instance(
        ctx, snap_inst['id'], filters={'access_id': access_id})
    return rows[0]['state'] if rows else None


def test_snapshot_allow_and_deny(manager_factory, db, admin_ctx):
    mgr = manager_factory()
    _share, _inst, snapshot, snap_inst = _snapshot(mgr, db, admin_ctx)
    rule = db.share_snapshot_access_create(admin_ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    spy = Spy(mgr.driver, 'snapshot_update_access', observe=lambda: (
        _snap_state(db, admin_ctx, snap_inst, rule['id'])))
    mgr.snapshot_update_access(helpers.user_ctx(),
                               snapshot_instance_id=snap_inst['id'])
    [call] = spy.calls
    assert call['seen'] == 'applying'
    assert call['args'][1]['id'] == snap_inst['id']
    assert call['args'][1]['share']['share_proto'] == 'NFS'
    assert _ids(call['kwargs']['add_rules']) == [rule['id']]
    assert call['kwargs']['add_rules'][0]['access_to'] == '10.0.0.1'
    assert _snap_state(db, admin_ctx, snap_inst, rule['id']) == 'active'

    db.share_snapshot_instance_access_update(
        admin_ctx, rule['id'], snap_inst['id'], {'state': 'queued_to_deny'})
    mgr.snapshot_update_access(helpers.user_ctx(),
                               snapshot_instance_id=snap_inst['id'])
    assert _ids(spy.calls[1]['kwargs']['delete_rules']) == [rule['id']]
    assert spy.calls[1]['args'][2] == []
    assert _snap_state(db, admin_ctx, snap_inst, rule['id']) is None
    rows = db_helpers.raw_rows(
        'SELECT deleted FROM share_snapshot_access_map WHERE id = :i',
        i=rule['id'])
    assert rows == [{'deleted': rule['id']}]


def test_snapshot_driver_failure(manager_factory, db, admin_ctx):
    mgr = manager_factory(
        dummy_driver_fail_methods=['snapshot_update_access'])
    _share, _inst, snapshot, snap_inst = _snapshot(mgr, db, admin_ctx)
    rule = db.share_snapshot_access_create(admin_ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    with pytest.raises(messaging.ExpectedException) as excinfo:
        mgr.snapshot_update_access(helpers.user_ctx(),
                                   snapshot_instance_id=snap_inst['id'])
    assert isinstance(helpers.unwrap(excinfo), exception.ShareBackendException)
    assert _snap_state(db, admin_ctx, snap_inst, rule['id']) == 'error'
    assert _messages(db, admin_ctx, snapshot['id']) == [
        ('010', '001', 'SHARE_SNAPSHOT')]


def test_snapshot_delete_all_and_queued_work_loop(manager_factory, db,
                                                  admin_ctx):
    mgr = manager_factory()
    _share, _inst, snapshot, snap_inst = _snapshot(mgr, db, admin_ctx)
    ids = [db.share_snapshot_access_create(admin_ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': to})['id'] for to in ('10.0.0.1', '10.0.0.2')]
    spy = Spy(mgr.driver, 'snapshot_update_access')
    snap = db.share_snapshot_instance_get(admin_ctx, snap_inst['id'],
                                          with_share_data=True)
    access.snapshot_update_access_rules(mgr, admin_ctx, snap,
                                        delete_all_rules=True)
    # delete_all sends every rule for denial; the loop then finds nothing.
    assert len(spy.calls) == 1
    assert _ids(spy.calls[0]['kwargs']['delete_rules']) == sorted(ids)
    assert spy.calls[0]['args'][2] == []
    assert db.share_snapshot_access_get_all_for_snapshot_instance(
        admin_ctx, snap_inst['id']) == []


def test_snapshot_rules_pending_at_start_up_are_synced(manager_factory, db,
                                                       admin_ctx):
    mgr = manager_factory()
    _share, _inst, snapshot, snap_inst = _snapshot(mgr, db, admin_ctx)
    rule = db.share_snapshot_access_create(admin_ctx, {
        'share_snapshot_id': snapshot['id'], 'access_type': 'ip',
        'access_to': '10.0.0.1'})
    db.share_snapshot_instance_access_update(
        admin_ctx, rule['id'], snap_inst['id'], {'state': 'applying'})
    spy = Spy(mgr.driver, 'snapshot_update_access')
    mgr.init_host(service_id=mgr.service_id)
    assert len(spy.calls) == 1
    assert _snap_state(db, admin_ctx, snap_inst, rule['id']) == 'active'
