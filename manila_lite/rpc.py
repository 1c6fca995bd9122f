"""The oslo.messaging plumbing of manila_lite: one transport per process, the context serializer, clients and servers."""

import threading

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher
from oslo_messaging.rpc import server as rpc_server
from oslo_serialization import jsonutils

from manila_lite import context as ml_context
from manila_lite import exception

LOG = logging.getLogger(__name__)

# Exceptions raised by a remote manila_lite service are rebuilt with their
# own class when they come from this module; anything else a caller receives
# as oslo_messaging.RemoteError. (Upstream allows 'manila.exception'; its
# callers therefore see our errors as RemoteError carrying class and text.)
ALLOWED_EXMODS = [exception.__name__]
EXTRA_EXMODS = []

_LOCK = threading.Lock()
TRANSPORT = None
NOTIFICATION_TRANSPORT = None
NOTIFIER = None


class NotInitialized(RuntimeError):
    """rpc.init() has not been called in this process."""

    def __init__(self):
        super().__init__('manila_lite.rpc.init(conf) must be called before '
                         'RPC clients or servers are used')


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


class RequestContextSerializer(messaging.Serializer):
    """Puts ``RequestContext.to_dict()`` on the wire and rebuilds it on receipt.

    Entities (the keyword arguments and return values) go through ``base``
    when one is given; without one (the share and scheduler clients, as
    upstream) they are passed as they are and the driver JSON-encodes them
    with ``jsonutils.to_primitive`` semantics.
    """

    def __init__(self, base=None):
        self._base = base

    def serialize_entity(self, context, entity):
        if self._base is None:
            return entity
        return self._base.serialize_entity(context, entity)

    def deserialize_entity(self, context, entity):
        if self._base is None:
            return entity
        return self._base.deserialize_entity(context, entity)

    def serialize_context(self, context):
        if isinstance(context, dict):
            return dict(context)
        return context.to_dict()

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
            return ml_context.RequestContext.from_dict(values)
        except Exception as exc:
            request_id = (context.get('request_id')
                          if isinstance(context, dict) else None)
            reason = 'malformed request context: %s' % exc
            LOG.error('Rejected an RPC message (request %(req)s): %(reason)s',
                      {'req': request_id, 'reason': reason})
            try:
                raise exception.InvalidInput(reason=reason) from exc
            except exception.InvalidInput:
                raise messaging.ExpectedException()


def get_client(target, version_cap=None, serializer=None):
    """Return an RPCClient on the process transport for ``target``."""
    return messaging.get_rpc_client(
        get_transport(), target, version_cap=version_cap,
        serializer=RequestContextSerializer(serializer))


class _Dispatcher(dispatcher.RPCDispatcher):
    """Reports an unknown method or unsupported version in one log line.

    oslo.messaging would log both with a traceback; here the caller of a
    ``call`` still gets the original error back, a ``cast`` is dropped, and
    the log shows one ERROR line naming the method, version and request id.
    """

    def dispatch(self, incoming):
        try:
            return super().dispatch(incoming)
        except (messaging.NoSuchMethod, messaging.UnsupportedVersion) as exc:
            message = incoming.message if isinstance(incoming.message,
                                                     dict) else {}
            ctxt = incoming.ctxt if isinstance(incoming.ctxt, dict) else {}
            LOG.error('Rejected RPC %(method)r version %(version)s '
                      '(request %(req)s): %(cls)s: %(exc)s',
                      {'method': message.get('method'),
                       'version': message.get('version'),
                       'req': ctxt.get('request_id'),
                       'cls': type(exc).__name__, 'exc': exc})
            raise messaging.ExpectedException()


def get_server(target, endpoints, serializer=None):
    """Return an RPC server (threading executor) for ``target``.

    Any public (not ``_``-prefixed) method of an endpoint can be invoked,
    as with upstream's DefaultRPCAccessPolicy.
    """
    rpc_dispatcher = _Dispatcher(endpoints,
                                 RequestContextSerializer(serializer),
                                 dispatcher.DefaultRPCAccessPolicy)
    return rpc_server.RPCServer(get_transport(), target, rpc_dispatcher)


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
