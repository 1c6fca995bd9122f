"""rpc.py: context serializer wire compatibility and a real server/client pair on the fake transport."""

import datetime
import logging
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_serialization import jsonutils
import pytest

from manila_lite import context
from manila_lite import exception
from manila_lite import rpc

CONF = cfg.CONF

# A context dict exactly as upstream manila 23 serializes it (rpc.md 1.4).
UPSTREAM_CONTEXT = {
    'user': 'u1',
    'user_id': 'u1',
    'project_id': 'p1',
    'project': 'p1',
    'project_name': 'demo',
    'domain': None,
    'domain_id': None,
    'user_domain': None,
    'project_domain': None,
    'system_scope': None,
    'is_admin': False,
    'is_admin_project': True,
    'read_only': False,
    'show_deleted': False,
    'read_deleted': 'no',
    'auth_token': 'tok',
    'request_id': 'req-0c6a3d2e-52b4-4b0b-9f7c-2a0a0e6e8f11',
    'global_request_id': None,
    'resource_uuid': None,
    'roles': ['member', 'reader'],
    'user_identity': 'u1 p1 - - -',
    'remote_address': '10.0.0.1',
    'timestamp': '2026-11-24T16:42:59.574056',
    'quota_class': None,
    'service_catalog': [],
}


@pytest.fixture(scope='module')
def transport():
    """One fake transport (and server below) for the module.

    Stopping a server costs a second.
    """
    rpc.cleanup()
    rpc.init(CONF, url='fake://')
    yield rpc.get_transport()
    rpc.cleanup()


@pytest.fixture
def fresh_rpc(monkeypatch):
    """Run a test on empty rpc globals, restoring the module's afterwards."""
    for name in ('TRANSPORT', 'NOTIFICATION_TRANSPORT', 'NOTIFIER'):
        monkeypatch.setattr(rpc, name, None)


def test_get_transport_before_init_fails(fresh_rpc):
    with pytest.raises(rpc.NotInitialized):
        rpc.get_transport()
    with pytest.raises(rpc.NotInitialized):
        rpc.get_client(messaging.Target(topic='t'))
    assert not rpc.initialized()


def test_init_is_idempotent_and_cleanup_resets(fresh_rpc):
    transport = rpc.init(CONF, url='fake://')
    assert rpc.init(CONF, url='fake://') is transport
    assert 'manila_lite.exception' in rpc.get_allowed_exmods()
    rpc.cleanup()
    assert not rpc.initialized()
    rpc.cleanup()       # a second cleanup is harmless


def test_control_exchange_is_oslo_default(transport):
    assert CONF.control_exchange == 'openstack'


def test_deserialize_upstream_context():
    ctx = rpc.RequestContextSerializer().deserialize_context(
        dict(UPSTREAM_CONTEXT))
    assert isinstance(ctx, context.RequestContext)
    assert ctx.user_id == 'u1'
    assert ctx.project_id == 'p1'
    assert ctx.is_admin is False
    assert ctx.read_deleted == 'no'
    assert ctx.request_id == UPSTREAM_CONTEXT['request_id']
    assert ctx.roles == ['member', 'reader']
    assert ctx.remote_address == '10.0.0.1'
    assert ctx.timestamp == datetime.datetime(2026, 11, 24, 16, 42, 59,
                                              574056)


def test_context_round_trip_has_upstream_key_set():
    serializer = rpc.RequestContextSerializer()
    ctx = serializer.deserialize_context(dict(UPSTREAM_CONTEXT))
    wire = serializer.serialize_context(ctx)
    assert set(UPSTREAM_CONTEXT) <= set(wire)
    for key in ('user', 'user_id', 'project', 'project_id', 'is_admin',
                'read_deleted', 'request_id', 'roles', 'remote_address',
                'timestamp', 'quota_class', 'service_catalog', 'auth_token',
                'user_identity', 'project_name'):
        assert wire[key] == UPSTREAM_CONTEXT[key], key
    again = serializer.deserialize_context(wire)
    assert again.to_dict() == wire


