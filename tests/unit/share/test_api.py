"""share/api.py writes share rows the way manila-api does and casts to the backend (real SQLite facade)."""

from oslo_config import cfg
import pytest
import sqlalchemy as sa

from manila_lite import context
from manila_lite import exception
from manila_lite import rpc
from manila_lite.share import api as share_api

CONF = cfg.CONF
HOST = 'hostA@alpha#pool0'


@pytest.fixture
def sent(monkeypatch):
    rpc.cleanup()
    rpc.init(CONF, url='fake://')
    records = []

    def _send(target, ctxt, message, wait_for_reply=None, timeout=None,
              call_monitor_timeout=None, retry=None, transport_options=None):
        records.append((target, message))

    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    yield records
    rpc.cleanup()


@pytest.fixture
def ctx():
    return context.RequestContext(user_id='u1', project_id='p1',
                                  is_admin=True, roles=['admin'],
                                  request_id='req-test')


def _rows(sql, **params):
    from manila_lite.db.sqlalchemy import engine
    with engine.get_engine().connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def test_share_attributes_from_type():
    attrs = share_api.share_attributes_from_type({'extra_specs': {
        'snapshot_support': '<is> True', 'mount_snapshot_support': 'false',
        'replication_type': 'dr'}})
    assert attrs == {
        'snapshot_support': True,
        'create_share_from_snapshot_support': False,
        'revert_to_snapshot_support': False,
        'mount_snapshot_support': False,
        'snapshot_inherit_share_access_support': False,
        'replication_type': 'dr',
    }
    with pytest.raises(exception.InvalidInput):
        share_api.share_attributes_from_type(
            {'extra_specs': {'snapshot_support': 'maybe'}})


def test_create_writes_rows_and_casts(db, sent, ctx):
    share = share_api.API().create(ctx, 2, 'NFS', HOST, name='s1',
                                   description='d1')
    instance = share['instance']
    assert share['size'] == 2
    assert share['share_proto'] == 'NFS'
    assert share['display_name'] == 's1'
    assert share['display_description'] == 'd1'
    assert share['project_id'] == 'p1' and share['user_id'] == 'u1'
    assert share['is_public'] is False
    assert share['snapshot_support'] is False
    assert instance['status'] == 'creating'
    assert instance['host'] == HOST
    assert instance['scheduled_at'] is not None
    assert instance['cast_rules_to_readonly'] is False

    share_type = db.share_type_get_by_name(ctx, 'default')
    assert instance['share_type_id'] == share_type['id']
    specs = share_api._extra_specs(share_type)
    assert specs['driver_handles_share_servers'] == 'False'

    [(target, message)] = sent
    assert target.server == 'hostA@alpha'
    assert message['method'] == 'create_share_instance'
    assert message['version'] == '1.4'
    assert message['args']['share_instance_id'] == instance['id']
    assert message['args']['snapshot_id'] is None
    assert message['args']['filter_properties'] == {'scheduler_hints': None}
    spec = message['args']['request_spec']
    assert spec['share_id'] == share['id']
    assert spec['share_instance_properties']['host'] == HOST
    assert spec['share_type']['name'] == 'default'


def test_create_commits_quota(db, sent, ctx):
    share_api.API().create(ctx, 3, 'NFS', HOST)
    usages = _rows("SELECT resource, in_use, reserved FROM quota_usages "
                   "WHERE project_id = 'p1' AND user_id = 'u1' "
                   "AND deleted = 0")
    by_resource = {u['resource']: u for u in usages}
    assert by_resource['shares']['in_use'] == 1
    assert by_resource['gigabytes']['in_use'] == 3
    assert by_resource['shares']['reserved'] == 0
    assert by_resource['gigabytes']['reserved'] == 0
    live = _rows("SELECT id FROM reservations WHERE deleted = 0")
    assert live == []


def test_default_type_is_created_once(db, sent, ctx):
    api = share_api.API()
    first = api.create(ctx, 1, 'NFS', HOST)
    second = api.create(ctx, 1, 'CIFS', HOST)
    assert (first['instance']['share_type_id'] ==
            second['instance']['share_type_id'])
    assert len(api.get_all(ctx)) == 2


def test_unknown_named_type_is_not_created(db, sent, ctx):
    with pytest.raises(exception.ShareTypeNotFound):
        share_api.API().create(ctx, 1, 'NFS', HOST, share_type_name='gold')
    assert sent == []


@pytest.mark.parametrize('size, proto, host, error', [
    (0, 'NFS', HOST, exception.InvalidInput),
    ('x', 'NFS', HOST, exception.InvalidInput),
    (1, 'NOPE', HOST, exception.InvalidInput),
    (1, 'NFS', 'hostonly', exception.InvalidHost),
    (1, 'NFS', '', exception.InvalidHost),
])
def test_create_rejects_bad_input(db, sent, ctx, size, proto, host, error):
    with pytest.raises(error):
        share_api.API().create(ctx, size, proto, host)
    assert sent == []


