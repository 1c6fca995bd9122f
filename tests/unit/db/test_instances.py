"""share_instances: eager reads, bulk and conditional updates, delete cascade, statement counts."""

import datetime
import threading

from oslo_utils import uuidutils
import pytest
import sqlalchemy as sa

from manila_lite import context as ml_context
from manila_lite.db import api as db
from manila_lite.db.sqlalchemy import engine
from manila_lite.db.sqlalchemy import models
from manila_lite import exception
from tests.unit.db import helpers


def _full_instance(ctxt, make_share, **values):
    """A share whose instance has a type with specs, a server, exports, metadata."""
    share_type = db.share_type_create(ctxt, {
        'name': 'type-%s' % uuidutils.generate_uuid()[:8],
        'extra_specs': {'driver_handles_share_servers': 'False'}})
    server = helpers.add_row(ctxt, models.ShareServer,
                             id=uuidutils.generate_uuid(), host='hostA@alpha',
                             status='active')
    helpers.add_row(ctxt, models.ShareServerBackendDetails,
                    share_server_id=server.id, key='ip', value='10.0.0.9')
    base = {'share_type_id': share_type['id'], 'share_server_id': server.id,
            'availability_zone': 'nova'}
    base.update(values)
    share = make_share(**base)
    inst_id = share.instance['id']
    db.export_locations_update(ctxt, inst_id, [
        {'path': '10.0.0.1:/%s' % inst_id, 'metadata': {'preferred': True}},
        {'path': '10.0.0.2:/%s' % inst_id, 'is_admin_only': True}])
    helpers.add_row(ctxt, models.ShareInstanceMetadata,
                    share_instance_id=inst_id, key='ik', value='iv')
    return share


def test_get_detached_and_complete(ctxt, make_share):
    share = _full_instance(ctxt, make_share, size=7, share_proto='CIFS')
    inst = db.share_instance_get(ctxt, share.instance['id'],
                                 with_share_data=True)
    assert sa.inspect(inst).detached
    assert inst['size'] == 7 and inst['share_proto'] == 'CIFS'
    assert inst['project_id'] == 'proj1' and inst['user_id'] == 'user1'
    assert inst['share']['id'] == share['id']
    assert inst['share']['instance']['id'] == inst['id']
    assert [el['path'] for el in inst['export_locations']] == [
        '10.0.0.1:/%s' % inst['id'], '10.0.0.2:/%s' % inst['id']]
    assert inst['export_locations'][0]['el_metadata'] == {
        'preferred': 'True'}
    assert inst['share_server']['backend_details'] == {'ip': '10.0.0.9'}
    assert inst['share_type']['name'].startswith('type-')
    assert inst['share_type'].specs == {
        'driver_handles_share_servers': 'False'}
    assert inst['availability_zone'] == 'nova'
    assert {m['key']: m['value'] for m in inst.share_instance_metadata} == {
        'ik': 'iv'}


def test_get_without_share_data(ctxt, make_share):
    share = make_share()
    inst = db.share_instance_get(ctxt, share.instance['id'])
    with pytest.raises(AttributeError):
        inst.size
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_get(ctxt, 'missing')


def test_get_all_by_host_matching(ctxt, make_share):
    exact = make_share(host='hostA@alpha')
    pooled = make_share(host='hostA@alpha#pool1')
    make_share(host='hostA@alphabet#pool1')
    make_share(host='hostB@alpha#pool1')
    found = db.share_instance_get_all_by_host(ctxt, 'hostA@alpha')
    assert {i['share_id'] for i in found} == {exact['id'], pooled['id']}
    found = db.share_instance_get_all_by_host(ctxt, 'hostA@alpha#pool1')
    assert [i['share_id'] for i in found] == [pooled['id']]


def test_get_all_by_host_status(ctxt, make_share):
    a = make_share(status='available')
    b = make_share(status='error')
    make_share(status='creating')
    by_one = db.share_instance_get_all_by_host(ctxt, 'hostA@alpha',
                                               status='available')
    assert [i['share_id'] for i in by_one] == [a['id']]
    by_list = db.share_instance_get_all_by_host(
        ctxt, 'hostA@alpha', status=['available', 'error'],
        with_share_data=True)
    assert {i['share_id'] for i in by_list} == {a['id'], b['id']}
    assert all(i['size'] == 1 for i in by_list)