def test_trace_info_is_ignored():
    values = dict(UPSTREAM_CONTEXT, trace_info={'hmac_key': 'k',
                                                'base_id': 'b',
                                                'parent_id': 'p'})
    ctx = rpc.RequestContextSerializer().deserialize_context(values)
    assert ctx.user_id == 'u1'


@pytest.mark.parametrize('bad', [
    'not-a-dict',
    dict(UPSTREAM_CONTEXT, read_deleted='sometimes'),
    dict(UPSTREAM_CONTEXT, timestamp='yesterday'),
])
def test_malformed_context_is_an_expected_invalid_input(bad):
    with pytest.raises(messaging.ExpectedException) as info:
        rpc.RequestContextSerializer().deserialize_context(bad)
    error = info.value.exc_info[1]
    assert isinstance(error, exception.InvalidInput)
    assert 'malformed request context' in str(error)


def test_entities_pass_unchanged():
    serializer = rpc.RequestContextSerializer()
    value = {'when': datetime.datetime(2026, 1, 1), 'n': [1, 2]}
    assert serializer.serialize_entity(None, value) is value
    assert serializer.deserialize_entity(None, value) is value


class Endpoint:
    target = messaging.Target(version='1.30')

    def __init__(self):
        self.seen = []
        self.cast_done = threading.Event()

    def echo(self, ctxt, value):
        self.seen.append(value)
        return {'value': value, 'user_id': ctxt.user_id,
                'request_id': ctxt.request_id,
                'is_admin': ctxt.is_admin}

    def remember(self, ctxt, value):
        self.seen.append(value)
        self.cast_done.set()

    def fail(self, ctxt):
        raise exception.ShareNotFound(share_id='S1')

    def fail_expected(self, ctxt):
        """As the manager's guard raises: logged already, no traceback."""
        try:
            raise exception.InvalidShare(reason='not migrating')
        except exception.InvalidShare:
            raise messaging.ExpectedException()

    def _private(self, ctxt):
        return 'secret'


@pytest.fixture(scope='module')
def running_server(transport):
    endpoint = Endpoint()
    target = messaging.Target(topic='manila-share', server='hostA@b1')
    srv = rpc.get_server(target, [endpoint])
    srv.start()
    yield endpoint
    srv.stop()
    srv.wait()


@pytest.fixture
def server(running_server):
    running_server.seen = []
    running_server.cast_done.clear()
    return running_server


def _client(version='1.0', cap=None):
    target = messaging.Target(topic='manila-share', server='hostA@b1',
                              version=version)
    return rpc.get_client(target, version_cap=cap).prepare(timeout=10)


def _send_raw(transport, ctxt, method, version='1.0', **kwargs):
    """Send a call with an arbitrary (possibly malformed) context dict."""
    target = messaging.Target(topic='manila-share', server='hostA@b1')
    message = {'method': method, 'args': kwargs, 'version': version}
    return transport._send(target, ctxt, message, wait_for_reply=True,
                           timeout=10)


def test_server_uses_threading_executor_and_default_policy(server,
                                                           transport):
    srv = rpc.get_server(messaging.Target(topic='t', server='s'), [server])
    assert srv.executor_type == 'threading'
    assert isinstance(srv.dispatcher.access_policy,
                      messaging.rpc.dispatcher.DefaultRPCAccessPolicy)


def test_call_round_trip(server):
    ctx = context.RequestContext(user_id='u1', project_id='p1',
                                 request_id='req-abc')
    result = _client().call(ctx, 'echo', value=42)
    assert result == {'value': 42, 'user_id': 'u1', 'request_id': 'req-abc',
                      'is_admin': False}


def test_cast_is_delivered(server):
    _client().cast(context.get_admin_context(), 'remember', value='x')
    assert server.cast_done.wait(10)
    assert server.seen == ['x']


def test_upstream_context_dict_is_accepted(server, transport):
    result = _send_raw(transport, dict(UPSTREAM_CONTEXT), 'echo', value=1)
    assert result['user_id'] == 'u1'
    assert result['request_id'] == UPSTREAM_CONTEXT['request_id']


