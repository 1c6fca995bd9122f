"""Backend-section options read by share drivers: upstream's share_opts, ssh/ganesha options and the dummy driver's knobs.

Nothing here is registered on import. ``manila_lite.share.configuration.
Configuration`` grafts these lists into a backend section (``[<backend>]``)
when a driver is built, exactly as upstream's ``ShareDriver.__init__`` does
with ``append_config_values``. Names, types and defaults are upstream's, so an
existing manila.conf backend section reads the same.
"""

from oslo_config import cfg
from oslo_config import types

share_opts = [
    cfg.IntOpt('num_shell_tries', default=3,
               help='How many times a driver retries a shell command that '
                    'failed (drivers using ExecuteMixin).'),
    cfg.IntOpt('reserved_share_percentage', default=0,
               help='Percentage of the backend capacity kept free when '
                    'placing new shares that are not created from a '
                    'snapshot. Reported as the reserved_percentage '
                    'capability.'),
    cfg.IntOpt('reserved_share_from_snapshot_percentage', default=0,
               help='Percentage of the backend capacity kept free when '
                    'placing shares created from a snapshot. Reported as '
                    'the reserved_snapshot_percentage capability.'),
    cfg.IntOpt('reserved_share_extend_percentage', default=0,
               help='Percentage of the backend capacity kept free when '
                    'extending existing shares. Reported as the '
                    'reserved_share_extend_percentage capability.'),
    cfg.StrOpt('share_backend_name',
               help='Backend name reported to the scheduler '
                    '(share_backend_name capability, matched by the share '
                    'type extra spec of the same name).'),
    cfg.StrOpt('network_config_group',
               help='Section holding the network plugin options of this '
                    'backend (DHSS=True only). Defaults to the backend '
                    'section itself.'),
    cfg.BoolOpt('driver_handles_share_servers',
                help='Driver mode of this backend: True when the driver '
                     'creates and manages share servers on share networks, '
                     'False when it exports shares from storage it already '
                     'has. There is no default on purpose: the service '
                     'refuses to start the backend until it is set.'),
    cfg.FloatOpt('max_over_subscription_ratio', default=20.0, min=1.0,
                 help='Ratio of provisioned to physical capacity allowed '
                      'with thin provisioning (1.0 forbids '
                      'over-subscription).'),
    cfg.ListOpt('migration_ignore_files', default=['lost+found'],
                help='File and directory names (no paths) skipped when '
                     'shares are copied during host-assisted migration.'),
    cfg.StrOpt('share_mount_template',
               default='mount -vt %(proto)s %(options)s %(export)s %(path)s',
               help='Mount command handed to the data service for this '
                    'backend; %(export)s and %(path)s are required, '
                    '%(proto)s and %(options)s optional.'),
    cfg.StrOpt('share_unmount_template', default='umount -v %(path)s',
               help='Unmount command handed to the data service for this '
                    'backend; %(path)s is required.'),
    cfg.Opt('protocol_access_mapping',
            type=types.Dict(types.List(types.String(), bounds=True)),
            default={'ip': ['nfs'], 'user': ['cifs']},
            help='Which access types work with which protocols on this '
                 'backend, as {access_type: [protocol, ...]}.'),
    cfg.StrOpt('admin_network_config_group',
               help='Section holding the options of the admin network '
                    'plugin (DHSS=True drivers that need an admin '
                    'network).'),
    cfg.StrOpt('replication_domain',
               help='Replication domain of this backend. Backends that may '
                    'replicate to each other must share the same value; '
                    'unset means replication is off.'),
    cfg.StrOpt('backend_availability_zone',
               help='Availability zone of this backend; defaults to '
                    '[DEFAULT] storage_availability_zone.'),
    cfg.StrOpt('filter_function',
               help='Scheduler expression deciding whether this backend '
                    'may take a request.'),
    cfg.StrOpt('goodness_function',
               help='Scheduler expression rating this backend for a '
                    'request (0-100).'),
    cfg.IntOpt('max_shares_per_share_server', default=-1,
               help='Largest number of share instances placed on one share '
                    'server (-1: no limit).'),
    cfg.IntOpt('max_share_server_size', default=-1,
               help='Largest total size in GB of the shares and snapshots '
                    'of one share server (-1: no limit).'),
]

ssh_opts = [
    cfg.IntOpt('ssh_conn_timeout', default=60,
               help='Timeout in seconds of SSH connections to the storage '
                    'controller.'),
    cfg.IntOpt('ssh_min_pool_conn', default=1,
               help='Smallest number of pooled SSH connections.'),
    cfg.IntOpt('ssh_max_pool_conn', default=10,
               help='Largest number of pooled SSH connections.'),
]

