"""Access rules and their per-instance mappings."""

import pytest

from manila_lite.db import api as db
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.db import helpers


def _rule(ctxt, share, to='10.0.0.1', **extra):
    values = {'share_id': share['id'], 'access_type': 'ip',
              'access_to': to, 'access_level': 'ro'}
    values.update(extra)
    return db.share_access_create(ctxt, values)


def test_create_maps_every_live_instance(ctxt, make_share):
    share = make_share()
    replica = helpers.add_instance(ctxt, share['id'], status='available')
    gone = helpers.add_instance(ctxt, share['id'], status='deleted',
                                deleted='gone')
    rule = _rule(ctxt, share, metadata={'k': 'v'})
    instance_ids = {m['share_instance_id'] for m in rule.instance_mappings}
    assert instance_ids == {share.instance['id'], replica}
    assert gone not in instance_ids
    assert [(m['key'], m['value'])
            for m in rule.share_access_rules_metadata] == [('k', 'v')]


def test_instance_access_get_all_carries_rule_fields(ctxt, make_share):
    share = make_share()
    rule = _rule(ctxt, share)
    _rule(ctxt, share, to='10.0.0.2')
    mappings = db.share_instance_access_get_all(ctxt, share.instance['id'])
    assert len(mappings) == 2
    first = [m for m in mappings if m['access_id'] == rule['id']][0]
    assert first['id'] == rule.instance_mappings[0]['id']
    assert first['id'] != rule['id']
    assert first['access_to'] == '10.0.0.1'
    assert first['access_type'] == 'ip'
    assert first['access_level'] == 'ro'
    assert first['access_key'] is None
    assert first['share_id'] == share['id']
    assert first['state'] == 'queued_to_apply'
    filtered = db.share_instance_access_get_all(
        ctxt, share.instance['id'], filters={'access_id': rule['id']})
    assert [m['access_id'] for m in filtered] == [rule['id']]
    assert db.share_instance_access_get_all(
        ctxt, share.instance['id'], filters={'state': ['active']}) == []


def test_update_splits_rule_and_mapping_fields(ctxt, make_share):
    share = make_share()
    rule = _rule(ctxt, share)
    mapping = db.share_instance_access_update(
        ctxt, rule['id'], share.instance['id'],
        {'state': 'active', 'access_key': 'secret'})
    assert mapping['state'] == 'active'
    assert mapping['access_key'] == 'secret'
    rule_row = helpers.raw_rows('SELECT * FROM share_access_map')[0]
    assert rule_row['access_key'] == 'secret'
    assert rule_row['updated_at'] is not None
    map_row = helpers.raw_rows('SELECT * FROM share_instance_access_map')[0]
    assert map_row['state'] == 'active'
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_instance_access_update(ctxt, rule['id'], 'other', {})


def test_states_update_bulk(ctxt, make_share):
    share = make_share()
    for n in range(3):
        _rule(ctxt, share, to='10.0.0.%d' % n)
    mapping = db.share_instance_access_get_all(ctxt, share.instance['id'])[0]
    db.share_instance_access_update(ctxt, mapping['access_id'],
                                    share.instance['id'], {'state': 'error'})
    count = db.share_instance_access_states_update(
        ctxt, share.instance['id'], ['queued_to_apply'], 'applying')
    assert count == 2
    states = sorted(r['state'] for r in helpers.raw_rows(
        'SELECT state FROM share_instance_access_map'))
    assert states == ['applying', 'applying', 'error']


def test_delete_last_mapping_removes_rule(ctxt, make_share):
    share = make_share()
    replica = helpers.add_instance(ctxt, share['id'], status='available')
    rule = _rule(ctxt, share, metadata={'k': 'v'})
    lock = helpers.add_row(ctxt, models.ResourceLock, id='lock1',
                           user_id='u', project_id='p',
                           lock_context='user', resource_id=rule['id'],
                           resource_type='access_rule',
                           resource_action='delete')
    helpers.add_row(ctxt, models.ResourceLock, id='lock2', user_id='u',
                    project_id='p', lock_context='user',
                    resource_id=share['id'],
                    lock_reason='Locked by access lock: %s' % lock.id)
    by_instance = {m['share_instance_id']: m['id']
                   for m in rule.instance_mappings}
    db.share_instance_access_delete(ctxt, by_instance[replica])
    assert db.share_access_get(ctxt, rule['id'])['deleted'] == 'False'
    db.share_instance_access_delete(ctxt, by_instance[share.instance['id']])
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_access_get(ctxt, rule['id'])
    rows = helpers.raw_rows('SELECT state, deleted, id FROM '
                            'share_instance_access_map')
    assert all(r['state'] == 'deleted' and r['deleted'] == r['id']
               for r in rows)
    assert helpers.raw_rows("SELECT id FROM share_access_rules_metadata "
                            "WHERE deleted = 'False'") == []
    assert helpers.raw_rows("SELECT id FROM resource_locks "
                            "WHERE deleted = 'False'") == []
    with pytest.raises(exception.AccessRuleNotFound):
        db.share_instance_access_delete(ctxt, 'missing')
