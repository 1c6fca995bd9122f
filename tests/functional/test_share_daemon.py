"""The real daemon through real RabbitMQ and PostgreSQL: create, delete, restart, driver failure, bad input."""

import re
import uuid

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from manila_lite import context as ml_context
from manila_lite import rpc
from tests.functional import fixtures

pytestmark = pytest.mark.functional


def _create(daemon, *extra, check=True):
    res = daemon.manage('share', 'create', '--size', '1', '--proto', 'NFS',
                        '--host', daemon.pool_host(), '--wait', '60',
                        *extra, check=check)
    match = re.search(r'^id\s+(\S+)', res.stdout, re.M)
    assert match, res.stdout + res.stderr
    return match.group(1), res


def _instance(db, share_id):
    return db.row('SELECT * FROM share_instances WHERE share_id = :s',
                  s=share_id)


def _live_paths(db, instance_id):
    return [r['path'] for r in db.rows(
        'SELECT path FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0 ORDER BY updated_at',
        i=instance_id)]


def test_create_and_delete_through_rabbitmq(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db)
    share_id, res = _create(daemon)
    assert 'status: available' in res.stdout
    inst = _instance(daemon.db, share_id)
    assert inst['status'] == 'available' and inst['progress'] == '100%'
    assert len(_live_paths(daemon.db, inst['id'])) == 3
    svc = daemon.db.row("SELECT * FROM services WHERE host = :h",
                        h=daemon.service_hosts[0])
    assert svc['binary'] == 'manila-share' and svc['topic'] == 'manila-share'
    assert svc['report_count'] > 0

    daemon.manage('share', 'delete', share_id, '--wait', '60')
    gone = _instance(daemon.db, share_id)
    assert gone['deleted'] == gone['id'] and gone['status'] == 'deleted'
    assert daemon.db.scalar('SELECT deleted FROM shares WHERE id = :i',
                            i=share_id) == share_id
    assert _live_paths(daemon.db, inst['id']) == []


def test_data_survives_restart(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db)
    share_id, _res = _create(daemon)
    inst = _instance(daemon.db, share_id)
    uuids = sorted(r['uuid'] for r in daemon.db.rows(
        'SELECT uuid FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0', i=inst['id']))
    service_id = daemon.db.scalar('SELECT id FROM services WHERE host = :h',
                                  h=daemon.service_hosts[0])
    daemon.stop()
    assert daemon.returncode == 0
    assert daemon.db.scalar('SELECT state FROM services WHERE id = :i',
                            i=service_id) == 'stopped'
    daemon.start()
    assert daemon.db.scalar('SELECT id FROM services WHERE host = :h',
                            h=daemon.service_hosts[0]) == service_id
    daemon.wait_for(lambda: _instance(daemon.db, share_id)['status'] ==
                    'available', timeout=30)
    assert sorted(r['uuid'] for r in daemon.db.rows(
        'SELECT uuid FROM share_instance_export_locations WHERE '
        'share_instance_id = :i AND deleted = 0', i=inst['id'])) == uuids
    daemon.manage('share', 'delete', share_id, '--wait', '60')


def test_driver_failure(daemon_factory, fresh_db):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': 'create_share'}})
    share_id, res = _create(daemon, check=False)
    assert res.returncode != 0
    inst = _instance(daemon.db, share_id)
    assert inst['status'] == 'error'
    msgs = daemon.db.rows('SELECT * FROM messages WHERE resource_id = :r',
                          r=share_id)
    assert [(m['action_id'], m['detail_id'], m['resource_type'])
            for m in msgs] == [('002', '001', 'SHARE')]
    assert msgs[0]['request_id'].startswith('req-')
    # The daemon logged the failure as one line carrying the request id.
    lines = [line for line in daemon.log_text().splitlines()
             if 'create_share_instance failed' in line]
    assert len(lines) == 1 and msgs[0]['request_id'] in lines[0], lines


@pytest.fixture
def raw_client(rabbitmq):
    """An oslo.messaging client of our own, bypassing ShareAPI's checks."""
    transport = messaging.get_rpc_transport(cfg.CONF, url=rabbitmq.url)

    def make(server, version='1.0'):
        target = messaging.Target(topic='manila-share', server=server,
                                  version=version)
        return messaging.get_rpc_client(
            transport, target, serializer=rpc.RequestContextSerializer(mark=True))
    yield make
    transport.cleanup()


def _call_error(client, ctx, method, **kwargs):
    with pytest.raises(Exception) as excinfo:
        client.prepare(timeout=30).call(ctx, method, **kwargs)
    return excinfo.value


def test_bad_input_is_answered_and_daemon_keeps_serving(daemon_factory,
                                                        fresh_db,
                                                        raw_client):
    daemon = daemon_factory(fresh_db)
    keeper_id, _res = _create(daemon)
    keeper = _instance(daemon.db, keeper_id)
    server = daemon.service_hosts[0]
    ctx = ml_context.RequestContext(user_id='u1', project_id='p1',
                                    roles=['member'])

    err = _call_error(raw_client(server), ctx, 'no_such_method', x=1)
    assert 'NoSuchMethod' in type(err).__name__ + str(err)
    err = _call_error(raw_client(server, '1.31'), ctx,
                      'create_share_instance', share_instance_id='x')
    assert 'UnsupportedVersion' in type(err).__name__ + str(err)
    err = _call_error(raw_client(server), ctx, 'create_share_instance',
                      share_instance_id=str(uuid.uuid4()))
    assert 'ShareInstanceNotFound' in type(err).__name__ + str(err)
    err = _call_error(raw_client(server), ctx, 'create_share_instance')
    assert 'InvalidInput' in type(err).__name__ + str(err)
    err = _call_error(raw_client(server), ctx, 'delete_share_instance',
                      share_instance_id=['not', 'a', 'string'])
    assert 'InvalidInput' in type(err).__name__ + str(err)
    raw_client(server).cast(ctx, 'create_share_instance',
                            share_instance_id=12345)

    # Still serving: a normal share goes through, the first is untouched.
    second_id, res = _create(daemon)
    assert 'status: available' in res.stdout
    after = _instance(daemon.db, keeper_id)
    assert after['status'] == 'available'
    assert after['updated_at'] == keeper['updated_at']
    assert daemon.running
    log = daemon.log_text()
    assert ctx.request_id in log
    rejected = [line for line in log.splitlines()
                if ctx.request_id in line and ' ERROR ' in line]
    assert len(rejected) == 6, rejected
    fixtures.wait_for(lambda: daemon.running, timeout=1)
