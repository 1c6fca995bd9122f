"""ORM defaults, soft-delete flavours, dict access and derived properties of the models."""

import datetime

from oslo_config import cfg

from manila_lite.common import constants
from manila_lite.db import api as db
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models
from tests.unit.db import helpers

CONF = cfg.CONF


def test_insert_defaults(ctxt, make_share):
    before = datetime.datetime.utcnow()
    share = make_share()
    inst_id = share.instance['id']
    row = helpers.raw_rows('SELECT * FROM share_instances WHERE id = :i',
                           i=inst_id)[0]
    assert row['deleted'] == 'False'
    assert row['access_rules_status'] == 'active'
    assert row['cast_rules_to_readonly'] in (0, False)
    assert row['updated_at'] is None
    share_row = helpers.raw_rows('SELECT * FROM shares WHERE id = :i',
                                 i=share['id'])[0]
    assert share_row['deleted'] == 'False'
    assert share_row['snapshot_support'] in (1, True)
    assert share_row['create_share_from_snapshot_support'] in (1, True)
    assert share_row['revert_to_snapshot_support'] in (0, False)
    assert share_row['is_soft_deleted'] in (0, False)
    created = share['created_at']
    assert created.tzinfo is None
    assert before - datetime.timedelta(seconds=1) <= created
    assert created <= datetime.datetime.utcnow()


def test_integer_soft_delete_defaults(ctxt):
    svc = db.service_create(ctxt, {'host': 'h@b', 'binary': 'manila-share',
                                   'topic': 'manila-share'})
    row = helpers.raw_rows('SELECT * FROM services WHERE id = :i',
                           i=svc['id'])[0]
    assert row['deleted'] == 0
    assert row['report_count'] == 0
    assert row['disabled'] in (0, False)
    assert row['ensuring'] in (0, False)


def test_access_and_server_defaults(ctxt, make_share):
    share = make_share()
    rule = db.share_access_create(ctxt, {'share_id': share['id'],
                                         'access_type': 'ip',
                                         'access_to': '10.0.0.1'})
    rows = helpers.raw_rows('SELECT state FROM share_instance_access_map')
    assert rows == [{'state': 'queued_to_apply'}]
    assert helpers.raw_rows('SELECT access_level FROM share_access_map') == [
        {'access_level': 'rw'}]
    assert rule.state == 'queued_to_apply'
    server = helpers.add_row(ctxt, models.ShareServer, id='srv1',
                             host='h@b')
    assert server.status == 'inactive'
    assert server.is_auto_deletable is True
    assert server.security_service_update_support is False


def test_soft_delete_string_and_integer(ctxt, make_share):
    share = make_share()
    db.export_locations_update(ctxt, share.instance['id'], ['/p1'])
    db.share_instance_delete(ctxt, share.instance['id'])
    inst = helpers.raw_rows('SELECT * FROM share_instances')[0]
    assert inst['deleted'] == inst['id']
    assert inst['status'] == 'deleted'
    assert inst['deleted_at'] is not None
    el = helpers.raw_rows('SELECT * FROM share_instance_export_locations')[0]
    assert el['deleted'] == el['id'] and isinstance(el['deleted'], int)
    assert el['deleted_at'] is not None


def test_updated_at_set_by_orm_update(ctxt, make_share):
    share = make_share()
    inst = db.share_instance_update(ctxt, share.instance['id'],
                                    {'progress': '50%'})
    assert inst['updated_at'] is not None
    assert inst['progress'] == '50%'


def test_dict_access(ctxt, make_share):
    share = make_share(display_name='dn')
    assert share['display_name'] == 'dn'
    assert share.get('display_name') == 'dn'
    assert share.get('no_such_key', 'dflt') == 'dflt'
    as_dict = share.to_dict()
    assert as_dict['id'] == share['id']
    assert as_dict['name'] == 'share-%s' % share['id']
    assert 'instances' not in as_dict or isinstance(as_dict['instances'],
                                                    list)


