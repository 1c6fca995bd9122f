"""The daemon's timers through real RabbitMQ and PostgreSQL.

Status polls, usage gathering, heartbeat and capability fanout, and stranded-
state reconciliation, each with its failure path.

Each test runs a healthy daemon and, on the same database, one whose dummy
driver fails the method under test (``dummy_driver_fail_methods``); all
periodic spacings are one second, so every wait below is a bounded poll.
"""

import datetime
import threading
import uuid

from oslo_config import cfg
import oslo_messaging as messaging
import pytest

from tests.functional import share_rows

pytestmark = pytest.mark.functional

TIMESTAMP_FORMAT = '%Y-%m-%dT%H:%M:%S.%f'


def _pair(daemon_factory, db_url, fail, options=None):
    """A healthy daemon and one failing ``fail``, started in parallel."""
    good = daemon_factory(db_url, options=options, wait=False)
    bad_options = {'alpha': {'dummy_driver_fail_methods': fail}}
    for section, values in (options or {}).items():
        bad_options.setdefault(section, {}).update(values)
    bad = daemon_factory(db_url, options=bad_options, db_sync=False,
                         wait=False)
    good.wait_ready()
    bad.wait_ready()
    return good, bad


def _age(daemon, instance_id, days=1):
    """Make an instance look untouched for ``days`` (naive UTC, as stored)."""
    then = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            - datetime.timedelta(days=days))
    daemon.db.execute('UPDATE share_instances SET created_at = :t, '
                      'updated_at = :t WHERE id = :i', t=then, i=instance_id)


def _log_count(daemon, text):
    return daemon.log_text().count(text)


class _Recorder:
    """Messages an oslo.messaging listener received, with a bounded wait."""

    def __init__(self):
        self.items = []
        self._cond = threading.Condition()

    def add(self, item):
        with self._cond:
            self.items.append(item)
            self._cond.notify_all()

    def matching(self, predicate):
        with self._cond:
            return [i for i in self.items if predicate(i)]

    def wait(self, predicate, count=1, timeout=30):
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len([i for i in self.items if predicate(i)]) >= count,
                timeout=timeout)
        assert ok, 'fewer than %d matching messages in %r' % (count,
                                                              self.items)
        return self.matching(predicate)


class _SchedulerEndpoint:
    """What upstream's scheduler manager exposes for the capability fanout."""

    target = messaging.Target(version='1.11')

    def __init__(self, recorder):
        self.recorder = recorder

    def update_service_capabilities(self, ctxt, service_name, host,
                                    capabilities, timestamp=None):
        self.recorder.add({'service_name': service_name, 'host': host,
                           'capabilities': capabilities,
                           'timestamp': timestamp})


class _NotificationEndpoint:
    def __init__(self, recorder):
        self.recorder = recorder

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self.recorder.add({'publisher_id': publisher_id,
                           'event_type': event_type, 'payload': payload})


@pytest.fixture
def scheduler_fanout(rabbitmq):
    """A manila-scheduler RPC server on the test broker; yields a recorder."""
    recorder = _Recorder()
    transport = messaging.get_rpc_transport(cfg.CONF, url=rabbitmq.url)
    server = messaging.get_rpc_server(
        transport, messaging.Target(topic='manila-scheduler',
                                    server='ft-sched-%s' % uuid.uuid4().hex),
        [_SchedulerEndpoint(recorder)])
    server.start()
    yield recorder
    server.stop()
    server.wait()
    transport.cleanup()


@pytest.fixture
def notifications(rabbitmq):
    """(topic, recorder): a notification listener on a topic of its own."""
    topic = 'ft_notifications_%s' % uuid.uuid4().hex
    recorder = _Recorder()
    transport = messaging.get_notification_transport(cfg.CONF,
                                                     url=rabbitmq.url)
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=topic)],
        [_NotificationEndpoint(recorder)])
    listener.start()
    yield topic, recorder
    listener.stop()
    listener.wait()
    transport.cleanup()