def _bulk_shares(ctxt, count, share_type_id, server_id):
    """Insert ``count`` shares with one instance, two exports and metadata."""
    now = datetime.datetime.utcnow()
    with engine.writer(ctxt) as session:
        for n in range(count):
            sid, iid = uuidutils.generate_uuid(), uuidutils.generate_uuid()
            session.add(models.Share(id=sid, size=1, project_id='p'))
            session.add(models.ShareMetadata(share_id=sid, key='k', value='v'))
            session.add(models.ShareInstance(
                id=iid, share_id=sid, host='hostA@alpha#p', status='available',
                share_type_id=share_type_id, share_server_id=server_id))
            session.add(models.ShareInstanceMetadata(
                share_instance_id=iid, key='k', value='v'))
            for i in range(2):
                el = models.ShareInstanceExportLocations(
                    uuid=uuidutils.generate_uuid(), share_instance_id=iid,
                    path='/%s/%d' % (iid, i), updated_at=now)
                session.add(el)
                session.flush()
                session.add(models.ShareInstanceExportLocationsMetadata(
                    export_location_id=el.id, key='preferred', value='True'))


def _touch_everything(instances):
    for inst in instances:
        inst['share']['instance']['status']
        inst['share']['export_locations']
        [m['key'] for m in inst['share'].share_metadata]
        [el['el_metadata'] for el in inst['export_locations']]
        inst['share_type'].specs
        inst['share_server']['backend_details']
        inst['share_server']['share_network_subnet_ids']
        inst['availability_zone']
        inst['size']


def _count_by_host(ctxt):
    with helpers.StatementCounter(db.get_engine()) as counter:
        instances = db.share_instance_get_all_by_host(
            ctxt, 'hostA@alpha', with_share_data=True)
        _touch_everything(instances)
    return len(instances), counter.count


def test_get_all_by_host_statement_count_is_constant(ctxt):
    share_type = db.share_type_create(ctxt, {'name': 't',
                                             'extra_specs': {'a': 'b'}})
    server = helpers.add_row(ctxt, models.ShareServer, id='srv',
                             host='hostA@alpha')
    _bulk_shares(ctxt, 10, share_type['id'], server.id)
    found, small = _count_by_host(ctxt)
    assert found == 10
    _bulk_shares(ctxt, 290, share_type['id'], server.id)
    found, large = _count_by_host(ctxt)
    assert found == 300
    assert small == large
    assert small < 40


def test_get_all_filters(ctxt, make_share):
    a = make_share(status='available')
    b = make_share(status='error', host='other@b#p')
    db.export_locations_update(ctxt, a.instance['id'], ['/exp/a'])
    ids = lambda rows: {r['id'] for r in rows}  # noqa: E731
    assert ids(db.share_instance_get_all(ctxt)) == {
        a.instance['id'], b.instance['id']}
    assert ids(db.share_instance_get_all(ctxt, {'status': 'error'})) == {
        b.instance['id']}
    assert ids(db.share_instance_get_all(
        ctxt, {'export_location_path': '/exp/a'})) == {a.instance['id']}
    assert ids(db.share_instance_get_all(ctxt, {'host': 'other@b'})) == {
        b.instance['id']}
    assert ids(db.share_instance_get_all(
        ctxt, {'instance_ids': [a.instance['id']]})) == {a.instance['id']}
    helpers.raw_execute('UPDATE shares SET is_soft_deleted = :t WHERE id = '
                        ':i', t=True, i=a['id'])
    assert ids(db.share_instance_get_all(ctxt)) == {b.instance['id']}
    assert ids(db.share_instance_get_all(
        ctxt, {'is_soft_deleted': True})) == {a.instance['id']}


def test_update_returns_reloaded_instance(ctxt, make_share):
    share = make_share(availability_zone='nova')
    inst = db.share_instance_update(
        ctxt, share.instance['id'],
        {'status': 'available', 'availability_zone': 'zone-b'},
        with_share_data=True)
    assert sa.inspect(inst).detached
    assert inst['availability_zone'] == 'zone-b'
    assert inst['status'] == 'available'
    assert inst['size'] == 1


