"""The daemon's timers through real RabbitMQ and PostgreSQL.

Status polls, usage gathering, heartbeat and capability fanout, stranded-
state reconciliation, recycle-bin and transfer expiry, each with its
failure path.

Each test runs a healthy daemon and, on the same database, one whose dummy
driver fails the method under test (``dummy_driver_fail_methods``); all
periodic spacings are one second, so every wait below is a bounded poll.
"""

import datetime
import uuid

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
        lambda n: n['publisher_id'] == 'share.%s' % bad.service_hosts[0] and
        n['event_type'] == 'share.consumed.size')
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


def _bin(pg, daemon, size, minutes=1):
    """An available share of ``daemon`` (quota charged) put in the recycle bin, expired ``minutes`` ago."""
    row = share_rows.share(pg, daemon, 'available', size=size)
    when = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
            - datetime.timedelta(minutes=minutes))
    pg.share_update(share_rows.admin_ctx(), row['id'], {
        'is_soft_deleted': True, 'scheduled_to_be_deleted_at': when})
    return row['id']


def _transfer(daemon, share_id, seconds_ago=1):
    daemon.db.execute(
        "INSERT INTO transfers (id, deleted, resource_type, resource_id, "
        "display_name, expires_at, source_project_id, created_at) VALUES "
        "(:i, 'False', 'share', :s, 't', now() - make_interval(secs => :a), "
        "'p1', now())", i=str(uuid.uuid4()), s=share_id, a=seconds_ago)


def _live_transfers(daemon, share_id):
    return daemon.db.scalar("SELECT count(*) FROM transfers WHERE "
                            "resource_id = :s AND deleted = 'False'",
                            s=share_id)


def test_expired_shares_and_transfers(daemon_factory, fresh_db, pg_facade,
                                      notifications):
    topic, recorder = notifications
    options = {
        'DEFAULT': {'check_for_expired_shares_in_recycle_bin_interval': 1,
                    'check_for_expired_transfers': 1},
        'oslo_messaging_notifications': {'driver': 'messagingv2',
                                         'topics': topic},
    }
    good, bad = _pair(daemon_factory, fresh_db, 'delete_share', options)
    expired = {good.host: _bin(pg_facade, good, 2),
               bad.host: _bin(pg_facade, bad, 1)}
    waiting = _bin(pg_facade, good, 1, minutes=-60)

    # The recycle bin's expired share is deleted through its host, quota
    # given back (the failing daemon's share keeps its charge) ...
    good.wait_for(lambda: share_rows.instance(
        good, expired[good.host]) is None, message='expired share deleted')
    assert share_rows.share_row(good, expired[good.host])['deleted'] != \
        'False'
    # ... and one its driver fails to delete ends error_deleting with a
    # user message (on the instance, as upstream), then is deleted again
    # by the next runs.
    failing = share_rows.instance(bad, expired[bad.host])['id']
    bad.wait_for(lambda: len(share_rows.messages(bad, failing)) >= 2,
                 message='two failed deletions')
    assert set(share_rows.messages(bad, failing)) == {
        ('007', '001', 'SHARE', 'p1')}
    again = 'prior deletion attempt failed; deleting it again'
    good.wait_for(lambda: again in good.log_text() + bad.log_text(),
                  message='the retry of an error_deleting share')
    assert share_rows.usage(pg_facade, 'shares') == (2, 0)   # + waiting
    assert share_rows.usage(pg_facade, 'gigabytes') == (2, 0)
    assert share_rows.instance(good, waiting)['status'] == 'available'

    # An expired transfer gives its share back, with upstream's
    # notifications; a not yet expired one stays.
    given = share_rows.share(pg_facade, good, 'awaiting_transfer',
                             charge=False)['id']
    kept = share_rows.share(pg_facade, good, 'awaiting_transfer',
                            charge=False)['id']
    _transfer(good, given)
    _transfer(good, kept, seconds_ago=-3600)
    share_rows.wait_status(good, given, 'available')
    good.wait_for(lambda: _live_transfers(good, given) == 0,
                  message='expired transfer deleted')
    notes = recorder.wait(lambda n: n['payload']['share_id'] == given,
                          count=2)
    assert [n['event_type'] for n in notes] == [
        'share.transfer.delete.start', 'share.transfer.delete.end']
    assert notes[0]['publisher_id'] in ('share.%s' % good.host,
                                        'share.%s' % bad.host)
    assert share_rows.instance(good, kept)['status'] == 'awaiting_transfer'
    assert _live_transfers(good, kept) == 1
    # A transfer whose share moved on is deleted alone.
    moved = share_rows.share(pg_facade, good, 'error', charge=False)['id']
    _transfer(good, moved)
    good.wait_for(lambda: _live_transfers(good, moved) == 0,
                  message='transfer of a moved share deleted')
    assert share_rows.instance(good, moved)['status'] == 'error'
    assert good.running and bad.running


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