def test_unknown_method_is_no_such_method(server):
    ctx = context.get_admin_context()
    with pytest.raises(messaging.rpc.dispatcher.NoSuchMethod):
        _client().call(ctx, 'no_such_thing')
    with pytest.raises(messaging.rpc.dispatcher.NoSuchMethod):
        _client().call(ctx, '_private')
    assert _client().call(ctx, 'echo', value='still')['value'] == 'still'


def test_newer_version_is_unsupported(server):
    ctx = context.get_admin_context()
    with pytest.raises(messaging.rpc.dispatcher.UnsupportedVersion):
        _client(version='1.31').call(ctx, 'echo', value=1)
    with pytest.raises(messaging.rpc.dispatcher.UnsupportedVersion):
        _client(version='2.0').call(ctx, 'echo', value=1)
    assert _client(version='1.30').call(ctx, 'echo', value=2)['value'] == 2


def test_client_version_cap_refuses_to_send(server):
    with pytest.raises(messaging.RPCVersionCapError):
        _client(version='1.31', cap='1.30').call(
            context.get_admin_context(), 'echo', value=1)


def test_endpoint_exception_reaches_caller(server):
    with pytest.raises(exception.ShareNotFound):
        _client().call(context.get_admin_context(), 'fail')


@pytest.mark.parametrize('bad', [
    'not-a-dict',
    dict(UPSTREAM_CONTEXT, read_deleted='sometimes'),
    dict(UPSTREAM_CONTEXT, timestamp='yesterday'),
])
def test_malformed_context_fails_only_that_call(server, transport, bad):
    with pytest.raises(exception.InvalidInput) as info:
        _send_raw(transport, bad, 'echo', value=1)
    assert 'malformed request context' in str(info.value)
    assert server.seen == []
    result = _client().call(context.get_admin_context(), 'echo', value=3)
    assert result['value'] == 3


def test_malformed_context_cast_is_dropped(server, transport):
    target = messaging.Target(topic='manila-share', server='hostA@b1')
    transport._send(target, 'not-a-dict',
                    {'method': 'remember', 'args': {'value': 'lost'},
                     'version': '1.0'})
    _client().cast(context.get_admin_context(), 'remember', value='kept')
    assert server.cast_done.wait(10)
    assert server.seen == ['kept']


def test_notifier_prefix(transport):
    notifier = rpc.get_notifier('share', 'hostA@b1')
    assert notifier.publisher_id == 'share.hostA@b1'


def _wire_failure(exc):
    """Serialize an exception the way an AMQP reply carries it."""
    from oslo_messaging._drivers import common
    try:
        raise exc
    except Exception:
        return common.serialize_remote_exception(sys.exc_info())


@pytest.mark.parametrize('exc, ours_rebuilt', [
    (exception.InvalidInput(reason='malformed request context: x'), True),
    (exception.ShareNotFound(share_id='S1'), True),
    (messaging.rpc.dispatcher.NoSuchMethod('no_such_thing'), False),
    (messaging.rpc.dispatcher.UnsupportedVersion('1.31', method='echo'),
     False),
])
def test_failures_as_an_amqp_caller_sees_them(exc, ours_rebuilt):
    """On RabbitMQ a failure travels as class/module/message.

    Only allowed modules are rebuilt; upstream callers (manila.exception)
    get RemoteError.
    """
    from oslo_messaging._drivers import common
    data = _wire_failure(exc)
    ours = common.deserialize_remote_exception(data,
                                               rpc.get_allowed_exmods())
    upstream = common.deserialize_remote_exception(data,
                                                   ['manila.exception'])
    name = type(exc).__name__
    if ours_rebuilt:
        assert isinstance(ours, type(exc))
    else:
        assert isinstance(ours, messaging.RemoteError)
        assert ours.exc_type == name
    assert isinstance(upstream, messaging.RemoteError)
    assert upstream.exc_type == name
    assert str(exc).splitlines()[0] in upstream.value


@pytest.mark.parametrize('method, cls', [
    ('fail', exception.ShareNotFound),
    ('fail_expected', exception.InvalidShare)])
