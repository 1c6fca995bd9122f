"""share/locks.py: upstream's lock names, and the tooz lock of replica operations."""

import threading

from oslo_config import cfg
import pytest

from manila_lite import coordination
from manila_lite.share import locks
from manila_lite.share import manager

CONF = cfg.CONF


@pytest.fixture
def coordinator(tmp_path):
    CONF.set_override('backend_url', 'file://%s' % tmp_path,
                      group='coordination')
    saved = coordination.LOCK_COORDINATOR
    coordination.LOCK_COORDINATOR = coordination.Coordinator()
    yield tmp_path
    coordination.LOCK_COORDINATOR.stop()
    coordination.LOCK_COORDINATOR = saved
    CONF.clear_override('backend_url', group='coordination')


def test_upstream_decorators_are_importable_from_the_manager():
    assert manager.add_hooks.__module__ == 'manila_lite.share.hook'
    assert manager.locked_share_replica_operation is (
        locks.locked_share_replica_operation)


def test_lock_names_are_upstreams():
    assert locks.ACCESS_RULES_LOCK % 'x' == (
        'locked_access_rules_operation_by_share_instance_x')
    assert locks.SNAPSHOT_ACCESS_LOCK % 'x' == (
        'update_access_rules_for_snapshot_x')
    assert locks.REPLICA_OPERATION_LOCK % 'x' == (
        'locked-share-replica-operation-for-share-x')


def test_replica_operations_of_one_share_wait_for_each_other(coordinator):
    inside = threading.Event()
    release = threading.Event()
    order = []

    @locks.locked_share_replica_operation
    def operation(context, share_replica_id, share_id=None):
        order.append(('start', share_replica_id))
        if share_replica_id == 'r1':
            inside.set()
            assert release.wait(10)
        order.append(('end', share_replica_id))
        return share_replica_id

    first = threading.Thread(target=operation, args=(None, 'r1'),
                             kwargs={'share_id': 's1'})
    first.start()
    assert inside.wait(10)
    # Another share is not held up.
    assert operation(None, 'other', share_id='s2') == 'other'
    second = threading.Thread(target=operation, args=(None, 'r2'),
                              kwargs={'share_id': 's1'})
    second.start()
    second.join(0.5)
    assert second.is_alive()      # waits for r1's lock on s1
    release.set()
    first.join(10)
    second.join(10)
    assert order.index(('end', 'r1')) < order.index(('start', 'r2'))
    # tooz's file back end: the lock file carries upstream's name.
    assert list(coordinator.glob('*locked-share-replica-operation-for-'
                                 'share-s1*'))