def test_status_update_bulk(ctxt, make_share):
    shares = [make_share(status='available') for _ in range(3)]
    ids = [s.instance['id'] for s in shares]
    db.share_instance_update(ctxt, ids[2], {'status': 'error'})
    with helpers.StatementCounter(db.get_engine()) as counter:
        count = db.share_instance_status_update(
            ctxt, ids, {'status': 'ensuring'},
            expected_statuses=['available'])
    assert count == 2
    assert len([s for s in counter.statements if s.startswith('UPDATE')]) \
        == 1
    statuses = {r['id']: r['status'] for r in
                helpers.raw_rows('SELECT id, status FROM share_instances')}
    assert statuses == {ids[0]: 'ensuring', ids[1]: 'ensuring',
                        ids[2]: 'error'}
    assert db.share_instance_status_update(ctxt, ids,
                                           {'status': 'available'}) == 3


def test_conditional_update(ctxt, make_share):
    share = make_share(status='creating')
    inst_id = share.instance['id']
    with helpers.StatementCounter(db.get_engine()) as counter:
        assert db.share_instance_conditional_update(
            ctxt, inst_id, ['creating'], {'status': 'available',
                                          'progress': '100%'}) is True
    assert [s.split()[0] for s in counter.statements
            if not s.startswith('BEGIN')] == ['UPDATE']
    row = helpers.raw_rows('SELECT * FROM share_instances')[0]
    assert row['status'] == 'available' and row['progress'] == '100%'
    assert row['updated_at'] is not None
    assert db.share_instance_conditional_update(
        ctxt, inst_id, ['creating'], {'status': 'error'}) is False
    assert helpers.raw_rows('SELECT status FROM share_instances') == [
        {'status': 'available'}]
    assert db.share_instance_conditional_update(
        ctxt, inst_id, 'available', {'status': 'deleting'}) is True


def test_conditional_update_ignores_deleted_rows(ctxt, make_share):
    share = make_share(status='available')
    helpers.raw_execute("UPDATE share_instances SET deleted = id")
    assert db.share_instance_conditional_update(
        ctxt, share.instance['id'], ['available'], {'status': 'x'}) is False


def _access(ctxt, share, to='10.1.1.1'):
    return db.share_access_create(ctxt, {
        'share_id': share['id'], 'access_type': 'ip', 'access_to': to,
        'metadata': {'mk': 'mv'}})


def test_delete_cascades_and_removes_last_share(ctxt, make_share):
    share = make_share(metadata={'sk': 'sv'}, status='deleting')
    inst_id = share.instance['id']
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/x', 'metadata': {'preferred': True}}])
    helpers.add_row(ctxt, models.ShareInstanceMetadata,
                    share_instance_id=inst_id, key='ik', value='iv')
    _access(ctxt, share)
    result = db.share_instance_delete(ctxt, inst_id)
    assert result['share_deleted'] is True
    assert result['share']['id'] == share['id']
    assert result['share']['deleted'] == 'False'  # as it was
    assert result['share']['project_id'] == 'proj1'
    live = lambda table, flavour="'False'": helpers.raw_rows(  # noqa: E731
        'SELECT * FROM %s WHERE deleted = %s' % (table, flavour))
    for table in ('shares', 'share_instances', 'share_access_map',
                  'share_instance_access_map', 'share_access_rules_metadata',
                  'share_instance_metadata'):
        assert live(table) == [], table
    for table in ('share_metadata', 'share_instance_export_locations',
                  'share_instance_export_locations_metadata'):
        assert live(table, '0') == [], table
    inst = helpers.raw_rows('SELECT * FROM share_instances')[0]
    assert inst['status'] == 'deleted' and inst['deleted'] == inst_id
    mapping = helpers.raw_rows('SELECT * FROM share_instance_access_map')[0]
    assert mapping['state'] == 'deleted'
    share_row = helpers.raw_rows('SELECT * FROM shares')[0]
    assert share_row['deleted'] == share['id']
    assert share_row['deleted_at'] is not None


def test_delete_of_one_replica_keeps_the_share(ctxt, make_share):
    share = make_share(replica_state='active')
    other = helpers.add_instance(ctxt, share['id'], status='available',
                                 replica_state='in_sync')
    _access(ctxt, share)
    result = db.share_instance_delete(ctxt, other)
    assert result['share_deleted'] is False
    assert db.share_get(ctxt, share['id'])['deleted'] == 'False'
    rules = helpers.raw_rows("SELECT * FROM share_access_map "
                             "WHERE deleted = 'False'")
    assert len(rules) == 1
    mappings = helpers.raw_rows(
        "SELECT share_instance_id, state FROM share_instance_access_map "
        "WHERE deleted = 'False'")
    assert mappings == [{'share_instance_id': share.instance['id'],
                         'state': 'queued_to_apply'}]
    assert db.share_metadata_get(ctxt, share['id']) == {}
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_delete(ctxt, other)


