"""Distributed locks through tooz (file:// under state_path by default), named as upstream names them."""

import threading
import uuid

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import encodeutils
import tooz.coordination

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

LOCK_PREFIX = 'manila-'


class Coordinator:
    """One tooz coordinator per process; started by the service, not at import."""

    def __init__(self, agent_id=None, prefix='manila-share-'):
        self.member_id = (prefix + (agent_id or uuid.uuid4().hex)).encode()
        self.coordinator = None
        self._lock = threading.Lock()

    def start(self):
        with self._lock:
            if self.coordinator is not None:
                return
            backend_url = CONF.coordination.backend_url
            coordinator = tooz.coordination.get_coordinator(
                backend_url, self.member_id)
            coordinator.start(start_heart=True)
            self.coordinator = coordinator

    def stop(self):
        with self._lock:
            if self.coordinator is None:
                return
            try:
                self.coordinator.stop()
            except Exception:
                LOG.exception('Error stopping the tooz coordinator.')
            self.coordinator = None

    def get_lock(self, name):
        """Return a tooz lock named ``manila-<name>`` (starts lazily)."""
        if self.coordinator is None:
            self.start()
        return self.coordinator.get_lock(
            encodeutils.safe_encode(LOCK_PREFIX + name))


LOCK_COORDINATOR = Coordinator()
