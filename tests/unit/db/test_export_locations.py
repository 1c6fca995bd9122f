"""export_locations_update: order, uuid stability, metadata, deletions and input forms."""

import pytest

from manila_lite.db import api as db
from manila_lite import exception
from tests.unit.db import helpers


@pytest.fixture
def inst_id(ctxt, make_share):
    return make_share().instance['id']


def _paths(ctxt, inst_id, **kw):
    return [el['path'] for el in
            db.export_location_get_all_by_share_instance_id(ctxt, inst_id,
                                                            **kw)]


def _uuids(ctxt, inst_id):
    return {el['path']: el['uuid'] for el in
            db.export_location_get_all_by_share_instance_id(ctxt, inst_id)}


def test_order_follows_driver_list(ctxt, inst_id):
    paths = ['/z', '/a', '/m', '/b']
    assert db.export_locations_update(ctxt, inst_id, paths) == paths
    assert _paths(ctxt, inst_id) == paths
    reordered = ['/b', '/z', '/a', '/m']
    db.export_locations_update(ctxt, inst_id, reordered)
    assert _paths(ctxt, inst_id) == reordered
    stamps = [el['updated_at'] for el in
              db.export_location_get_all_by_share_instance_id(ctxt, inst_id)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


def test_uuid_kept_for_existing_paths(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, ['/one', '/two'])
    before = _uuids(ctxt, inst_id)
    db.export_locations_update(ctxt, inst_id, ['/two', '/three'])
    after = _uuids(ctxt, inst_id)
    assert after['/two'] == before['/two']
    assert '/one' not in after
    assert after['/three'] not in before.values()
    deleted = helpers.raw_rows(
        'SELECT path, deleted FROM share_instance_export_locations '
        'WHERE deleted != 0')
    assert [r['path'] for r in deleted] == ['/one']


def test_delete_false_keeps_missing_paths(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, ['/one'])
    db.export_locations_update(ctxt, inst_id, ['/two'], delete=False)
    assert sorted(_paths(ctxt, inst_id)) == ['/one', '/two']


def test_single_string_and_dicts(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, '/only')
    assert _paths(ctxt, inst_id) == ['/only']
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/user'}, {'path': '/admin', 'is_admin_only': True}])
    assert _paths(ctxt, inst_id) == ['/user', '/admin']
    assert _paths(ctxt, inst_id, include_admin_only=False) == ['/user']


def test_metadata_stored_as_strings_and_updated(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/p', 'metadata': {'preferred': True, 'speed': 10}},
        {'path': '/q', 'metadata': {'preferred': False}}])
    els = db.export_location_get_all_by_share_instance_id(ctxt, inst_id)
    assert els[0]['el_metadata'] == {'preferred': 'True', 'speed': '10'}
    assert els[1]['el_metadata'] == {'preferred': 'False'}
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/p', 'metadata': {'preferred': False}}])
    els = db.export_location_get_all_by_share_instance_id(ctxt, inst_id)
    assert [el['path'] for el in els] == ['/p']
    # Upstream upserts: keys the driver stopped sending are kept.
    assert els[0]['el_metadata'] == {'preferred': 'False', 'speed': '10'}
    live_meta = helpers.raw_rows(
        'SELECT m.key FROM share_instance_export_locations_metadata m '
        'WHERE deleted = 0 ORDER BY m.key')
    assert [r['key'] for r in live_meta] == ['preferred', 'speed']


def test_removed_location_takes_metadata_along(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/p', 'metadata': {'preferred': True}}])
    db.export_locations_update(ctxt, inst_id, [])
    assert _paths(ctxt, inst_id) == []
    assert helpers.raw_rows(
        'SELECT id FROM share_instance_export_locations_metadata '
        'WHERE deleted = 0') == []


def test_wrong_input_is_rejected(ctxt, inst_id):
    with pytest.raises(exception.ManilaException):
        db.export_locations_update(ctxt, inst_id, [42])
    with pytest.raises(exception.ManilaException):
        db.export_locations_update(ctxt, inst_id, [{'no_path': 1}])


def test_get_all_for_share_and_missing_instance(ctxt, make_share):
    share = make_share()
    db.export_locations_update(ctxt, share.instance['id'], [
        '/user', {'path': '/admin', 'is_admin_only': True}])
    assert db.export_location_get_all(ctxt, share['id']) == ['/user',
                                                             '/admin']
    user_ctxt = ctxt.elevated()
    user_ctxt.is_admin = False
    assert db.export_location_get_all(user_ctxt, share['id']) == ['/user']
    with pytest.raises(exception.ShareInstanceNotFound):
        db.export_location_get_all_by_share_instance_id(ctxt, 'missing')


def test_get_by_uuid(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, ['/p'])
    uuid = _uuids(ctxt, inst_id)['/p']
    assert db.export_location_get_by_uuid(ctxt, uuid)['path'] == '/p'
    with pytest.raises(exception.ExportLocationNotFound):
        db.export_location_get_by_uuid(ctxt, 'nope')


def test_first_update_writes_in_few_statements(ctxt, inst_id):
    with helpers.StatementCounter(db.get_engine()) as counter:
        paths = db.export_locations_update(ctxt, inst_id, [
            {'path': '/a', 'metadata': {'preferred': True, 'x': 1}},
            {'path': '/b', 'metadata': {'preferred': False}},
            '/c'])
    assert paths == ['/a', '/b', '/c']
    work = [s.split()[0] for s in counter.statements
            if not s.startswith('BEGIN')]
    # Lock the instance, read its locations, one INSERT for the
    # locations (RETURNING their ids, or a SELECT of them) and one for
    # all the metadata.
    assert work[:2] == ['SELECT', 'SELECT']
    assert work.count('INSERT') == 2 and len(work) <= 5, work
    els = db.export_location_get_all_by_share_instance_id(ctxt, inst_id)
    assert [el['el_metadata'] for el in els] == [
        {'preferred': 'True', 'x': '1'}, {'preferred': 'False'}, {}]


def test_unchanged_metadata_is_not_rewritten(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/a', 'metadata': {'preferred': True, 'x': 1}}])
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.export_locations_update(ctxt, inst_id, [
            {'path': '/a', 'metadata': {'preferred': True, 'x': 2}}])
    meta_writes = [s for s in counter.statements
                   if 'share_instance_export_locations_metadata' in
                   s.split('(')[0] and not s.startswith('SELECT')]
    assert len(meta_writes) == 1 and meta_writes[0].startswith('UPDATE')
    [el] = db.export_location_get_all_by_share_instance_id(ctxt, inst_id)
    assert el['el_metadata'] == {'preferred': 'True', 'x': '2'}
    rows = helpers.raw_rows(
        'SELECT m.key FROM share_instance_export_locations_metadata m')
    assert sorted(r['key'] for r in rows) == ['preferred', 'x']


def test_returned_order_matches_a_fresh_read(ctxt, inst_id):
    db.export_locations_update(ctxt, inst_id, ['/old1', '/old2'])
    returned = db.export_locations_update(ctxt, inst_id, ['/new', '/old2'],
                                          delete=False)
    assert returned == _paths(ctxt, inst_id)
    assert returned == ['/old1', '/new', '/old2']
    returned = db.export_locations_update(ctxt, inst_id, ['/old1'])
    assert returned == _paths(ctxt, inst_id) == ['/old1']