# -- the hot paths: statement counts and the sibling rule ---------------------

def _selects(counter):
    return [s for s in counter.statements if s.lstrip().startswith('SELECT')]


def test_get_reads_an_instance_in_three_selects(ctxt, make_share):
    share = _full_instance(ctxt, make_share, share_server_id=None,
                           metadata={'sk': 'sv'})
    with helpers.StatementCounter(db.get_engine()) as counter:
        inst = db.share_instance_get(ctxt, share.instance['id'],
                                     with_share_data=True)
    # Instance + share + zone + type + specs + instance metadata, then
    # the export locations (with metadata), then the share metadata.
    assert len(_selects(counter)) == 3, counter.statements
    assert inst['share_server'] is None
    assert inst['share']['instances'] == [inst]
    assert inst['share']['instance'] is inst
    assert {m['key']: m['value'] for m in inst['share'].share_metadata} == {
        'sk': 'sv'}
    assert [el['el_metadata'] for el in inst['export_locations']] == [
        {'preferred': 'True'}, {}]
    assert inst['share_type'].specs == {
        'driver_handles_share_servers': 'False'}


def test_get_loads_siblings_only_when_there_are_some(ctxt, make_share):
    share = _full_instance(ctxt, make_share)
    main_id = share.instance['id']
    other = helpers.add_instance(ctxt, share['id'], status='available',
                                 replica_state='in_sync', host='hostB@b#p')
    db.export_locations_update(ctxt, other, ['/replica'])
    with helpers.StatementCounter(db.get_engine()) as counter:
        inst = db.share_instance_get(ctxt, main_id, with_share_data=True)
    # The four of a single instance, plus the server and the siblings
    # (with their own collections).
    assert len(_selects(counter)) > 4
    siblings = inst['share']['instances']
    assert {i['id'] for i in siblings} == {main_id, other}
    assert [i for i in siblings if i['id'] == main_id][0] is inst
    replica = [i for i in siblings if i['id'] == other][0]
    assert replica['share'] is inst['share']
    assert [el['path'] for el in replica['export_locations']] == ['/replica']
    assert replica['availability_zone'] is None
    assert inst['share']['export_locations'] == [
        '10.0.0.1:/%s' % main_id, '10.0.0.2:/%s' % main_id, '/replica']


def test_get_of_a_deleted_instance_sees_the_live_siblings(ctxt, make_share):
    share = make_share(status='deleting')
    inst_id = share.instance['id']
    other = helpers.add_instance(ctxt, share['id'], status='available')
    db.share_instance_delete(ctxt, inst_id)
    deleted_ctx = ctxt.elevated(read_deleted='yes')
    inst = db.share_instance_get(deleted_ctx, inst_id)
    assert inst['deleted'] == inst_id
    assert [i['id'] for i in inst['share']['instances']] == [other]
    db.share_instance_delete(ctxt, other)
    last = db.share_instance_get(deleted_ctx, other)
    assert last['share']['instances'] == []


def test_refresh_after_update_sees_new_values(ctxt, make_share):
    share = make_share(status='creating')
    inst_id = share.instance['id']
    db.export_locations_update(ctxt, inst_id, ['/old'])
    inst = db.share_instance_update(ctxt, inst_id, {'status': 'available'},
                                    with_share_data=True)
    assert inst['status'] == 'available'
    assert [el['path'] for el in inst['export_locations']] == ['/old']
    assert inst['share']['instance']['status'] == 'available'