def test_delete_marks_deleting_and_casts(db, sent, ctx):
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    db.share_instance_update(ctx, share['instance']['id'],
                             {'status': 'available'})
    del sent[:]
    api.delete(ctx, share['id'])
    instance = api.get(ctx, share['id'])['instance']
    assert instance['status'] == 'deleting'
    assert instance['terminated_at'] is not None
    [(target, message)] = sent
    assert target.server == 'hostA@alpha'
    assert message['method'] == 'delete_share_instance'
    assert message['version'] == '1.27'
    assert message['args'] == {'share_instance_id': instance['id'],
                               'force': False, 'deferred_delete': False}


def _register_service(db, ctx, host='hostA@alpha'):
    db.service_create(ctx, {'host': host, 'binary': 'manila-share',
                            'topic': 'manila-share', 'report_count': 0,
                            'state': 'up'})


def test_delete_needs_force_while_creating(db, sent, ctx):
    _register_service(db, ctx)
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    del sent[:]
    with pytest.raises(exception.InvalidShare):
        api.delete(ctx, share['id'])
    assert sent == []
    api.delete(ctx, share['id'], force=True)
    assert sent[0][1]['args']['force'] is True


def test_get_unknown_share(db, ctx):
    with pytest.raises(exception.ShareNotFound):
        share_api.API().get(ctx, 'no-such-share')


def _in_use(resource):
    rows = _rows("SELECT in_use FROM quota_usages WHERE project_id = 'p1' "
                 "AND user_id = 'u1' AND resource = :r AND deleted = 0",
                 r=resource)
    return rows[0]['in_use']


def test_force_delete_without_a_share_service_removes_the_rows(
        db, sent, ctx):
    # The share went to a host where no share service ever registered
    # (a typo): nothing was created, nothing would answer a cast.
    api = share_api.API()
    share = api.create(ctx, 2, 'NFS', 'hostA@nosuch#pool0')
    del sent[:]
    with pytest.raises(exception.InvalidShare):
        api.delete(ctx, share['id'])
    api.delete(ctx, share['id'], force=True)
    assert sent == []
    with pytest.raises(exception.ShareNotFound):
        api.get(ctx, share['id'])
    assert _in_use('shares') == 0 and _in_use('gigabytes') == 0


def test_force_delete_with_a_registered_service_casts(db, sent, ctx):
    _register_service(db, ctx)
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    del sent[:]
    api.delete(ctx, share['id'], force=True)
    assert [m['method'] for _t, m in sent] == ['delete_share_instance']
    assert api.get(ctx, share['id'])['instance']['status'] == 'deleting'


@pytest.mark.parametrize('status', sorted(share_api.RESETTABLE_STATUSES))
def test_reset_status(db, sent, ctx, status):
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    del sent[:]
    assert api.reset_status(ctx, share['id'], status)['instance'][
        'status'] == status
    assert sent == []


def test_reset_status_refuses_other_statuses(db, sent, ctx):
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    with pytest.raises(exception.InvalidInput):
        api.reset_status(ctx, share['id'], 'extending')
    assert api.get(ctx, share['id'])['instance']['status'] == 'creating'


@pytest.fixture
def undeliverable(monkeypatch):
    """A transport whose sends fail as a cast does when the broker stays unreachable past its retries."""
    import oslo_messaging as messaging
    rpc.cleanup()
    rpc.init(CONF, url='fake://')

    def _send(*args, **kwargs):
        raise messaging.MessageDeliveryFailure('Unable to connect to AMQP '
                                               'server after 2 tries')
    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    yield
    rpc.cleanup()


def test_create_with_the_broker_unreachable_leaves_an_error_share(
        db, undeliverable, ctx):
    with pytest.raises(exception.BrokerUnavailable) as info:
        share_api.API().create(ctx, 1, 'NFS', HOST)
    assert 'after 2 tries' in str(info.value)
    rows = _rows("SELECT status FROM share_instances WHERE deleted = 'False'")
    assert [r['status'] for r in rows] == ['error'], rows
    assert 'is now error' in str(info.value)


def test_delete_with_the_broker_unreachable_ends_in_error_deleting(
        db, sent, ctx, monkeypatch):
    import oslo_messaging as messaging
    _register_service(db, ctx)
    api = share_api.API()
    share = api.create(ctx, 1, 'NFS', HOST)
    api.reset_status(ctx, share['id'], 'available')

    def _send(*args, **kwargs):
        raise messaging.MessageDeliveryFailure('no broker')
    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    with pytest.raises(exception.BrokerUnavailable):
        api.delete(ctx, share['id'])
    assert api.get(ctx, share['id'])['instance']['status'] == \
        'error_deleting'
