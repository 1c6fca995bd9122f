"""Every lock of the share service and the decorators that take them, named as upstream names them.

File locks (oslo.concurrency, external, under ``[oslo_concurrency]
lock_path``) are shared with upstream's own processes on the host, so
their names are upstream's; tooz locks (``[coordination] backend_url``)
get upstream's ``manila-`` prefix from :mod:`manila_lite.coordination`.
"""

import contextlib
import functools
import inspect

from oslo_concurrency import lockutils
from oslo_log import log as logging

from manila_lite import coordination

LOG = logging.getLogger(__name__)

LOCK_FILE_PREFIX = 'manila-'

# File locks.
ACCESS_RULES_LOCK = 'locked_access_rules_operation_by_share_instance_%s'
SNAPSHOT_ACCESS_LOCK = 'update_access_rules_for_snapshot_%s'
SIZE_LOCK = 'share_size_and_quota_%s'
# tooz locks.
REPLICA_OPERATION_LOCK = 'locked-share-replica-operation-for-share-%s'
# Upstream's tooz locks shared with its API: the async_operation_data check
# entries of a security service update / an allocation update, and the
# share network status.
SECURITY_SERVICE_UPDATE_LOCK = (
    'locked-security-service-update-operation-%(new)s-%(curr)s')
ALLOCATIONS_UPDATE_LOCK = (
    'locked-share-server-update-allocations-operation-%(net)s-%(az)s')
SHARE_NETWORK_LOCK = 'locked-share-network-operation-%s'

# In-process locks.
RECONCILE_PASS_LOCK = 'reconcile-%s'


def _file_lock(name):
    return lockutils.lock(name, lock_file_prefix=LOCK_FILE_PREFIX,
                          external=True)


def access_rules_lock(share_instance_id):
    """Upstream's lock over one instance's access mappings and access_rules_status."""
    return _file_lock(ACCESS_RULES_LOCK % share_instance_id)


def snapshot_access_lock(snapshot_id):
    """Upstream's lock over the access rules of one snapshot."""
    return _file_lock(SNAPSHOT_ACCESS_LOCK % snapshot_id)


def size_lock(share_id):
    """The lock over a share's size and its quota charge (extend's commit vs delete's release)."""
    return _file_lock(SIZE_LOCK % share_id)


def reconcile_pass_lock(host):
    """One reconciliation pass at a time per backend of this process."""
    return lockutils.internal_lock(RECONCILE_PASS_LOCK % host)


def synchronized(lock_name, blocking=True, coordinator=None):
    """Hold a tooz lock around a function; the name is formatted with its arguments.

    Example: ``@synchronized('manage-share-server-{share_server_id}')``.
    """

    def wrap(func):
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            name = lock_name.format(**bound.arguments)
            lock = (coordinator or coordination.LOCK_COORDINATOR).get_lock(
                name)
            with lock(blocking):
                LOG.debug('Lock "%s" acquired by "%s".', name,
                          func.__qualname__)
                return func(*args, **kwargs)
        return wrapper
    return wrap


def tooz_lock(name):
    """The tooz lock ``name`` of the coordination back end as a context manager."""
    return coordination.LOCK_COORDINATOR.get_lock(name)()


def replica_operation_lock(share_id, held=False):
    """The tooz lock of a share's replica operations as a context manager (a no-op when the caller ``held`` it already)."""
    if held:
        return contextlib.nullcontext()
    return coordination.LOCK_COORDINATOR.get_lock(
        REPLICA_OPERATION_LOCK % share_id)()


def locked_share_replica_operation(operation):
    """Hold the tooz lock of the replica's share (keyword ``share_id``) around ``operation``.

    As upstream's decorator: every replica operation of one share waits
    for the others (promoting one replica while deleting another, for
    example), across the processes sharing the coordination back end.
    """

    @functools.wraps(operation)
    def wrapped(*args, **kwargs):
        name = REPLICA_OPERATION_LOCK % kwargs.get('share_id')
        locked = synchronized(name.replace('{', '{{').replace('}', '}}'))(
            operation)
        return locked(*args, **kwargs)

    return wrapped