def test_get_all_by_host_with_replicas_keeps_a_constant_count(ctxt):
    share_type = db.share_type_create(ctxt, {'name': 't',
                                             'extra_specs': {'a': 'b'}})
    server = helpers.add_row(ctxt, models.ShareServer, id='srv',
                             host='hostA@alpha')

    def add(count):
        _bulk_shares(ctxt, count, share_type['id'], server.id)
        for share_id in [r['id'] for r in helpers.raw_rows(
                'SELECT id FROM shares')][-count // 2:]:
            helpers.add_instance(ctxt, share_id, host='hostB@beta#p',
                                 status='available', replica_state='in_sync')

    add(10)
    found, small = _count_by_host(ctxt)
    assert found == 10
    add(200)
    found, large = _count_by_host(ctxt)
    assert found == 210
    assert small == large
    instances = db.share_instance_get_all_by_host(ctxt, 'hostA@alpha',
                                                  with_share_data=True)
    replicated = [i for i in instances if len(i['share']['instances']) == 2]
    assert replicated
    assert all(i in i['share']['instances'] for i in instances)


def test_delete_skips_empty_child_tables(ctxt, make_share):
    share = make_share(status='deleting')
    inst_id = share.instance['id']
    db.export_locations_update(ctxt, inst_id, [
        {'path': '/x', 'metadata': {'preferred': True}}])
    with helpers.StatementCounter(db.get_engine()) as counter:
        result = db.share_instance_delete(ctxt, inst_id)
    assert result['share_deleted'] is True
    updates = [s.split()[1] for s in counter.statements
               if s.lstrip().startswith('UPDATE')]
    # The instance, its exports and their metadata, the share: no UPDATE
    # of the (empty) access, instance metadata or share metadata tables.
    assert sorted(updates) == sorted([
        'share_instances', 'share_instance_export_locations',
        'share_instance_export_locations_metadata', 'shares'])


def test_concurrent_deletes_of_siblings_delete_the_share_once(ctxt,
                                                              make_share):
    share = make_share(status='deleting')
    others = [helpers.add_instance(ctxt, share['id'], status='deleting')
              for _ in range(3)]
    results, errors = [], []

    def delete(inst_id):
        try:
            results.append(db.share_instance_delete(
                ml_context.get_admin_context(), inst_id)['share_deleted'])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=delete, args=(i,))
               for i in [share.instance['id']] + others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == [False, False, False, True]
    assert helpers.raw_rows("SELECT id FROM shares WHERE deleted = 'False'") \
        == []


def test_has_access_rules(ctxt, make_share):
    share = make_share()
    inst_id = share.instance['id']
    assert db.share_instance_has_access_rules(ctxt, inst_id) is False
    _access(ctxt, share)
    assert db.share_instance_has_access_rules(ctxt, inst_id) is True
    helpers.raw_execute("UPDATE share_instance_access_map SET deleted = id")
    assert db.share_instance_has_access_rules(ctxt, inst_id) is False


def test_get_can_tell_whether_there_are_access_rules(ctxt, make_share):
    share = make_share()
    inst_id = share.instance['id']
    with helpers.StatementCounter(db.get_engine()) as plain:
        db.share_instance_get(ctxt, inst_id, with_share_data=True)
    with helpers.StatementCounter(db.get_engine()) as counter:
        inst = db.share_instance_get(ctxt, inst_id, with_share_data=True,
                                     check_access_rules=True)
    assert inst.has_access_rules is False
    assert counter.count == plain.count  # answered by the same SELECT
    assert inst['size'] == 1 and inst['share']['instances'][0] is inst
    _access(ctxt, share)
    assert db.share_instance_get(ctxt, inst_id,
                                 check_access_rules=True).has_access_rules
    helpers.raw_execute("UPDATE share_instance_access_map SET deleted = id")
    assert not db.share_instance_get(
        ctxt, inst_id, check_access_rules=True).has_access_rules


def _usages():
    return {(r['user_id'], r['share_type_id'], r['resource']): r['in_use']
            for r in helpers.raw_rows(
                'SELECT user_id, share_type_id, resource, in_use '
                'FROM quota_usages WHERE deleted = 0')}


def _charged(ctxt, share, size):
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 1, 'gigabytes': size}, share['project_id'],
        share['user_id'], share_type_id=share['share_type_id']))


def test_delete_gives_back_the_quota_in_the_same_transaction(ctxt,
                                                             make_share):
    share_type = db.share_type_create(ctxt, {'name': 't1',
                                             'extra_specs': {}})
    share = make_share(status='deleting', size=3,
                       share_type_id=share_type['id'])
    _charged(ctxt, share, 5)
    db.share_update(ctxt, share['id'], {'size': 5})  # an extend meanwhile
    with helpers.StatementCounter(db.get_engine()) as counter:
        result = db.share_instance_delete(ctxt, share.instance['id'],
                                          need_to_update_usages=True)
    assert result['share_deleted'] is True
    assert len([s for s in counter.statements if s.startswith('BEGIN')]) \
        <= 1
    assert _usages() == {
        ('user1', None, 'shares'): 0, ('user1', None, 'gigabytes'): 0,
        (None, share_type['id'], 'shares'): 0,
        (None, share_type['id'], 'gigabytes'): 0}
    spent = helpers.raw_rows('SELECT resource, delta, deleted, id '
                             'FROM reservations WHERE delta < 0')
    assert sorted((r['resource'], r['delta']) for r in spent) == [
        ('gigabytes', -5), ('gigabytes', -5), ('shares', -1), ('shares', -1)]
    assert all(r['deleted'] == r['id'] for r in spent)


