"""The oslo.messaging plumbing of manila_lite: one transport per process, the context serializer, clients and servers."""

import re
import sys
import threading

import kombu.exceptions
from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher
from oslo_messaging.rpc import server as rpc_server
from oslo_serialization import jsonutils

from manila_lite.conf import opts
from manila_lite import context as ml_context
from manila_lite import exception

LOG = logging.getLogger(__name__)

# Exceptions raised by a remote manila_lite service are rebuilt with their
# own class when they come from this module; anything else a caller receives
# as oslo_messaging.RemoteError.
ALLOWED_EXMODS = [exception.__name__]
EXTRA_EXMODS = []

# Our clients mark the contexts they send. A failure answering an unmarked
# (upstream) caller travels named as upstream's exception of the same class
# name, so upstream's handlers (the API's fallback on InvalidShare, for
# example) catch what they expect; a name upstream lacks still reaches it as
# RemoteError. Upstream services ignore the extra context key.
CALLER_MARK = 'manila_lite_caller'
UPSTREAM_EXMOD = 'manila.exception'
_UPSTREAM_NAMED = {}

# What a send with a bounded ``retry`` raises when the broker stayed
# unreachable: oslo.messaging's own error, or kombu's when even the first
# connection of the pool could not be opened.
SEND_FAILURES = (messaging.MessageDeliveryFailure,
                 kombu.exceptions.OperationalError)

_LOCK = threading.Lock()
TRANSPORT = None
NOTIFICATION_TRANSPORT = None
NOTIFIER = None


class NotInitialized(RuntimeError):
    """rpc.init() has not been called in this process."""

    def __init__(self):
        super().__init__('manila_lite.rpc.init(conf) must be called before '
                         'RPC clients or servers are used')


_CONTROL_CHARACTERS = re.compile('[\x00-\x1f\x7f-\x9f\u2028\u2029]')


def one_line(value):
    """``str(value)`` with control characters escaped: what a log line may quote from a message."""
    return _CONTROL_CHARACTERS.sub(
        lambda m: m.group().encode('unicode_escape').decode('ascii'),
        str(value))


def get_allowed_exmods():
    """Return the modules whose exceptions are re-raised as themselves."""
    return ALLOWED_EXMODS + EXTRA_EXMODS


def init(conf, url=None):
    """Create the process-wide RPC transport (and notifier) from ``conf``.

    ``url`` overrides ``[DEFAULT] transport_url`` (tests use ``fake://``).
    Creating a transport opens no connection; the first send or listen does.
    Calling init() again while initialized keeps the existing transport.
    """
    global TRANSPORT, NOTIFICATION_TRANSPORT, NOTIFIER
    with _LOCK:
        if TRANSPORT is not None:
            return TRANSPORT
        exmods = get_allowed_exmods()
        opts.set_lib_defaults()        # before the driver reads its options
        transport = messaging.get_rpc_transport(
            conf, url=url, allowed_remote_exmods=exmods)
        try:
            notification_transport = messaging.get_notification_transport(
                conf, url=url, allowed_remote_exmods=exmods)
        except Exception:
            transport.cleanup()
            raise
        NOTIFIER = messaging.Notifier(
            notification_transport,
            serializer=RequestContextSerializer(JsonPayloadSerializer()))
        NOTIFICATION_TRANSPORT = notification_transport
        TRANSPORT = transport
        return TRANSPORT


def initialized():
    """Return True when init() has run and cleanup() has not."""
    return TRANSPORT is not None


def cleanup():
    """Close the transports; a later init() starts afresh. No-op when not initialized."""
    global TRANSPORT, NOTIFICATION_TRANSPORT, NOTIFIER
    with _LOCK:
        transport, notification_transport = TRANSPORT, NOTIFICATION_TRANSPORT
        TRANSPORT = NOTIFICATION_TRANSPORT = NOTIFIER = None
    for item in (transport, notification_transport):
        if item is not None:
            item.cleanup()


def get_transport():
    """Return the RPC transport created by init()."""
    transport = TRANSPORT
    if transport is None:
        raise NotInitialized()
    return transport


class JsonPayloadSerializer(messaging.NoOpSerializer):
    """Notification payload serializer: everything becomes JSON primitives."""

    @staticmethod
    def serialize_entity(context, entity):
        return jsonutils.to_primitive(entity, convert_instances=True)


def _name_current_request(request_id):
    """Make the thread's current context (read by log lines) one naming ``request_id``; return the id.

    Used for messages rejected before their context is rebuilt, so their
    log line does not carry the request id of the thread's last message.
    """
    if not isinstance(request_id, str) or len(request_id) > 255:
        request_id = None
    return ml_context.RequestContext(request_id=request_id,
                                     overwrite=True).request_id


