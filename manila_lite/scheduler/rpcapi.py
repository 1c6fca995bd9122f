"""SchedulerAPI: the one RPC the share service sends the scheduler, its capabilities fanout."""


from oslo_config import cfg
import oslo_messaging as messaging
from oslo_serialization import jsonutils
from oslo_utils import timeutils

from manila_lite import rpc

CONF = cfg.CONF
CAPABILITIES_RETRY = 1


class SchedulerAPI(rpc.LazyClientAPI):
    """Client of upstream manila-scheduler (topic ``scheduler_topic``).

    The scheduler's API is at 1.11; capability reports with a timestamp
    appeared in 1.10, which is the version they are sent with.
    """

    RPC_API_VERSION = '1.11'

    def _make_client(self):
        target = messaging.Target(topic=CONF.scheduler_topic,
                                  version=self.RPC_API_VERSION)
        return rpc.get_client(target, version_cap=self.RPC_API_VERSION)

    def update_service_capabilities(self, context, service_name, host,
                                    capabilities, timestamp=None):
        """Fan ``capabilities`` of ``host`` out to every scheduler.

        ``timestamp`` defaults to now; a datetime is sent as the naive-UTC
        string ``%Y-%m-%dT%H:%M:%S.%f`` the scheduler parses.
        """
        if timestamp is None:
            timestamp = timeutils.utcnow()
        # One reconnection attempt, not oslo.messaging's endless retry: a
        # broker outage must not hold the periodic tasks (reconciliation,
        # status polling) behind a report that the next run sends anyway.
        cctxt = self.client.prepare(fanout=True, version='1.10',
                                    retry=CAPABILITIES_RETRY)
        cctxt.cast(context, 'update_service_capabilities',
                   service_name=service_name, host=host,
                   capabilities=capabilities,
                   timestamp=jsonutils.to_primitive(timestamp))