def test_delete_of_a_replica_gives_back_replica_quota(ctxt, make_share):
    share = make_share(replica_state='active', size=2)
    other = helpers.add_instance(ctxt, share['id'], status='deleting',
                                 replica_state='in_sync')
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'share_replicas': 2, 'replica_gigabytes': 4, 'shares': 1,
               'gigabytes': 2}, 'proj1', 'user1'))
    db.share_instance_delete(ctxt, other, need_to_update_usages=True)
    assert _usages() == {('user1', None, 'share_replicas'): 1,
                         ('user1', None, 'replica_gigabytes'): 2,
                         ('user1', None, 'shares'): 1,
                         ('user1', None, 'gigabytes'): 2}
    # The last replica gives back the share's own quota too (upstream).
    db.share_instance_delete(ctxt, share.instance['id'],
                             need_to_update_usages=True)
    assert set(_usages().values()) == {0}


def _replicated_charge(ctxt, size):
    db.reservation_commit(ctxt, db.quota_reserve(
        ctxt, {'shares': 1, 'gigabytes': size, 'share_replicas': 1,
               'replica_gigabytes': size}, 'proj1', 'user1'))


def test_delete_of_the_last_replica_gives_back_share_quota_too(ctxt,
                                                               make_share):
    # As upstream's _update_share_instance_usages: no instance remains, so
    # shares/gigabytes go back with share_replicas/replica_gigabytes.
    share = make_share(replica_state='active', size=2, status='deleting')
    _replicated_charge(ctxt, 2)
    result = db.share_instance_delete(ctxt, share.instance['id'],
                                      need_to_update_usages=True)
    assert result['share_deleted'] is True
    assert _usages() == {('user1', None, 'shares'): 0,
                         ('user1', None, 'gigabytes'): 0,
                         ('user1', None, 'share_replicas'): 0,
                         ('user1', None, 'replica_gigabytes'): 0}


def test_deferred_quota_of_a_replica_gives_back_everything(ctxt, make_share):
    share = make_share(replica_state='active', size=3,
                       status='deferred_deleting')
    _replicated_charge(ctxt, 3)
    db.update_share_instance_quota_usages(ctxt, share.instance['id'])
    assert _usages() == {('user1', None, 'shares'): 0,
                         ('user1', None, 'gigabytes'): 0,
                         ('user1', None, 'share_replicas'): 0,
                         ('user1', None, 'replica_gigabytes'): 0}
    # The rows stay: only the quota went back.
    assert db.share_instance_get(ctxt, share.instance['id'])


def test_deferred_quota_of_a_plain_share(ctxt, make_share):
    share = make_share(size=4, status='deferred_deleting')
    _charged(ctxt, share, 4)
    db.update_share_instance_quota_usages(ctxt, share.instance['id'])
    assert _usages() == {('user1', None, 'shares'): 0,
                         ('user1', None, 'gigabytes'): 0}
    with pytest.raises(exception.ShareInstanceNotFound):
        db.update_share_instance_quota_usages(ctxt, 'missing')


def test_delete_without_usages_update_leaves_quota(ctxt, make_share):
    share = make_share(status='deleting')
    _charged(ctxt, share, 1)
    db.share_instance_delete(ctxt, share.instance['id'])
    assert _usages() == {('user1', None, 'shares'): 1,
                         ('user1', None, 'gigabytes'): 1}


def test_failing_quota_release_keeps_the_instance(ctxt, make_share,
                                                  monkeypatch):
    """Deletion and release commit together or not at all."""
    from manila_lite.db.sqlalchemy import quotas
    share = make_share(status='deleting')
    _charged(ctxt, share, 1)

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError('UPDATE quota_usages', {}, None)
    monkeypatch.setattr(quotas, 'release', broken)
    with pytest.raises(sa.exc.OperationalError):
        db.share_instance_delete(ctxt, share.instance['id'],
                                 need_to_update_usages=True)
    assert db.share_instance_get(ctxt, share.instance['id'])['status'] == \
        'deleting'
    assert _usages() == {('user1', None, 'shares'): 1,
                         ('user1', None, 'gigabytes'): 1}


