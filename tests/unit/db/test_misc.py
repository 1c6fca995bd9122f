"""Messages, share types, snapshots, share servers, groups and backups through the facade."""

import datetime

import pytest
import sqlalchemy as sa

from manila_lite import context as ml_context
from manila_lite.db import api as db
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.db import helpers


def _message(ctxt, **values):
    base = {'project_id': 'p1', 'request_id': 'req-1',
            'resource_type': 'SHARE', 'resource_id': 'share-1',
            'action_id': '002', 'detail_id': '001', 'message_level': 'ERROR',
            'expires_at': datetime.datetime.utcnow() +
            datetime.timedelta(days=30)}
    base.update(values)
    return db.message_create(ctxt, base)


def test_message_create_and_list(ctxt):
    first = _message(ctxt)
    second = _message(ctxt, project_id='p2', action_id='003')
    assert len(first['id']) == 36 and first['created_at'] is not None
    row = helpers.raw_rows('SELECT * FROM messages WHERE id = :i',
                           i=first['id'])[0]
    assert row['deleted'] == 'False' and row['message_level'] == 'ERROR'
    listed = db.message_get_all(ctxt)
    assert [m['id'] for m in listed] == [second['id'], first['id']]
    assert [m['id'] for m in db.message_get_all(
        ctxt, {'action_id': '002'})] == [first['id']]
    user = ml_context.RequestContext(user_id='u', project_id='p2',
                                     is_admin=False)
    assert [m['id'] for m in db.message_get_all(user)] == [second['id']]


def test_message_expiry(ctxt):
    _message(ctxt, expires_at=datetime.datetime.utcnow() -
             datetime.timedelta(seconds=1))
    kept = _message(ctxt)
    assert db.message_destroy_expired(ctxt) == 1
    assert [m['id'] for m in db.message_get_all(ctxt)] == [kept['id']]


def test_share_types(ctxt):
    created = db.share_type_create(ctxt, {
        'name': 'gold', 'extra_specs': {'snapshot_support': True,
                                        'driver_handles_share_servers':
                                        'False'}}, projects=['p1'])
    assert created['extra_specs'] == {
        'snapshot_support': 'True', 'driver_handles_share_servers': 'False'}
    assert created['is_public'] is True
    assert created['projects'] == ['p1']
    assert db.share_type_get(ctxt, created['id'])['name'] == 'gold'
    assert db.share_type_get_by_name(ctxt, 'gold')['id'] == created['id']
    assert list(db.share_type_get_all(ctxt)) == ['gold']
    specs = helpers.raw_rows('SELECT spec_key FROM share_type_extra_specs '
                             'ORDER BY spec_key')
    assert [r['spec_key'] for r in specs] == [
        'driver_handles_share_servers', 'snapshot_support']
    with pytest.raises(exception.ShareTypeNotFound):
        db.share_type_get_by_name(ctxt, 'silver')


def _snapshot(ctxt, share, status='creating'):
    helpers.add_row(ctxt, models.ShareSnapshot, id='snap1',
                    share_id=share['id'], size=2, project_id='proj1')
    helpers.add_row(ctxt, models.ShareSnapshotInstance, id='snapinst1',
                    snapshot_id='snap1',
                    share_instance_id=share.instance['id'], status=status,
                    progress='0%')


def test_snapshot_reads(ctxt, make_share):
    share = make_share(size=4)
    _snapshot(ctxt, share)
    snap = db.share_snapshot_get(ctxt, 'snap1')
    assert sa.inspect(snap).detached
    assert snap['status'] == 'creating' and snap['progress'] == '0%'
    assert snap['share']['id'] == share['id']
    assert snap['aggregate_status'] == 'creating'
    inst = db.share_snapshot_instance_get(ctxt, 'snapinst1',
                                          with_share_data=True)
    assert inst['share']['id'] == share.instance['id']
    assert inst['share']['size'] == 4
    assert inst['share']['name'] == 'share-%s' % share.instance['id']
    found = db.share_snapshot_instance_get_all_with_filters(
        ctxt, {'statuses': 'creating', 'host': 'hostA@alpha'})
    assert [i['id'] for i in found] == ['snapinst1']
    assert db.share_snapshot_instance_get_all_with_filters(
        ctxt, {'host': 'hostB@alpha'}) == []
    with pytest.raises(exception.ShareSnapshotInstanceNotFound):
        db.share_snapshot_instance_get(ctxt, 'nope')
    with pytest.raises(exception.ShareSnapshotNotFound):
        db.share_snapshot_get(ctxt, 'nope')


def test_snapshot_updates(ctxt, make_share):
    share = make_share()
    _snapshot(ctxt, share)
    snap = db.share_snapshot_update(ctxt, 'snap1', {
        'status': 'available', 'progress': '100%', 'display_name': 'sn'})
    assert snap['status'] == 'available'
    assert snap['display_name'] == 'sn'
    inst = db.share_snapshot_instance_update(ctxt, 'snapinst1', {'size': 9})
    assert inst['size'] == 9
    assert helpers.raw_rows('SELECT size FROM share_snapshot_instances') == [
        {'size': 9}]


def test_share_servers(ctxt, make_share):
    server = helpers.add_row(ctxt, models.ShareServer, id='srv1',
                             host='hostA@alpha', status='active')
    helpers.add_row(ctxt, models.ShareServer, id='srv2',
                    host='hostA@alpha#pool', status='active')
    make_share(share_server_id=server.id)
    got = db.share_server_get(ctxt, 'srv1')
    assert [i['share_server_id'] for i in got.share_instances] == ['srv1']
    assert got['backend_details'] == {}
    assert [s['id'] for s in db.share_server_get_all_by_host(
        ctxt, 'hostA@alpha')] == ['srv1']
    updated = db.share_server_update(ctxt, 'srv1', {'status': 'error'})
    assert updated['status'] == 'error'
    with pytest.raises(exception.ShareServerNotFound):
        db.share_server_get(ctxt, 'nope')


def test_groups_and_backups(ctxt, make_share):
    helpers.add_row(ctxt, models.ShareGroup, id='g1', user_id='u',
                    project_id='p', status='creating')
    group = db.share_group_update(ctxt, 'g1', {'status': 'available',
                                               'availability_zone': 'nova'})
    assert group['status'] == 'available'
    assert group['availability_zone'] == 'nova'
    helpers.add_row(ctxt, models.ShareGroupSnapshot, id='gs1', user_id='u',
                    project_id='p', share_group_id='g1')
    assert db.share_group_snapshot_update(
        ctxt, 'gs1', {'status': 'error'})['status'] == 'error'
    share = make_share()
    helpers.add_row(ctxt, models.ShareBackup, id='b1', share_id=share['id'],
                    status='creating')
    assert db.share_backup_update(ctxt, 'b1', {'status': 'available'})[
        'status'] == 'available'
    with pytest.raises(exception.ShareGroupNotFound):
        db.share_group_update(ctxt, 'nope', {})
