"""Which rows no message still queued for this backend can reach: markers cast to the backend's own RPC queue.

A share service that was stopped, or cut off from the broker, finds its
queue full of casts when it consumes again, while the rows those casts are
about have been in a transitional status for a long time. To tell a row
that lost its message from one whose message is still queued, the service
casts a marker to its own queue (topic ``manila-share``, server
``host@backend``) and notes when it sent it. The queue delivers in order,
so once the marker is taken every message published before it has been
taken too (and is tracked as in flight from that moment, see
``guard.hold_message``). A row that had already waited
``transitional_state_timeout`` when such a marker was sent therefore has no
message left on the queue: its request was lost, or has run.

Markers use their own RPC namespace, which upstream's services never call.
A marker not back within ``transitional_state_timeout`` (dropped while the
broker restarted, say) is replaced by a new one.
"""

import threading
import time

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_utils import timeutils
from oslo_utils import uuidutils

from manila_lite import rpc

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

NAMESPACE = 'manila_lite.backlog'
VERSION = '1.0'
MARKER_RETRY = 1        # one reconnection attempt, as the capabilities fanout
_MAX_OUTSTANDING = 16


class Endpoint:
    """The RPC endpoint that receives this service's markers."""

    target = messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, backlog):
        self._backlog = backlog

    def backlog_marker(self, context, token):
        if not isinstance(token, str):
            LOG.error('Ignored a queue marker whose token is %s, not a '
                      'string.', type(token).__name__)
            return
        self._backlog._taken(token)


class Backlog:
    """Markers of one backend's queue: sent, and the newest one taken."""

    def __init__(self, topic, server):
        self.topic = topic
        self.server = server
        self.endpoint = Endpoint(self)
        self._lock = threading.Lock()
        self._outstanding = {}      # token -> (monotonic, naive UTC) sent
        self._drained_until = None
        self._client = None

    def drained_until(self):
        """Naive-UTC time before which every message published to this queue has been taken (None: not known yet)."""
        with self._lock:
            return self._drained_until

    def request(self, context):
        """Cast a new marker unless one sent recently is still on its way; a failure is logged."""
        now = time.monotonic()
        resend_after = max(CONF.transitional_state_timeout, 1)
        with self._lock:
            if any(now - sent < resend_after
                   for sent, _utc in self._outstanding.values()):
                return
            token = uuidutils.generate_uuid()
            self._outstanding[token] = (now, timeutils.utcnow())
            while len(self._outstanding) > _MAX_OUTSTANDING:
                self._outstanding.pop(next(iter(self._outstanding)))
        try:
            self._get_client().prepare(retry=MARKER_RETRY).cast(
                context, 'backlog_marker', token=token)
        except Exception as exc:
            with self._lock:
                self._outstanding.pop(token, None)
            LOG.warning('Could not cast a queue marker to %(server)s '
                        '(%(cls)s: %(exc)s); stranded rows wait for the '
                        'next try.', {'server': self.server,
                                      'cls': type(exc).__name__, 'exc': exc})
            return
        LOG.debug('Queue marker %(token)s cast to %(server)s.',
                  {'token': token, 'server': self.server})

    def _get_client(self):
        if self._client is None:
            target = messaging.Target(topic=self.topic, server=self.server,
                                      namespace=NAMESPACE, version=VERSION)
            self._client = rpc.get_client(target)
        return self._client

    def _taken(self, token):
        with self._lock:
            sent = self._outstanding.pop(token, None)
            if sent is None:
                return          # a marker of an earlier process
            sent_at = sent[1]
            if self._drained_until is None or sent_at > self._drained_until:
                self._drained_until = sent_at
            # Older markers still out were lost (or will tell nothing new).
            for other, (_mono, utc) in list(self._outstanding.items()):
                if utc <= sent_at:
                    del self._outstanding[other]
        LOG.debug('Queue marker %(token)s taken: every message for '
                  '%(server)s published before %(at)s has been taken.',
                  {'token': token, 'server': self.server, 'at': sent_at})