def test_deadlocked_release_runs_again_with_the_deletion(
        ctxt, make_share, monkeypatch, caplog):
    """A deadlock (or Galera certification failure) at the release retries the whole deletion."""
    from manila_lite.db.sqlalchemy import quotas
    from oslo_db import exception as db_exc
    share = make_share(status='deleting', size=2)
    _charged(ctxt, share, 2)
    real, calls = quotas.release, []

    def deadlocking(*args, **kwargs):
        calls.append(1)
        if len(calls) <= 2:
            raise db_exc.DBDeadlock()
        return real(*args, **kwargs)
    monkeypatch.setattr(quotas, 'release', deadlocking)
    caplog.set_level('WARNING')
    result = db.share_instance_delete(ctxt, share.instance['id'],
                                      need_to_update_usages=True)
    assert result['share_deleted'] is True and len(calls) == 3
    assert _usages() == {('user1', None, 'shares'): 0,
                         ('user1', None, 'gigabytes'): 0}
    lines = [r for r in caplog.records if 'share_instance_delete' in
             r.getMessage()]
    assert [r.levelname for r in lines] == ['WARNING', 'WARNING']
    assert not any(r.exc_info for r in caplog.records)
    with pytest.raises(exception.ShareInstanceNotFound):
        db.share_instance_delete(ctxt, share.instance['id'],
                                 need_to_update_usages=True)
    assert _usages()[('user1', None, 'shares')] == 0


def test_deferred_release_happens_once(ctxt, make_share):
    share_type = db.share_type_create(ctxt, {'name': 't1',
                                             'extra_specs': {}})
    share = make_share(status='deferred_deleting', size=3,
                       share_type_id=share_type['id'])
    other = make_share(status='available', size=4,
                       share_type_id=share_type['id'])
    _charged(ctxt, share, 3)
    _charged(ctxt, other, 4)
    first = db.update_share_instance_quota_usages(ctxt, share.instance['id'])
    assert len(first) == 4
    expected = {('user1', None, 'shares'): 1,
                ('user1', None, 'gigabytes'): 4,
                (None, share_type['id'], 'shares'): 1,
                (None, share_type['id'], 'gigabytes'): 4}
    assert _usages() == expected
    # Again (start-up settling an interrupted deferred deletion): no change.
    assert db.update_share_instance_quota_usages(
        ctxt, share.instance['id']) == []
    assert _usages() == expected
    # Another instance's release is its own.
    assert len(db.update_share_instance_quota_usages(
        ctxt, other.instance['id'])) == 4
    assert set(_usages().values()) == {0}
    # The final soft delete of a deferred deletion releases nothing.
    db.share_instance_delete(ctxt, share.instance['id'])
    with pytest.raises(exception.ShareInstanceNotFound):
        db.update_share_instance_quota_usages(ctxt, share.instance['id'])


def test_conditional_update_with_export_locations(ctxt, make_share):
    share = make_share(status='creating')
    inst_id = share.instance['id']
    with helpers.StatementCounter(db.get_engine()) as counter:
        assert db.share_instance_conditional_update(
            ctxt, inst_id, ['creating'], {'status': 'available'},
            export_locations=[{'path': '/a', 'metadata': {'k': 'v'}},
                              '/b']) is True
    assert len([s for s in counter.statements if s.startswith('BEGIN')]) \
        <= 1
    # The UPDATE locked the row: no SELECT ... FOR UPDATE of its own.
    assert not [s for s in counter.statements if 'FOR UPDATE' in s]
    inst = db.share_instance_get(ctxt, inst_id)
    assert inst['status'] == 'available'
    assert [el['path'] for el in inst['export_locations']] == ['/a', '/b']
    assert inst['export_locations'][0]['el_metadata'] == {'k': 'v'}
    # A row that did not move still gets the driver's locations.
    assert db.share_instance_conditional_update(
        ctxt, inst_id, ['creating'], {'status': 'error'},
        export_locations=['/c']) is False
    inst = db.share_instance_get(ctxt, inst_id)
    assert inst['status'] == 'available'
    assert [el['path'] for el in inst['export_locations']] == ['/c']
