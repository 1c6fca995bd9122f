"""SchedulerAPI: the capabilities fanout upstream's scheduler accepts."""

import datetime

from oslo_config import cfg
from oslo_utils import timeutils
import pytest

from manila_lite import context
from manila_lite import rpc
from manila_lite.scheduler import rpcapi

CONF = cfg.CONF
CAPABILITIES = {'share_backend_name': 'DummyBackend', 'pools': [
    {'pool_name': 'p0', 'total_capacity_gb': 10, 'free_capacity_gb': 9,
     'reserved_percentage': 0, 'reserved_snapshot_percentage': 0,
     'reserved_share_extend_percentage': 0}]}


@pytest.fixture
def sent(monkeypatch):
    rpc.cleanup()
    rpc.init(CONF, url='fake://')
    records = []

    def _send(target, ctxt, message, wait_for_reply=None, timeout=None,
              call_monitor_timeout=None, retry=None, transport_options=None):
        records.append((target, ctxt, message, wait_for_reply))

    monkeypatch.setattr(rpc.get_transport(), '_send', _send)
    yield records
    rpc.cleanup()


def test_client_target(sent):
    client = rpcapi.SchedulerAPI().client
    assert client.target.topic == 'manila-scheduler'
    assert client.target.version == '1.11'
    assert client.version_cap == '1.11'


def test_update_service_capabilities_fanout(sent, monkeypatch):
    now = datetime.datetime(2026, 11, 24, 16, 45, 7, 466595)
    monkeypatch.setattr(timeutils, 'utcnow', lambda *a, **k: now)
    ctx = context.get_admin_context()
    rpcapi.SchedulerAPI().update_service_capabilities(
        ctx, 'share', 'hostA@backend1', CAPABILITIES)
    [(target, ctxt, message, wait)] = sent
    assert target.topic == 'manila-scheduler'
    assert target.fanout is True
    assert target.server is None
    assert not wait
    assert message['method'] == 'update_service_capabilities'
    assert message['version'] == '1.10'
    assert message['args'] == {
        'service_name': 'share', 'host': 'hostA@backend1',
        'capabilities': CAPABILITIES,
        'timestamp': '2026-11-24T16:45:07.466595'}
    assert ctxt == dict(ctx.to_dict(), **{rpc.CALLER_MARK: True})


def test_timestamp_format_parses_like_the_scheduler(sent):
    rpcapi.SchedulerAPI().update_service_capabilities(
        context.get_admin_context(), 'share', 'h@b', {})
    stamp = sent[0][2]['args']['timestamp']
    parsed = datetime.datetime.strptime(stamp, '%Y-%m-%dT%H:%M:%S.%f')
    assert abs((timeutils.utcnow() - parsed).total_seconds()) < 60


def test_explicit_timestamp(sent):
    when = datetime.datetime(2026, 1, 2, 3, 4, 5, 6)
    rpcapi.SchedulerAPI().update_service_capabilities(
        context.get_admin_context(), 'share', 'h@b', {}, timestamp=when)
    assert sent[0][2]['args']['timestamp'] == '2026-01-02T03:04:05.000006'
