"""DataAPI, the RPC client of upstream's data service (host-assisted migration), and the one home of its RPC version."""

from oslo_config import cfg
import oslo_messaging as messaging

from manila_lite import rpc

CONF = cfg.CONF

# The data service's API is at 1.1 (1.1 added backups); the migration
# methods were all there in 1.0 and are sent with that version.
RPC_API_VERSION = '1.1'
MIGRATION_VERSION = '1.0'


class DataAPI(rpc.LazyClientAPI):
    """Client of manila-data (topic ``data_topic``): migration_start (cast), data_copy_cancel and data_copy_get_progress (calls)."""

    BASE_RPC_API_VERSION = '1.0'

    def _make_client(self):
        target = messaging.Target(topic=CONF.data_topic,
                                  version=self.BASE_RPC_API_VERSION)
        return rpc.get_client(target, version_cap=RPC_API_VERSION)

    def migration_start(self, context, share_id, ignore_list,
                        share_instance_id, dest_share_instance_id,
                        connection_info_src, connection_info_dest):
        self.client.prepare(version=MIGRATION_VERSION).cast(
            context, 'migration_start', share_id=share_id,
            ignore_list=ignore_list, share_instance_id=share_instance_id,
            dest_share_instance_id=dest_share_instance_id,
            connection_info_src=connection_info_src,
            connection_info_dest=connection_info_dest)

    def data_copy_cancel(self, context, share_id):
        self.client.prepare(version=MIGRATION_VERSION).call(
            context, 'data_copy_cancel', share_id=share_id)

    def data_copy_get_progress(self, context, share_id):
        return self.client.prepare(version=MIGRATION_VERSION).call(
            context, 'data_copy_get_progress', share_id=share_id)