def test_share_status_update_and_usage_size(daemon_factory, fresh_db,
                                            pg_facade, share_rpc,
                                            notifications):
    topic, recorder = notifications
    options = {
        'DEFAULT': {'enable_gathering_share_usage_size': True,
                    'share_usage_size_update_interval': 1},
        'oslo_messaging_notifications': {'driver': 'messagingv2',
                                         'topics': topic},
        'alpha': {'dummy_driver_share_used_size': 0.25},
    }
    good, bad = _pair(daemon_factory, fresh_db,
                      'get_share_status,update_share_usage_size', options)
    used = {d.host: share_rows.available_share(pg_facade, d, share_rpc,
                                               charge=False)
            for d in (good, bad)}
    polled = {d.host: share_rows.share(pg_facade, d, 'creating_from_snapshot',
                                       charge=False, progress='0%')
              for d in (good, bad)}

    # (a) the driver's answer finishes the asynchronous creation ...
    share_rows.wait_status(good, polled[good.host]['id'], 'available')
    inst = share_rows.instance(good, polled[good.host]['id'])
    assert inst['progress'] == '100%'
    assert share_rows.messages(good, polled[good.host]['id']) == []
    # ... and a raising driver ends it in error with a user message.
    share_rows.wait_status(bad, polled[bad.host]['id'], 'error')
    inst = share_rows.instance(bad, polled[bad.host]['id'])
    assert inst['progress'] is None
    assert share_rows.messages(bad, polled[bad.host]['id']) == [
        ('005', '017', 'SHARE', 'p1')]

    # (b) every second a share.consumed.size notification with the used size
    def consumed(note):
        return (note['event_type'] == 'share.consumed.size' and
                note['payload']['share_id'] == used[good.host]['id'])
    notes = recorder.wait(consumed, count=2)
    assert notes[0]['publisher_id'] == 'share.%s' % good.service_hosts[0]
    payload = notes[0]['payload']
    assert payload['used_size'] == 0.25
    assert payload['host'] == good.pool_host()
    assert payload['gathered_at']
    # The failing driver is logged on every run; the daemon keeps going.
    failure = 'Driver update_share_usage_size failed.'
    bad.wait_for(lambda: _log_count(bad, failure) >= 2,
                 message='two failed usage gatherings')
    assert not recorder.matching(
        lambda n: n['publisher_id'] == 'share.%s' % bad.service_hosts[0])
    beat = bad.heartbeats()[bad.service_hosts[0]]
    bad.wait_for(lambda: bad.heartbeats()[bad.service_hosts[0]] > beat,
                 message='heartbeat after the failures')
    assert share_rows.instance(bad, used[bad.host]['id'])['status'] == (
        'available')


def _service(daemon):
    return daemon.db.row(
        'SELECT id, report_count, updated_at, state FROM services WHERE '
        'host = :h AND deleted = 0', h=daemon.service_hosts[0])


