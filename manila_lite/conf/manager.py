"""Share manager options: registered in [DEFAULT] and grafted into every backend section."""

from oslo_config import cfg

share_manager_opts = [
    cfg.StrOpt('share_driver',
               help='Driver of this backend: a registered alias (dummy, '
                    'localfs) or a dotted class path. No default: set it '
                    'in each section named by [DEFAULT] '
                    'enabled_share_backends (upstream\'s default, the '
                    'generic driver, does not exist here).'),
    cfg.ListOpt('hook_drivers', default=[],
                help='Hook classes run before and after driver actions and '
                     'periodically.'),
    cfg.BoolOpt('delete_share_server_with_last_share', default=False,
                help='Delete a share server as soon as its last share is '
                     'deleted.'),
    cfg.BoolOpt('unmanage_remove_access_rules', default=False,
                help='Deny all access rules when a share or snapshot is '
                     'unmanaged.'),
    cfg.BoolOpt('automatic_share_server_cleanup', default=True,
                help='Delete share servers that stayed unused longer than '
                     'unused_share_server_cleanup_interval.'),
    cfg.IntOpt('unused_share_server_cleanup_interval', default=10,
               min=10, max=720,
               help='Minutes a share server must stay unused before it is '
                    'deleted automatically.'),
    cfg.IntOpt('replica_state_update_interval', default=300,
               help='Seconds between replica health polls.'),
    cfg.IntOpt('migration_driver_continue_update_interval', default=60,
               help='Seconds between driver migration progress steps.'),
    cfg.IntOpt('server_migration_driver_continue_update_interval',
               default=900,
               help='Seconds between share server migration progress '
                    'steps.'),
    cfg.BoolOpt('server_migration_extend_neutron_network', default=False,
                help='Extend Neutron port bindings to the destination during '
                     'share server migration.'),
    cfg.IntOpt('share_usage_size_update_interval', default=300,
               help='Seconds between share usage size polls.'),
    cfg.BoolOpt('enable_gathering_share_usage_size', default=False,
                help='Poll drivers for share usage sizes.'),
    cfg.BoolOpt('share_service_inithost_offload', default=False,
                help='Ensure shares one by one in a thread pool at start-up '
                     'for drivers without bulk ensure_shares.'),
    cfg.IntOpt('check_for_expired_shares_in_recycle_bin_interval',
               default=3600,
               help='Seconds between checks for expired shares in the '
                    'recycle bin.'),
    cfg.IntOpt('check_for_expired_transfers', default=300,
               help='Seconds between checks for expired transfers.'),
    cfg.IntOpt('driver_backup_continue_update_interval', default=60,
               help='Seconds between backup progress polls.'),
    cfg.IntOpt('driver_restore_continue_update_interval', default=60,
               help='Seconds between restore progress polls.'),
    cfg.IntOpt('periodic_deferred_delete_interval', default=300,
               help='Seconds between deferred deletion attempts.'),
]

migration_opts = [
    cfg.IntOpt('migration_wait_access_rules_timeout', default=180,
               help='Seconds to wait for access rules during migration.'),
    cfg.IntOpt('migration_create_delete_share_timeout', default=300,
               help='Seconds to wait for destination instance creation or '
                    'deletion during host-assisted migration.'),
]

hook_opts = [
    cfg.FloatOpt('periodic_hooks_interval', default=300.0,
                 help='Seconds between periodic hook runs.'),
]

# Upstream registers this one with its share API; its share service reads
# it when the recycle-bin task deletes expired shares.
share_api_opts = [
    cfg.BoolOpt('is_deferred_deletion_enabled', default=False,
                help='Delete shares in a deferred manner: quota is given '
                     'back as soon as the deletion is accepted and the '
                     'backend deletion may finish later. Used when expired '
                     'shares are deleted from the recycle bin.'),
]

ks_opts = [
    cfg.StrOpt('auth_url', help='Keystone authentication URL.'),
]


def register_opts(conf):
    conf.register_opts(share_manager_opts)
    conf.register_opts(migration_opts)
    conf.register_opts(hook_opts)
    conf.register_opts(share_api_opts)
    conf.register_opts(ks_opts, group='keystone_authtoken')


def list_opts():
    return [('DEFAULT', share_manager_opts + migration_opts + hook_opts +
             share_api_opts),
            ('keystone_authtoken', ks_opts)]