def test_failures_are_named_for_their_caller(server, transport, method,
                                             cls):
    """Upstream's callers get upstream's module name (so their handlers catch the class), ours keep ours."""
    with pytest.raises(cls) as upstream:
        _send_raw(transport, dict(UPSTREAM_CONTEXT), method)
    assert type(upstream.value).__module__ == 'manila.exception'
    assert type(upstream.value).__name__ == cls.__name__
    assert str(upstream.value) == str(cls(share_id='S1',
                                          reason='not migrating'))
    data = jsonutils.loads(_wire_failure(upstream.value))
    assert (data['module'], data['class']) == ('manila.exception',
                                               cls.__name__)
    with pytest.raises(cls) as ours:
        _client().call(context.get_admin_context(), method)
    assert type(ours.value) is cls
    with pytest.raises(cls) as marked:
        _send_raw(transport, dict(UPSTREAM_CONTEXT, manila_lite_caller=True),
                  method)
    assert type(marked.value) is cls


def test_bad_casts_are_logged_and_dropped(server, caplog):
    """Unknown method and too-new version: one ERROR line each, no traceback."""
    ctx = context.get_admin_context()
    with caplog.at_level(logging.DEBUG):
        _client().cast(ctx, 'no_such_thing', value=1)
        _client(version='1.31').cast(ctx, 'remember', value='too-new')
        _client().cast(ctx, 'remember', value='ok')
        assert server.cast_done.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [r.getMessage() for r in caplog.records
                     if r.levelno >= logging.ERROR]
            texts = ' '.join(lines)
            if 'no_such_thing' in texts and '1.31' in texts:
                break
            time.sleep(0.05)
    assert server.seen == ['ok']
    rejected = [line for line in lines if line.startswith('Rejected RPC')]
    assert len(rejected) == 2, lines
    assert any("'no_such_thing'" in line and 'NoSuchMethod' in line
               for line in rejected)
    assert any('1.31' in line and 'UnsupportedVersion' in line
               for line in rejected)
    assert all(ctx.request_id in line for line in rejected)
    assert not [r for r in caplog.records
                if r.levelno >= logging.ERROR and r.exc_info]


class Holder:
    """Endpoint whose requests run until ``release`` is set."""

    target = messaging.Target(version='1.0')

    def __init__(self):
        self.started = []
        self.release = threading.Event()

    def hold(self, ctxt, n):
        self.started.append(n)
        self.release.wait(10)


def _wait(predicate, what):
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


@pytest.fixture
def two_workers():
    from oslo_messaging import server as msg_server
    CONF.register_opts(msg_server._pool_opts)
    CONF.set_override('executor_thread_pool_size', 2)
    yield
    CONF.clear_override('executor_thread_pool_size')


def test_server_takes_requests_only_for_free_workers(transport, two_workers):
    """Busy workers: the backlog stays queued through a stop; the next server serves it."""
    target = messaging.Target(topic='manila-share', server='hostB@b1')
    first = Holder()
    srv = rpc.get_server(target, [first])
    srv.start()
    client = rpc.get_client(target)
    ctx = context.get_admin_context()
    for n in range(6):
        client.cast(ctx, 'hold', n=n)
    _wait(lambda: len(first.started) == 2, 'two requests running')
    time.sleep(0.3)                     # room for a wrongly taken third
    assert len(first.started) == 2

    stopper = threading.Thread(target=lambda: (srv.stop(), srv.wait()))
    stopper.start()
    # The stop has begun (the listener no longer polls) before the
    # running requests end: the request the listener held still runs.
    fake = srv.listener._listener._poll_style_listener
    _wait(fake._stopped.is_set, 'listener stopped')
    first.release.set()
    stopper.join(10)
    assert not stopper.is_alive()
    assert sorted(first.started) == [0, 1, 2]

    second = Holder()
    second.release.set()
    srv = rpc.get_server(target, [second])
    srv.start()
    try:
        _wait(lambda: len(second.started) == 3, 'the rest served')
    finally:
        srv.stop()
        srv.wait()
    assert sorted(second.started) == [3, 4, 5]