ganesha_opts = [
    cfg.StrOpt('ganesha_config_dir', default='/etc/ganesha',
               help='Directory of the NFS-Ganesha configuration (drivers '
                    'using GaneshaMixin).'),
    cfg.StrOpt('ganesha_config_path',
               default='$ganesha_config_dir/ganesha.conf',
               help='Main NFS-Ganesha configuration file.'),
    cfg.StrOpt('ganesha_service_name', default='ganesha.nfsd',
               help='Name of the NFS-Ganesha service.'),
    cfg.StrOpt('ganesha_db_path', default='$state_path/manila-ganesha.db',
               help='NFS-Ganesha export database file.'),
    cfg.StrOpt('ganesha_export_dir', default='$ganesha_config_dir/export.d',
               help='Directory of the NFS-Ganesha export blocks.'),
    cfg.StrOpt('ganesha_export_template_dir',
               default='/etc/manila/ganesha-export-templ.d',
               help='Directory of the NFS-Ganesha export block templates.'),
    cfg.BoolOpt('ganesha_rados_store_enable', default=False,
                help='Keep NFS-Ganesha exports and the export counter in '
                     'Ceph RADOS objects.'),
    cfg.StrOpt('ganesha_rados_store_pool_name',
               help='Ceph RADOS pool of the NFS-Ganesha exports.'),
    cfg.StrOpt('ganesha_rados_export_counter',
               default='ganesha-export-counter',
               help='Ceph RADOS object holding the export counter.'),
    cfg.StrOpt('ganesha_rados_export_index', default='ganesha-export-index',
               help='Ceph RADOS object listing the export object URLs.'),
]

# Upstream's defaults for the dummy driver delays, verbatim (the dummy
# driver of the test suite sleeps this long in each method).
DUMMY_DEFAULT_METHOD_DELAYS = {
    'ensure_share': '1.05',
    'create_share': '3.98',
    'get_pool': '0.5',
    'do_setup': '0.05',
    '_get_pools_info': '0.1',
    '_update_share_stats': '0.3',
    'create_replica': '3.99',
    'delete_replica': '2.98',
    'promote_replica': '0.75',
    'update_replica_state': '0.85',
    'create_replicated_snapshot': '4.15',
    'delete_replicated_snapshot': '3.16',
    'update_replicated_snapshot': '1.17',
    'migration_start': '1.01',
    'migration_continue': '1.02',
    'migration_complete': '1.03',
    'migration_cancel': '1.04',
    'migration_get_progress': '1.05',
    'migration_check_compatibility': '0.05',
    'create_backup': '1.50',
    'restore_backup': '1.50',
    'update_share_network_subnet_from_metadata': '0.5',
}

dummy_opts = [
    cfg.FloatOpt('dummy_driver_default_driver_method_delay',
                 default=2.0, min=0,
                 help='Seconds the dummy driver sleeps in each of its slow '
                      'methods that dummy_driver_driver_methods_delays does '
                      'not list. Set 0 (and the dict empty) for an instant '
                      'driver.'),
    cfg.DictOpt('dummy_driver_driver_methods_delays',
                default=DUMMY_DEFAULT_METHOD_DELAYS,
                help='Per-method delays of the dummy driver, as '
                     'method_name:seconds pairs. Keys must name dummy '
                     'driver methods; get_network_allocations_number, '
                     'get_admin_network_allocations_number and '
                     'get_share_server_pools cannot be delayed.'),
    # manila_lite additions: fault injection for testing the share service.
    cfg.ListOpt('dummy_driver_fail_methods', default=[],
                help='(manila_lite) Dummy driver methods that raise '
                     'ShareBackendException instead of doing their work, '
                     'e.g. "create_share,extend_share". Use it to exercise '
                     'the error paths of the share service.'),
    cfg.ListOpt('dummy_driver_invalid_return_methods', default=[],
                help='(manila_lite) Dummy driver methods that do their work '
                     'but return a value breaking the driver contract (a '
                     'malformed export location, an unknown status, a '
                     'missing size, ...), to check that the share service '
                     'validates what drivers return.'),
    cfg.FloatOpt('dummy_driver_share_used_size', default=1.0, min=0,
                 help='(manila_lite) Used space in GB the dummy driver '
                      'reports for every share (update_share_usage_size); '
                      'shrinking a share below it raises '
                      'ShareShrinkingPossibleDataLoss. Per-share values can '
                      'be set with DummyDriver.set_share_used_size().'),
    cfg.BoolOpt('dummy_driver_access_keys', default=False,
                help='(manila_lite) Answer update_access with an '
                     'access_key for each rule it applies (a random secret '
                     'kept per rule, as CephFS drivers return for cephx '
                     'rules), to check that keys reach the database and '
                     'never the logs.'),
    cfg.BoolOpt('dummy_driver_server_migration_nondisruptive', default=False,
                help='(manila_lite) Answer '
                     'share_server_migration_check_compatibility with '
                     'nondisruptive True: the share server moves as it is '
                     '(no new server on the backend, the source\'s network '
                     'allocations reused), to exercise the share service\'s '
                     'nondisruptive path.'),
]


def list_opts():
    """Return the backend-section options for oslo-config-generator."""
    return [('DEFAULT', share_opts + ssh_opts + ganesha_opts + dummy_opts)]