class RequestContextSerializer(messaging.Serializer):
    """Puts ``RequestContext.to_dict()`` on the wire and rebuilds it on receipt.

    Entities (the keyword arguments and return values) go through ``base``
    when one is given; without one (the share and scheduler clients, as
    upstream) they are passed as they are and the driver JSON-encodes them
    with ``jsonutils.to_primitive`` semantics.
    """

    def __init__(self, base=None, mark=False):
        self._base = base
        self._mark = mark

    def serialize_entity(self, context, entity):
        if self._base is None:
            return entity
        return self._base.serialize_entity(context, entity)

    def deserialize_entity(self, context, entity):
        if self._base is None:
            return entity
        return self._base.deserialize_entity(context, entity)

    def serialize_context(self, context):
        values = dict(context) if isinstance(context, dict) else \
            context.to_dict()
        if self._mark:
            values[CALLER_MARK] = True
        return values

    def deserialize_context(self, context):
        """Rebuild a RequestContext; a malformed one fails only this message.

        oslo.messaging calls this inside the dispatcher, after the message
        was acknowledged. The error is raised as an ExpectedException around
        an InvalidInput: the server logs our one line (no traceback) and
        keeps serving, a ``call`` receives InvalidInput (upstream callers a
        RemoteError of that name), a ``cast`` is dropped.
        """
        try:
            if not isinstance(context, dict):
                raise ValueError('expected a dict, got %s'
                                 % type(context).__name__)
            values = dict(context)
            values.pop('trace_info', None)
            values.pop(CALLER_MARK, None)
            return ml_context.RequestContext.from_dict(values)
        except Exception as exc:
            request_id = (context.get('request_id')
                          if isinstance(context, dict) else None)
            request_id = _name_current_request(request_id)
            reason = 'malformed request context: %s' % exc
            LOG.error('Rejected an RPC message (request %(req)s): %(reason)s',
                      {'req': request_id, 'reason': one_line(reason)})
            try:
                raise exception.InvalidInput(reason=reason) from exc
            except exception.InvalidInput:
                raise messaging.ExpectedException()


