"""Process-wide [DEFAULT] options of the share service (host, topics, timers, templates)."""

import socket

from oslo_config import cfg
from oslo_utils import netutils

core_opts = [
    cfg.StrOpt('state_path', default='/var/lib/manila',
               help='Top-level directory for the service state (SQLite '
                    'database, locks, driver data).'),
]

service_opts = [
    cfg.HostAddressOpt('my_ip', default=netutils.get_my_ipv4(),
                       sample_default='<your_ip>',
                       help='IP address of this host.'),
    cfg.StrOpt('host', default=socket.gethostname(),
               sample_default='<your_hostname>',
               help='Name of this node. Each backend serves as '
                    '<host>@<backend>.'),
    cfg.ListOpt('enabled_share_backends',
                help='Names of the backend sections to serve; one RPC '
                     'service is started for each.'),
    cfg.StrOpt('share_topic', default='manila-share',
               help='RPC topic the share service listens on.'),
    cfg.StrOpt('scheduler_topic', default='manila-scheduler',
               help='RPC topic capability reports are sent to.'),
    cfg.StrOpt('data_topic', default='manila-data',
               help='RPC topic of the data service.'),
    cfg.StrOpt('share_manager',
               default='manila.share.manager.ShareManager',
               help='Accepted for compatibility with manila.conf; '
                    'manila_lite always runs its own share manager.'),
    cfg.StrOpt('storage_availability_zone', default='nova',
               help='Availability zone of this node.'),
    cfg.StrOpt('rootwrap_config',
               help='Path to the rootwrap configuration for drivers that '
                    'run commands as root.'),
    cfg.IntOpt('service_down_time', default=60, min=1,
               help='Seconds since the last heartbeat after which a '
                    'service counts as down.'),
    cfg.IntOpt('report_interval', default=10, min=1,
               help='Seconds between heartbeats into the services table.'),
    cfg.IntOpt('cleanup_interval', default=1800, min=300,
               help='Seconds between removals of stopped services of the '
                    'share topic.'),
    cfg.IntOpt('periodic_interval', default=60, min=1,
               help='Seconds between runs of the periodic tasks that have '
                    'no interval option of their own (status polls, '
                    'capability reports); the longest the service sleeps '
                    'between checks for due periodic tasks.'),
    cfg.IntOpt('periodic_fuzzy_delay', default=60, min=0,
               help='Upper bound of a random delay before the first '
                    'periodic run (0 disables it).'),
    cfg.BoolOpt('enable_new_services', default=True,
                help='When False, new services rows are created disabled.'),
    cfg.BoolOpt('update_shares_status_on_ensure', default=True,
                help='Set share instances to "ensuring" while the driver '
                     'ensures them.'),
    cfg.ListOpt('driver_updatable_metadata', default=[],
                help='Share metadata keys that are passed on to drivers '
                     '(read by manila-api, which chooses the keys it casts '
                     'to the share service).'),
    cfg.ListOpt('driver_updatable_subnet_metadata', default=[],
                help='Share network subnet metadata keys that are passed '
                     'on to drivers.'),
    cfg.StrOpt('share_name_template', default='share-%s',
               help='Template for share instance names (takes the '
                    'instance id).'),
    cfg.StrOpt('share_snapshot_name_template', default='share-snapshot-%s',
               help='Template for snapshot instance names.'),
    cfg.StrOpt('share_backup_name_template', default='share-backup-%s',
               help='Template for backup names.'),
    cfg.StrOpt('drivers_private_storage_class',
               default='manila.share.drivers_private_data.SqlStorageDriver',
               help='Accepted for compatibility; driver private data is '
                    'always kept in the drivers_private_data table.'),
    cfg.IntOpt('message_ttl', default=2592000, min=1,
               help='Seconds a user message is kept.'),
    cfg.IntOpt('message_reap_interval', default=86400,
               help='Accepted for compatibility; used by the scheduler.'),
]


def register_opts(conf):
    conf.register_cli_opts(core_opts)
    conf.register_opts(service_opts)


def list_opts():
    return [('DEFAULT', core_opts + service_opts)]
