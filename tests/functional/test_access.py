"""Access rules through the real daemon, RabbitMQ and PostgreSQL: allow, deny, driver failure, and rules a crash left applying."""

import re

import pytest

from manila_lite import context as ml_context

pytestmark = pytest.mark.functional


def _ctx():
    return ml_context.RequestContext(user_id='u1', project_id='p1',
                                     roles=['member'])


def _create(daemon):
    res = daemon.manage('share', 'create', '--size', '1', '--proto', 'NFS',
                        '--host', daemon.pool_host(), '--wait', '60')
    match = re.search(r'^id\s+(\S+)', res.stdout, re.M)
    assert match and 'status: available' in res.stdout, res.stdout
    share_id = match.group(1)
    inst = daemon.db.row('SELECT * FROM share_instances WHERE share_id = :s',
                         s=share_id)
    return share_id, inst


def _allow(facade, share_id, inst, to, state='queued_to_apply'):
    """The rows upstream's API writes for allow access (schema.md section 2)."""
    ctx = ml_context.get_admin_context()
    rule = facade.share_access_create(ctx, {
        'share_id': share_id, 'access_type': 'ip', 'access_to': to,
        'access_level': 'rw', 'state': state})
    facade.share_instance_access_rules_status_update(
        ctx, inst['id'], ['active'], 'syncing')
    return rule['id']


def _deny(facade, inst, access_id):
    ctx = ml_context.get_admin_context()
    facade.share_instance_access_update(ctx, access_id, inst['id'],
                                        {'state': 'queued_to_deny'})
    facade.share_instance_access_rules_status_update(
        ctx, inst['id'], ['active'], 'syncing')


def _mapping(daemon, inst, access_id):
    return daemon.db.row(
        'SELECT state, deleted, id FROM share_instance_access_map WHERE '
        'share_instance_id = :i AND access_id = :a', i=inst['id'], a=access_id)


def _rules_status(daemon, inst):
    return daemon.db.scalar(
        'SELECT access_rules_status FROM share_instances WHERE id = :i',
        i=inst['id'])


def _wait_state(daemon, inst, access_id, state, timeout=30):
    daemon.wait_for(lambda: (_mapping(daemon, inst, access_id) or {}).get(
        'state') == state, timeout=timeout,
        message='access rule %s %s' % (access_id, state))


def test_allow_deny_and_restart(daemon_factory, fresh_db, pg_facade,
                                share_rpc):
    daemon = daemon_factory(fresh_db)
    share_id, inst = _create(daemon)

    # allow: queued_to_apply + syncing, then the cast upstream's API sends
    first = _allow(pg_facade, share_id, inst, '10.0.0.0/24')
    assert _rules_status(daemon, inst) == 'syncing'
    share_rpc.update_access(_ctx(), inst)
    _wait_state(daemon, inst, first, 'active')
    daemon.wait_for(lambda: _rules_status(daemon, inst) == 'active',
                    message='access_rules_status active')
    assert daemon.db.scalar('SELECT deleted FROM share_access_map '
                            'WHERE id = :i', i=first) == 'False'

    # deny: queued_to_deny + syncing → the mapping and the rule soft-deleted
    _deny(pg_facade, inst, first)
    share_rpc.update_access(_ctx(), inst)
    _wait_state(daemon, inst, first, 'deleted')
    mapping = _mapping(daemon, inst, first)
    assert mapping['deleted'] == mapping['id']
    assert daemon.db.scalar('SELECT deleted FROM share_access_map '
                            'WHERE id = :i', i=first) == first
    daemon.wait_for(lambda: _rules_status(daemon, inst) == 'active',
                    message='access_rules_status active after deny')

    # A crash in the middle of a driver call leaves a rule 'applying' and the
    # instance 'syncing'; after the restart the rule is sent again.
    daemon.stop()
    crashed = _allow(pg_facade, share_id, inst, '10.0.1.0/24',
                     state='applying')
    daemon.start()
    _wait_state(daemon, inst, crashed, 'active')
    daemon.wait_for(lambda: _rules_status(daemon, inst) == 'active',
                    message='access_rules_status active after restart')
    log = daemon.log_text()
    assert 'Access rules of share instance %s are in sync' % inst['id'] in log

    # delete denies the remaining rule through the same flow
    daemon.manage('share', 'delete', share_id, '--wait', '60')
    mapping = _mapping(daemon, inst, crashed)
    assert (mapping['state'], mapping['deleted']) == ('deleted',
                                                      mapping['id'])


def test_driver_failure(daemon_factory, fresh_db, pg_facade, share_rpc):
    daemon = daemon_factory(fresh_db, options={
        'alpha': {'dummy_driver_fail_methods': 'update_access'}})
    share_id, inst = _create(daemon)
    access_id = _allow(pg_facade, share_id, inst, '10.0.0.1')
    share_rpc.update_access(_ctx(), inst)
    _wait_state(daemon, inst, access_id, 'error')
    daemon.wait_for(lambda: _rules_status(daemon, inst) == 'error',
                    message='access_rules_status error')
    msgs = daemon.wait_for(lambda: daemon.db.rows(
        'SELECT * FROM messages WHERE resource_id = :r', r=share_id),
        message='user message')
    project = daemon.db.scalar('SELECT project_id FROM shares WHERE id = :i',
                               i=share_id)
    assert [(m['action_id'], m['detail_id'], m['resource_type'],
             m['project_id']) for m in msgs] == [('010', '001', 'SHARE',
                                                  project)]
    lines = [line for line in daemon.log_text().splitlines()
             if 'update_access failed (request' in line]
    assert len(lines) == 1 and msgs[0]['request_id'] in lines[0], lines
    assert daemon.db.scalar('SELECT status FROM share_instances WHERE '
                            'id = :i', i=inst['id']) == 'available'
