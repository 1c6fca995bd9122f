"""services and availability_zones: registration, the atomic heartbeat, cleanup."""

import datetime

from oslo_config import cfg
import pytest

from manila_lite.db import api as db
from manila_lite import exception
from tests.unit.db import helpers

CONF = cfg.CONF


def _service(ctxt, host='hostA@alpha', **values):
    base = {'host': host, 'binary': 'manila-share', 'topic': 'manila-share',
            'state': 'up', 'availability_zone': 'nova'}
    base.update(values)
    return db.service_create(ctxt, base)


def test_create_translates_and_creates_az(ctxt):
    svc = _service(ctxt)
    assert svc['availability_zone']['name'] == 'nova'
    azs = helpers.raw_rows('SELECT id, name, deleted FROM availability_zones')
    assert azs == [{'id': svc['availability_zone_id'], 'name': 'nova',
                    'deleted': 'False'}]
    _service(ctxt, host='hostB@alpha')
    assert len(helpers.raw_rows('SELECT id FROM availability_zones')) == 1


def test_create_disabled_when_new_services_disabled(ctxt):
    CONF.set_override('enable_new_services', False)
    try:
        assert _service(ctxt)['disabled'] is True
    finally:
        CONF.clear_override('enable_new_services')


def test_get_by_args(ctxt):
    svc = _service(ctxt)
    found = db.service_get_by_args(ctxt, 'hostA@alpha', 'manila-share')
    assert found['id'] == svc['id']
    with pytest.raises(exception.ServiceNotFound) as info:
        db.service_get_by_args(ctxt, 'hostZ@alpha', 'manila-share')
    assert 'hostZ@alpha' in str(info.value)


def test_get_by_args_ignores_deleted_rows(ctxt):
    svc = _service(ctxt)
    helpers.raw_execute('UPDATE services SET deleted = id WHERE id = :i',
                        i=svc['id'])
    with pytest.raises(exception.ServiceNotFound):
        db.service_get_by_args(ctxt, 'hostA@alpha', 'manila-share')


def test_update_translates_az(ctxt):
    svc = _service(ctxt)
    updated = db.service_update(ctxt, svc['id'],
                                {'availability_zone': 'zone-b',
                                 'state': 'down'})
    assert updated['availability_zone']['name'] == 'zone-b'
    assert updated['state'] == 'down'
    assert db.service_get(ctxt, svc['id'])['availability_zone_id'] == (
        updated['availability_zone_id'])


def test_heartbeat_is_one_update(ctxt):
    svc = _service(ctxt, state='down', report_count=5)
    with helpers.StatementCounter(db.get_engine()) as counter:
        db.service_report_heartbeat(ctxt, svc['id'])
    updates = [s for s in counter.statements if s.startswith('UPDATE')]
    assert len(updates) == 1
    assert not [s for s in counter.statements if s.startswith('SELECT')]
    row = db.service_get(ctxt, svc['id'])
    assert row['report_count'] == 6
    assert row['state'] == 'up'
    assert row['updated_at'] is not None


def _beat_after(ctxt, state, seconds_ago):
    """State the heartbeat writes over a row last beaten ``seconds_ago`` in ``state``."""
    svc = _service(ctxt, host='h-%s-%s@a' % (state, seconds_ago))
    then = datetime.datetime.utcnow() - datetime.timedelta(
        seconds=seconds_ago)
    helpers.raw_execute('UPDATE services SET state = :s, updated_at = :t '
                        'WHERE id = :i', s=state, t=then, i=svc['id'])
    db.service_report_heartbeat(ctxt, svc['id'])
    return db.service_get(ctxt, svc['id'])['state']


@pytest.mark.parametrize('state, seconds_ago, expected', [
    # Upstream's report_state: 'up' when the previous beat is within
    # service_down_time (60 s by default), whatever the state was ...
    ('down', 5, 'up'), ('stopped', 5, 'up'), ('up', 5, 'up'),
    # ... else 'down', except that a stopped row stays 'stopped'.
    ('up', 600, 'down'), ('down', 600, 'down'), ('stopped', 600, 'stopped'),
])
def test_heartbeat_state_follows_upstream(ctxt, state, seconds_ago,
                                          expected):
    assert _beat_after(ctxt, state, seconds_ago) == expected


