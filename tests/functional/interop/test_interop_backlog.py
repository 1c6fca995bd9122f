"""A daemon stopped past transitional_state_timeout carries out the casts upstream's API queued meanwhile, each once.

Upstream's API queues creates and extends for the stopped daemon; when it
starts again the reconciliation settles none of those rows first, and
none is driven twice (issue 10, item 5). The daemon works through its backlog two requests at a time with a slow
dummy driver, so draining the queue takes longer than the timeout itself:
a rule such as "settle nothing during the first timeout after the start"
would not be enough here.
"""

import time
import uuid

import pytest

pytestmark = [pytest.mark.functional, pytest.mark.interop]

COUNT = 30                  # creates, and as many extends
TIMEOUT = 5                 # transitional_state_timeout of the daemon
OPTIONS = {
    'DEFAULT': {'transitional_state_timeout': TIMEOUT,
                'transitional_state_check_interval': 1,
                'executor_thread_pool_size': 2},
    'oslo_messaging_rabbit': {'rabbit_qos_prefetch_count': 2},
    'alpha': {'dummy_driver_driver_methods_delays':
              'create_share:0.3,extend_share:0.3'},
}
TRANSITIONAL = ('creating', 'extending')


def _send(upstream, daemon, db_url, project, create=0, extend=()):
    args = ['--connection', db_url, '--host', daemon.pool_host(),
            '--create', str(create), '--project-id', project,
            '--state-path', daemon.options['DEFAULT']['state_path'],
            '--lock-path', daemon.options['oslo_concurrency']['lock_path']]
    for share_id in extend:
        args += ['--extend', share_id]
    return upstream('cast_backlog.py', *args)['created']


def _instances(daemon, share_ids):
    return daemon.db.rows(
        "SELECT i.id, i.share_id, i.status, s.size FROM share_instances i "
        "JOIN shares s ON s.id = i.share_id WHERE i.deleted = 'False' "
        "AND i.share_id IN :ids", ids=tuple(share_ids))


def _settled(daemon, share_ids):
    rows = _instances(daemon, share_ids)
    return len(rows) == len(share_ids) and not [
        r for r in rows if r['status'] in TRANSITIONAL]


def test_casts_queued_while_stopped_are_carried_out(upstream, fresh_db,
                                                    daemon_factory):
    upstream('db_sync.py', '--connection', fresh_db)
    daemon = daemon_factory(fresh_db, db_sync=False, options=OPTIONS)
    project = 'backlog-%s' % uuid.uuid4().hex[:8]
    olds = _send(upstream, daemon, fresh_db, project, create=COUNT)
    daemon.wait_for(lambda: _settled(daemon, olds), timeout=120,
                    message='the first %d shares created' % COUNT)

    daemon.stop()
    news = _send(upstream, daemon, fresh_db, project, create=COUNT,
                 extend=olds)
    queued = _instances(daemon, olds + news)
    assert sorted(r['status'] for r in queued) == (
        ['creating'] * COUNT + ['extending'] * COUNT)
    time.sleep(TIMEOUT + 3)     # every queued row is older than the timeout
    log_before = len(daemon.log_text())
    daemon.start()
    daemon.wait_for(lambda: _settled(daemon, olds + news), timeout=180,
                    message='the queued creates and extends carried out')
    log = daemon.log_text()[log_before:]

    rows = {r['share_id']: r for r in _instances(daemon, olds + news)}
    assert {(rows[s]['status'], rows[s]['size']) for s in olds} == {
        ('available', 2)}
    assert {(rows[s]['status'], rows[s]['size']) for s in news} == {
        ('available', 1)}
    # Nothing was settled by the reconciliation; it held those rows back
    # while their messages were still queued.
    assert 'was stranded in' not in log, daemon.diagnostics()
    assert 'stranded rows wait until the messages queued' in log
    # Each operation reached the driver once.
    for share_id in olds:
        assert log.count('Share %s extended to 2 GB.' % share_id) == 1
    for share_id in news:
        assert log.count('Share instance %s created.'
                         % rows[share_id]['id']) == 1
    assert daemon.db.scalar(
        'SELECT count(*) FROM messages WHERE project_id = :p',
        p=project) == 0
    # Quota as upstream's API reserved it and the service committed it.
    usages = {r['resource']: (r['in_use'], r['reserved'])
              for r in daemon.db.rows(
                  'SELECT resource, sum(in_use) AS in_use, '
                  'sum(reserved) AS reserved FROM quota_usages WHERE '
                  'project_id = :p AND share_type_id IS NULL '
                  'GROUP BY resource', p=project)}
    assert usages['shares'] == (2 * COUNT, 0)
    assert usages['gigabytes'] == (3 * COUNT, 0)