def test_instance_name_uses_instance_id(ctxt, make_share):
    share = make_share()
    inst = db.share_instance_get(ctxt, share.instance['id'])
    assert inst['name'] == 'share-%s' % inst['id']
    CONF.set_override('share_name_template', 'tmpl-%s')
    try:
        assert inst['name'] == 'tmpl-%s' % inst['id']
    finally:
        CONF.clear_override('share_name_template')


def _share_with(ctxt, make_share, statuses):
    share = make_share(status=statuses[0][0], replica_state=statuses[0][1])
    for status, replica_state in statuses[1:]:
        helpers.add_instance(ctxt, share['id'], status=status,
                             replica_state=replica_state)
    return db.share_get(ctxt, share['id'])


def test_share_instance_priority(ctxt, make_share):
    share = _share_with(ctxt, make_share, [('creating', None),
                                           ('error', None),
                                           ('available', None)])
    assert share.instance['status'] == 'available'
    assert share.status == 'available'
    share = _share_with(ctxt, make_share, [('available', 'in_sync'),
                                           ('available', 'active'),
                                           ('error', 'out_of_sync')])
    assert share.instance['replica_state'] == 'active'
    share = _share_with(ctxt, make_share, [('available', 'active'),
                                           ('replication_change', 'in_sync')])
    assert share.instance['status'] == 'replication_change'
    share = _share_with(ctxt, make_share, [('available', None),
                                           ('migrating', None)])
    assert share.instance['status'] == 'migrating'
    assert share.has_replicas is False


def test_instance_derived_properties(ctxt, make_share):
    share = make_share(availability_zone='zone-a')
    db.export_locations_update(ctxt, share.instance['id'], ['/a', '/b'])
    inst = db.share_instance_get(ctxt, share.instance['id'])
    assert inst['availability_zone'] == 'zone-a'
    assert inst['export_location'] == '/a'
    share = db.share_get(ctxt, share['id'])
    assert share['export_location'] == '/a'
    assert share['export_locations'] == ['/a', '/b']
    assert share['availability_zone'] == 'zone-a'
    assert share['access_rules_status'] == 'active'


def test_snapshot_instance_properties(ctxt, make_share):
    share = make_share()
    inst_id = share.instance['id']
    helpers.add_row(ctxt, models.ShareSnapshot, id='snap1',
                    share_id=share['id'], size=3)
    helpers.add_row(ctxt, models.ShareSnapshotInstance, id='si1',
                    snapshot_id='snap1', share_instance_id=inst_id,
                    status='available')
    snap_inst = db.share_snapshot_instance_get(ctxt, 'si1')
    assert snap_inst['name'] == 'share-snapshot-si1'
    assert snap_inst['share_name'] == 'share-%s' % inst_id
    assert snap_inst['share_id'] == inst_id
    assert snap_inst['size'] == 3  # falls back to the snapshot's size
    snapshot = db.share_snapshot_get(ctxt, 'snap1')
    assert snapshot['status'] == 'available'
    assert snapshot['name'] == 'share-snapshot-snap1'
    assert snapshot['share_name'] == 'share-%s' % share['id']


def test_access_state_aggregation(ctxt, make_share):
    share = make_share()
    helpers.add_instance(ctxt, share['id'], status='available')
    rule = db.share_access_create(ctxt, {'share_id': share['id'],
                                         'access_type': 'ip',
                                         'access_to': '10.0.0.2',
                                         'state': 'active'})
    assert rule.state == constants.ACCESS_STATE_ACTIVE
    mapping = rule.instance_mappings[0]
    db.share_instance_access_update(ctxt, rule['id'],
                                    mapping['share_instance_id'],
                                    {'state': 'error'})
    assert db.share_access_get(ctxt, rule['id']).state == 'error'


def test_unknown_keys_are_not_persisted(ctxt, make_share):
    share = make_share()
    inst = db.share_instance_update(ctxt, share.instance['id'],
                                    {'fake_key1': 'x', 'progress': '1%'})
    assert inst['progress'] == '1%'
    with engine.reader(ctxt) as session:
        assert 'fake_key1' not in session.get(
            models.ShareInstance, inst['id']).__dict__