def test_heartbeat_state_from_a_clock_ahead_is_down(ctxt):
    # Upstream compares abs(now - last beat) with service_down_time.
    assert _beat_after(ctxt, 'up', -600) == 'down'


def test_heartbeat_changes_az(ctxt):
    svc = _service(ctxt)
    db.service_report_heartbeat(ctxt, svc['id'], availability_zone='zone-c')
    assert db.service_get(ctxt, svc['id'])['availability_zone']['name'] == (
        'zone-c')


def test_heartbeat_of_missing_service(ctxt):
    with pytest.raises(exception.ServiceNotFound):
        db.service_report_heartbeat(ctxt, 12345)


def test_get_all_is_detached_and_eager(ctxt):
    _service(ctxt)
    _service(ctxt, host='hostB@beta', topic='other')
    services = db.service_get_all(ctxt, topic='manila-share')
    assert [s['host'] for s in services] == ['hostA@alpha']
    assert services[0].availability_zone['name'] == 'nova'
    assert len(db.service_get_all(ctxt)) == 2


def test_soft_delete_stopped(ctxt):
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=2)
    stopped_old = _service(ctxt, host='h1@a', state='stopped')
    stopped_new = _service(ctxt, host='h2@a', state='stopped')
    up_old = _service(ctxt, host='h3@a', state='up')
    other_topic = _service(ctxt, host='h4@a', state='stopped', topic='x')
    for svc in (stopped_old, up_old, other_topic):
        helpers.raw_execute('UPDATE services SET updated_at = :t '
                            'WHERE id = :i', t=old, i=svc['id'])
    assert db.service_soft_delete_stopped(ctxt, 'manila-share') == 1
    rows = {r['host']: r['deleted'] for r in
            helpers.raw_rows('SELECT host, deleted FROM services')}
    assert rows == {'h1@a': stopped_old['id'], 'h2@a': 0, 'h3@a': 0,
                    'h4@a': 0}
    assert stopped_new['id']


def test_soft_delete_stopped_host_prefix(ctxt):
    old = datetime.datetime.utcnow() - datetime.timedelta(hours=2)
    a = _service(ctxt, host='hostA@x', state='stopped')
    b = _service(ctxt, host='hostB@x', state='stopped')
    helpers.raw_execute('UPDATE services SET updated_at = :t', t=old)
    assert db.service_soft_delete_stopped(ctxt, 'manila-share',
                                          host_prefix='hostB') == 1
    assert db.service_get(ctxt, a['id'])['deleted'] == 0
    with pytest.raises(exception.ServiceNotFound):
        db.service_get(ctxt, b['id'])


def test_availability_zone_get_or_create(ctxt):
    zone = db.availability_zone_get_or_create(ctxt, 'zone-z')
    again = db.availability_zone_get_or_create(ctxt, 'zone-z')
    assert zone['id'] == again['id']
    by_id = db.availability_zone_get_or_create(ctxt, zone['id'])
    assert by_id['name'] == 'zone-z'


def test_availability_zone_creation_race(ctxt, monkeypatch):
    """A zone created concurrently (duplicate name) is read back, not an error."""
    from manila_lite.db.sqlalchemy import services
    existing = db.availability_zone_get_or_create(ctxt, 'zone-race')
    real_get = services._az_get
    calls = []

    def miss_once(session, context, id_or_name, read_deleted=None):
        calls.append(id_or_name)
        if len(calls) == 1:
            raise exception.AvailabilityZoneNotFound(id=id_or_name)
        return real_get(session, context, id_or_name, read_deleted)

    monkeypatch.setattr(services, '_az_get', miss_once)
    svc = _service(ctxt, availability_zone='zone-race')
    assert svc['availability_zone_id'] == existing['id']
    assert len(calls) == 2
    assert len(helpers.raw_rows("SELECT id FROM availability_zones "
                                "WHERE name = 'zone-race'")) == 1
