"""What every RPC method of the share manager goes through: argument checks, one-line errors, the driver guard, status checks."""

import contextlib
import functools
import inspect
import threading

from oslo_log import log as logging
import oslo_messaging as messaging

from manila_lite import context as ml_context
from manila_lite import exception
from manila_lite import rpc

LOG = logging.getLogger(__name__)

_BOOL_ARGS = frozenset((
    'force', 'deferred_delete', 'clear_rules', 'writable', 'nondisruptive',
    'preserve_snapshots', 'preserve_metadata',
    'force_host_assisted_migration', 'skip_backend_info_check'))
_DICT_ARGS = frozenset((
    'request_spec', 'filter_properties', 'driver_options', 'driver_opts',
    'metadata', 'share_server', 'backup', 'new_share_network_subnet'))
_LIST_ARGS = frozenset(('reservations', 'share_instance_ids'))
_STR_ARGS = frozenset(('dest_host', 'identifier', 'new_user', 'new_project'))
_MAX_ID_LENGTH = 255
# Arguments whose value names the resource a message is about; the first one
# present goes into the context's resource_uuid, which oslo.log prints as
# "[share instance <id> of share <id>] " (instance_uuid_format, set by
# manila-lite-share) on every line logged while the request runs.
_RESOURCE_ARGS = ('share_instance_id', 'share_replica_id',
                  'snapshot_instance_id', 'src_instance_id', 'share_id',
                  'snapshot_id', 'share_server_id', 'src_share_server_id',
                  'share_group_id', 'share_group_snapshot_id',
                  'share_network_id')


def _check_id(name, value, optional):
    if value is None and optional:
        return
    if (not isinstance(value, str) or not value or
            len(value) > _MAX_ID_LENGTH or not value.isprintable()):
        raise exception.InvalidInput(
            reason='%s must be a non-empty printable string of at most %d '
                   'characters, got %s' % (name, _MAX_ID_LENGTH,
                                           _describe(value)))


