"""shares and share_metadata: creation and upstream's share/instance split on update."""

import pytest

from manila_lite.db import api as db
from manila_lite import exception
from tests.unit.db import helpers


def test_create_puts_instance_keys_on_the_instance(ctxt):
    share_type = db.share_type_create(ctxt, {'name': 'gold'})
    share = db.share_create(ctxt, {
        'user_id': 'u', 'project_id': 'p', 'size': 2, 'share_proto': 'NFS',
        'status': 'creating', 'host': 'hostA@alpha#p',
        'share_type_id': share_type['id'], 'availability_zone': 'nova',
        'mount_point_name': 'mp', 'cast_rules_to_readonly': True,
        'metadata': {'k': 'v', 'flag': True}})
    assert len(share.instances) == 1
    inst = share.instances[0]
    assert share['id'] and inst['id'] and inst['id'] != share['id']
    assert inst['share_id'] == share['id']
    assert inst['status'] == 'creating'
    assert inst['host'] == 'hostA@alpha#p'
    assert inst['share_type_id'] == share_type['id']
    assert inst['availability_zone'] == 'nova'
    assert inst['mount_point_name'] == 'mp'
    assert inst['cast_rules_to_readonly'] is True
    assert share['size'] == 2 and share['status'] == 'creating'
    assert db.share_metadata_get(ctxt, share['id']) == {'k': 'v',
                                                        'flag': 'True'}
    cols = helpers.raw_rows('SELECT * FROM shares')[0]
    assert 'status' not in cols and 'host' not in cols


def test_create_without_instance(ctxt):
    share = db.share_create(ctxt, {'size': 1, 'status': 'creating'},
                            create_share_instance=False)
    assert share.instances == []
    assert helpers.raw_rows('SELECT id FROM share_instances') == []


def test_create_keeps_given_ids(ctxt):
    share = db.share_create(ctxt, {'id': 'share-1', 'size': 1})
    assert share['id'] == 'share-1'


def test_get_missing_share(ctxt):
    with pytest.raises(exception.ShareNotFound):
        db.share_get(ctxt, 'nope')


def test_get_honours_read_deleted(ctxt, make_share):
    share = make_share()
    db.share_instance_delete(ctxt, share.instance['id'])
    with pytest.raises(exception.ShareNotFound):
        db.share_get(ctxt, share['id'])
    deleted_ctxt = ctxt.elevated(read_deleted='yes')
    assert db.share_get(deleted_ctxt, share['id'])['deleted'] == share['id']
    only = ctxt.elevated(read_deleted='only')
    assert db.share_get(only, share['id'])['id'] == share['id']


def test_update_split(ctxt, make_share):
    share = make_share(status='creating')
    updated = db.share_update(ctxt, share['id'], {
        'status': 'available', 'display_name': 'renamed', 'size': 5,
        'availability_zone': 'zone-x', 'replica_state': None,
        'launched_at': None})
    inst = helpers.raw_rows('SELECT * FROM share_instances')[0]
    row = helpers.raw_rows('SELECT * FROM shares')[0]
    assert inst['status'] == 'available'
    assert inst['availability_zone_id'] is not None
    assert row['display_name'] == 'renamed' and row['size'] == 5
    assert updated['status'] == 'available'
    assert updated['availability_zone'] == 'zone-x'
    assert updated['display_name'] == 'renamed'


def test_update_falsy_instance_keys_are_dropped(ctxt, make_share):
    share = make_share(status='available', host='h@b#p')
    db.share_update(ctxt, share['id'], {'status': None, 'host': '',
                                        'task_state': None})
    inst = helpers.raw_rows('SELECT status, host FROM share_instances')[0]
    assert inst == {'status': 'available', 'host': 'h@b#p'}


def test_update_goes_to_the_main_instance(ctxt, make_share):
    share = make_share(status='error')
    other = helpers.add_instance(ctxt, share['id'], status='available',
                                 replica_state='active')
    db.share_update(ctxt, share['id'], {'progress': '0%',
                                        'host': 'new@b#p'})
    rows = {r['id']: r for r in
            helpers.raw_rows('SELECT id, host FROM share_instances')}
    assert rows[other]['host'] == 'new@b#p'
    assert rows[share.instance['id']]['host'] == 'hostA@alpha#pool0'


def test_get_all_filters(ctxt, make_share):
    a = make_share(project_id='p1', host='h1@b#x')
    make_share(project_id='p2', host='h2@b#x')
    assert [s['id'] for s in db.share_get_all(ctxt, {'project_id': 'p1'})] \
        == [a['id']]
    assert [s['id'] for s in db.share_get_all(ctxt, {'host': 'h1@b'})] == [
        a['id']]
    assert len(db.share_get_all(ctxt)) == 2
    assert len(db.share_get_all(ctxt, {'project_id': ['p1', 'p2']})) == 2


def test_metadata_update_and_delete(ctxt, make_share):
    share = make_share(metadata={'a': '1', 'b': '2'})
    db.share_metadata_update(ctxt, share['id'], {'b': '3', 'c': 4})
    assert db.share_metadata_get(ctxt, share['id']) == {
        'a': '1', 'b': '3', 'c': '4'}
    db.share_metadata_update(ctxt, share['id'], {'c': '5'}, delete=True)
    assert db.share_metadata_get(ctxt, share['id']) == {'c': '5'}
    deleted = helpers.raw_rows('SELECT m.key, m.deleted FROM share_metadata m '
                               'WHERE deleted != 0 ORDER BY m.key')
    assert [r['key'] for r in deleted] == ['a', 'b']
    assert all(r['deleted'] > 0 for r in deleted)
    with pytest.raises(exception.ShareNotFound):
        db.share_metadata_get(ctxt, 'missing')