class LazyClientAPI:
    """Base of the RPC API classes: their RPCClient is built once, on first use.

    So a manager may create its clients before rpc.init() runs; no
    connection is opened either way. Subclasses build it in
    ``_make_client``.
    """

    def __init__(self):
        self._client = None
        self._client_lock = threading.Lock()

    def _make_client(self):
        raise NotImplementedError

    @property
    def client(self):
        """The RPCClient (created once, on first use)."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client


def get_client(target, version_cap=None, serializer=None, retry=None):
    """Return an RPCClient on the process transport for ``target``.

    ``retry``: reconnection attempts of a send while the broker is
    unreachable before it fails with MessageDeliveryFailure (None: no
    limit, as a service; a command gives a few).
    """
    return messaging.get_rpc_client(
        get_transport(), target, version_cap=version_cap,
        serializer=RequestContextSerializer(serializer, mark=True),
        retry=retry)


class _Dispatcher(dispatcher.RPCDispatcher):
    """Reports an unknown method or unsupported version in one log line.

    oslo.messaging would log both with a traceback; here the caller of a
    ``call`` still gets the original error back, a ``cast`` is dropped, and
    the log shows one ERROR line naming the method, version and request id.
    """

    def dispatch(self, incoming):
        try:
            return super().dispatch(incoming)
        except messaging.ExpectedException as expected:
            if not _from_ours(incoming):
                expected.exc_info = _named_for_upstream(expected.exc_info)
            raise
        except exception.ManilaException:
            if _from_ours(incoming):
                raise
            _cls, exc, tb = _named_for_upstream(sys.exc_info())
            raise exc.with_traceback(tb) from None
        except (messaging.NoSuchMethod, messaging.UnsupportedVersion) as exc:
            message = incoming.message if isinstance(incoming.message,
                                                     dict) else {}
            ctxt = incoming.ctxt if isinstance(incoming.ctxt, dict) else {}
            LOG.error('Rejected RPC %(method)r version %(version)s '
                      '(request %(req)s): %(cls)s: %(exc)s',
                      {'method': message.get('method'),
                       'version': one_line(message.get('version')),
                       'req': _name_current_request(ctxt.get('request_id')),
                       'cls': type(exc).__name__, 'exc': one_line(exc)})
            raise messaging.ExpectedException()


def _from_ours(incoming):
    ctxt = incoming.ctxt
    return isinstance(ctxt, dict) and ctxt.get(CALLER_MARK) is True


def _named_for_upstream(exc_info):
    """``exc_info`` with a manila_lite exception replaced by a copy whose class is named ``manila.exception.<name>``."""
    cls, exc, tb = exc_info
    if not isinstance(exc, exception.ManilaException):
        return exc_info
    with _LOCK:
        named = _UPSTREAM_NAMED.get(cls)
        if named is None:
            named = _UPSTREAM_NAMED[cls] = type(
                cls.__name__, (cls,), {'__module__': UPSTREAM_EXMOD})
    copy = named.__new__(named)
    copy.__dict__.update(exc.__dict__)
    copy.args = exc.args
    return named, copy, tb


class BoundedIntakeRPCServer(rpc_server.RPCServer):
    """An RPC server that takes a request off the broker only when a worker is free.

    oslo.messaging's RabbitMQ listener acknowledges a request as it reads
    it, and the stock server hands every request read to an executor with
    an unbounded queue: a backlog is emptied from the broker into memory,
    and a stop has to run all of it (or lose it). Here the listener thread
    waits for one of the ``executor_thread_pool_size`` workers before it
    hands a request over, so it reads (and acknowledges) nothing more
    meanwhile: the rest of a backlog stays unacknowledged, on the broker
    or in the socket, and goes back to the queue when the connection
    closes. A stop therefore waits only for the requests being served.
    """

    def __init__(self, transport, target, dispatcher, executor=None,
                 on_take=None):
        super().__init__(transport, target, dispatcher, executor)
        self._free_workers = threading.BoundedSemaphore(
            self.conf.executor_thread_pool_size)
        self._on_take = on_take
        self._taken = {}        # id(incoming) -> releases of on_take

    def _on_incoming(self, incoming):
        # Runs in the listener thread. While it waits, stop() waits for it
        # too (for the listener thread to end); the requests in flight
        # end regardless and free their slots, so this cannot deadlock.
        self._free_workers.acquire()
        if self._on_take is not None:
            self._taken[id(incoming)] = [
                self._on_take(getattr(m, 'message', None)) for m in incoming]
        try:
            super()._on_incoming(incoming)
        except BaseException:
            self._release(incoming)
            raise

    def _process_incoming(self, incoming):
        try:
            return super()._process_incoming(incoming)
        finally:
            self._release(incoming)

    def _release(self, incoming):
        for release in self._taken.pop(id(incoming), ()):
            release()
        self._free_workers.release()

    def _create_listener(self):
        return _ClosingListener(super()._create_listener(), self._on_incoming)


class _ClosingListener:
    """Wraps an RPC server's listener: ``stop()`` also closes its connection and hands on what it read late.

    The connection's heartbeat thread (and the close itself) may still
    read a delivery after the listener thread ended; oslo.messaging
    acknowledges it and lists it as incoming, where nothing would take it.
    Closing the connection as soon as the listener stops (the broker
    requeues every unread delivery at once) ends such reads, and a request
    read meanwhile goes to the workers like any other. For RPC the
    listener's connection has no other use: requests are acknowledged on
    receipt and replies go over the send pool. The server's ``wait()``
    calls ``cleanup()`` again, which then does nothing.
    """

    def __init__(self, listener, on_incoming):
        self._listener = listener
        self._on_incoming = on_incoming

    def start(self, on_incoming_callback):
        self._listener.start(on_incoming_callback)

    def stop(self):
        self._listener.stop()
        self._listener.cleanup()
        poll_style = getattr(self._listener, '_poll_style_listener', None)
        read_late = getattr(poll_style, 'incoming', None) or []
        while read_late:
            self._on_incoming([read_late.pop(0)])

    def cleanup(self):
        self._listener.cleanup()


def get_server(target, endpoints, serializer=None, on_take=None):
    """Return an RPC server (threading executor, bounded intake) for ``target``.

    Any public (not ``_``-prefixed) method of an endpoint can be invoked,
    as with upstream's DefaultRPCAccessPolicy. ``on_take(message)`` runs
    in the listener thread as each message is taken off the queue, in
    queue order, and returns a callable run when the message is done.
    """
    rpc_dispatcher = _Dispatcher(endpoints,
                                 RequestContextSerializer(serializer),
                                 dispatcher.DefaultRPCAccessPolicy)
    return BoundedIntakeRPCServer(get_transport(), target, rpc_dispatcher,
                                  on_take=on_take)


def get_notifier(service=None, host=None, publisher_id=None):
    """Return a notifier with ``publisher_id`` (default ``<service>.<host>``).

    Notifications go nowhere unless ``[oslo_messaging_notifications]
    driver`` is set, as upstream.
    """
    notifier = NOTIFIER
    if notifier is None:
        raise NotInitialized()
    if not publisher_id:
        publisher_id = '%s.%s' % (service, host or cfg.CONF.host)
    return notifier.prepare(publisher_id=publisher_id)