def test_heartbeat_and_capabilities_fanout(daemon_factory, fresh_db,
                                           share_rpc, scheduler_fanout):
    good, bad = _pair(daemon_factory, fresh_db, 'get_share_stats')
    host = good.service_hosts[0]

    def from_good(report):
        return report['host'] == host

    # The report init_host sends, as upstream's scheduler receives it.
    first = scheduler_fanout.wait(from_good)[0]
    assert first['service_name'] == 'share'
    caps = first['capabilities']
    assert caps['share_backend_name'] == 'alpha'
    assert caps['driver_handles_share_servers'] is False
    assert [p['pool_name'] for p in caps['pools']] == ['fake_pool_for_alpha']
    sent = datetime.datetime.strptime(first['timestamp'], TIMESTAMP_FORMAT)

    # Heartbeats of both: report_count grows, updated_at advances.
    for daemon in (good, bad):
        before = _service(daemon)
        daemon.wait_for(lambda: _service(daemon)['report_count'] >=
                        before['report_count'] + 2,
                        message='two more heartbeats')
        after = _service(daemon)
        assert after['updated_at'] > before['updated_at']
        assert after['state'] == 'up'

    # The scheduler's refresh fanout (to every share service) gets a newer
    # report; the daemon that cannot refresh its stats logs one more failure.
    seen = len(scheduler_fanout.matching(from_good))
    refused = 'publish_service_capabilities failed'
    bad.wait_for(lambda: _log_count(bad, refused) == 1,    # by init_host
                 message='the start-up publication failing')
    share_rpc.publish_service_capabilities(share_rows.admin_ctx())
    latest = scheduler_fanout.wait(from_good, count=seen + 1)[-1]
    assert datetime.datetime.strptime(latest['timestamp'],
                                      TIMESTAMP_FORMAT) > sent
    bad.wait_for(lambda: _log_count(bad, refused) == 2,
                 message='the refresh request reaching the failing daemon')

    # The daemon whose driver cannot report stats sends nothing, logs each
    # failure and stays up.
    bad.wait_for(lambda: _log_count(
        bad, 'Error during ShareManager._report_driver_status') >= 2,
        message='two failed stats refreshes')
    assert 'Start-up ensure of' not in bad.log_text()
    assert not scheduler_fanout.matching(
        lambda r: r['host'] == bad.service_hosts[0])

    # A heartbeat that finds its services row deleted registers again.
    old = _service(bad)
    bad.db.execute('UPDATE services SET deleted = id, deleted_at = now() '
                   'WHERE id = :i', i=old['id'])
    bad.wait_for(lambda: (_service(bad) or {}).get('report_count', 0) >= 1,
                 message='a new services row heartbeating')
    assert _service(bad)['id'] != old['id']
    assert 'registering again' in bad.log_text()


def test_reconcile_stranded_instances(daemon_factory, fresh_db, pg_facade):
    options = {'DEFAULT': {'transitional_state_timeout': 600,
                           'transitional_state_check_interval': 1}}
    good, bad = _pair(daemon_factory, fresh_db, 'create_share', options)

    def stranded(daemon, status, days=1):
        row = share_rows.share(pg_facade, daemon, status, charge=False)
        if days:
            _age(daemon, row['instance']['id'], days=days)
        return row['id']

    created = stranded(good, 'creating')
    extending = stranded(good, 'extending')
    fresh = stranded(good, 'creating', days=0)
    failed = stranded(bad, 'creating')

    # Re-driven through the driver: available with export locations.
    share_rows.wait_status(good, created, 'available')
    inst = share_rows.instance(good, created)
    assert good.db.scalar('SELECT count(*) FROM share_instance_export_'
                          'locations WHERE share_instance_id = :i',
                          i=inst['id']) > 0
    assert share_rows.messages(good, created) == []
    # An operation that cannot be re-driven fails with a user message.
    share_rows.wait_status(good, extending, 'extending_error')
    assert share_rows.messages(good, extending) == [
        ('008', '001', 'SHARE', 'p1')]
    # The driver failing the second attempt: error and a user message.
    share_rows.wait_status(bad, failed, 'error')
    assert share_rows.messages(bad, failed) == [('002', '001', 'SHARE', 'p1')]
    assert 'was stranded in creating' in good.log_text()

    # Within the timeout an instance is somebody's work in progress.
    assert share_rows.instance(good, fresh)['status'] == 'creating'


def test_reconciliation_interval_shorter_than_periodic_interval(
        daemon_factory, fresh_db, pg_facade):
    """transitional_state_check_interval takes effect below periodic_interval.

    Check interval 1 s, periodic_interval 60 s: a row stranded after the
    start-up pass is settled long before the next periodic_interval tick.
    """
    options = {'DEFAULT': {'periodic_interval': 60,
                           'transitional_state_timeout': 2,
                           'transitional_state_check_interval': 1}}
    daemon = daemon_factory(fresh_db, options=options)
    row = share_rows.share(pg_facade, daemon, 'extending', charge=False)
    # Bounded poll; a pass on the periodic_interval tick only would come a
    # minute after the start.
    share_rows.wait_status(daemon, row['id'], 'extending_error', timeout=40)
    assert 'was stranded in extending' in daemon.log_text()