def _describe(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + '...'


def _check_argument(name, value, optional):
    """Raise InvalidInput when an RPC argument has the wrong type."""
    if value is None and optional:
        return
    if name == 'share_server_id' and isinstance(value, dict):
        # Upstream's migration helper sends the whole server here (a known
        # upstream bug); its id is what counts.
        _check_id(name, value.get('id'), optional)
    elif name.endswith('_id'):
        _check_id(name, value, optional)
    elif name in _BOOL_ARGS:
        if not isinstance(value, bool):
            raise exception.InvalidInput(
                reason='%s must be a boolean, got %s' % (name, _describe(value)))
    elif name in _DICT_ARGS:
        if not isinstance(value, dict):
            raise exception.InvalidInput(
                reason='%s must be an object, got %s' % (name, _describe(value)))
    elif name in _LIST_ARGS:
        if not isinstance(value, list):
            raise exception.InvalidInput(
                reason='%s must be a list, got %s' % (name, _describe(value)))
        if name.endswith('_ids'):
            for item in value:
                _check_id(name, item, False)
    elif name == 'new_size':
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise exception.InvalidInput(
                reason='new_size must be a positive integer, got %s'
                       % _describe(value))
    elif name in _STR_ARGS and not isinstance(value, str):
        raise exception.InvalidInput(
            reason='%s must be a string, got %s' % (name, _describe(value)))


def _bind(signature, func_name, args, kwargs):
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        raise exception.InvalidInput(reason='%s: %s' % (func_name, exc))
    for name, value in list(bound.arguments.items())[2:]:
        param = signature.parameters[name]
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        _check_argument(name, value, param.default is None)
    return bound


class InFlight:
    """Ids of the resources this process is working on right now (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def hold(self, ids):
        """Mark ``ids`` as worked on; returns the callable that releases them (once)."""
        ids = [i for i in ids if isinstance(i, str) and i]
        with self._lock:
            for i in ids:
                self._counts[i] = self._counts.get(i, 0) + 1
        released = []

        def release():
            with self._lock:
                if released:
                    return
                released.append(True)
                for i in ids:
                    left = self._counts.get(i, 1) - 1
                    if left:
                        self._counts[i] = left
                    else:
                        self._counts.pop(i, None)
        return release

    @contextlib.contextmanager
    def track(self, ids):
        release = self.hold(ids)
        try:
            yield
        finally:
            release()

    def snapshot(self):
        with self._lock:
            return frozenset(self._counts)


def _resource_ids(arguments):
    ids = []
    for name, value in arguments.items():
        if name in _RESOURCE_ARGS and isinstance(value, str):
            ids.append(value)
        elif name == 'share_instance_ids' and isinstance(value, list):
            ids.extend(v for v in value if isinstance(v, str))
    return ids


def hold_message(in_flight, message):
    """Mark the resources an RPC message names as worked on from the moment it is taken off the queue.

    Called by the RPC server's listener before the message goes to a
    worker (so before any later message, e.g. a queue marker, is taken);
    returns the callable that releases them when the message is done.
    """
    args = message.get('args') if isinstance(message, dict) else None
    return in_flight.hold(_resource_ids(args) if isinstance(args, dict)
                          else [])


def _tag_resource(context, arguments):
    for name in _RESOURCE_ARGS:
        value = arguments.get(name)
        if isinstance(value, str) and value:
            # share_instance_id -> "share instance <id>"; the flow adds the
            # share id once it loaded the row (db.api.share_instance_get).
            ml_context.tag_resource(context, name[:-3].replace('_', ' '),
                                    value)
            return


def rpc_method(require_driver=True):
    """Wrap a ShareManager RPC method.

    Arguments are checked before anything runs (a missing or malformed one
    is an InvalidInput). A ManilaException is logged as one line naming the
    method and request id, then handed to oslo.messaging as an expected
    exception: a ``call`` gets it back as its error, a ``cast`` is logged
    once, and the server keeps serving.
    """

    def wrap(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(self, context, *args, **kwargs):
            try:
                bound = _bind(signature, func.__name__,
                              (self, context) + args, kwargs)
                _tag_resource(context, bound.arguments)
                if require_driver and not self.driver.initialized:
                    self._wait_for_driver_setup()
                if require_driver and not self.driver.initialized:
                    raise exception.DriverNotInitialized(
                        driver=self.driver.__class__.__name__)
                with self.in_flight.track(_resource_ids(bound.arguments)):
                    return func(self, context, *args, **kwargs)
            except exception.ManilaException as exc:
                LOG.error('%(method)s failed (request %(req)s): '
                          '%(cls)s: %(msg)s',
                          {'method': func.__name__,
                           'req': getattr(context, 'request_id', None),
                           'cls': exc.__class__.__name__,
                           'msg': rpc.one_line(exc)})
                raise messaging.ExpectedException()

        wrapper.rpc_signature = signature
        return wrapper
    return wrap


def driver_error(operation, exc):
    """Wrap a driver failure so the RPC guard logs it as one line (a ManilaException passes as is)."""
    LOG.debug('Driver %s failed.', operation, exc_info=True)
    if isinstance(exc, exception.ManilaException):
        return exc
    return exception.ShareBackendException(
        msg='driver %s raised %s: %s' % (operation, type(exc).__name__, exc))


def expect_status(kind, row, sources, operation, status_key='status'):
    """True if ``row`` is in one of ``sources``; else log that the request is ignored.

    The one check every flow makes before acting on a row the API put in
    a transitional status: a row that moved on meanwhile (a duplicate or
    stale message) is left alone.
    """
    status = row[status_key]
    if status in sources:
        return True
    LOG.warning('%(kind)s %(id)s is %(status)s, not %(sources)s; '
                '%(operation)s request ignored.',
                {'kind': kind, 'id': row['id'], 'status': status,
                 'sources': '/'.join(sources), 'operation': operation})
    return False
