"""ShareManager: the RPC endpoint of one backend (every 1.0–1.30 method) and its periodic tasks.

Each RPC method is a few lines: the ``rpc_method`` guard checks arguments
and the driver, then one function of a per-resource module does the work.
Methods that a later issue implements refuse loudly through
``unsupported.refuse``: an error status and user message for casts, an
exception for calls, never a silent drop.
"""

import threading

import manila_lite.concurrency  # noqa: F401  (selects the backend first)

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging as messaging
from oslo_service import periodic_task
from oslo_utils import timeutils

from manila_lite.conf import manager as manager_opts
from manila_lite.conf import share_driver as driver_opts
from manila_lite import context as ml_context
from manila_lite.data import rpcapi as data_rpcapi
from manila_lite.db import api as db_api
from manila_lite.message import api as message_api
from manila_lite.scheduler import rpcapi as scheduler_rpcapi
from manila_lite.share import access
from manila_lite.share import backups
from manila_lite.share import configuration as share_configuration
from manila_lite.share import driver_loader
from manila_lite.share import drivers_private_data
from manila_lite.share import expiry
from manila_lite.share import features
from manila_lite.share import groups
from manila_lite.share import guard
from manila_lite.share.guard import rpc_method
from manila_lite.share import hook
from manila_lite.share import instances
from manila_lite.share import locks
from manila_lite.share import manage_existing
from manila_lite.share import migration
from manila_lite.share import reconcile
from manila_lite.share.replication import replicas
from manila_lite.share.replication import snapshots as replicated_snapshots
from manila_lite.share import resize
from manila_lite.share import rpcapi as share_rpcapi
from manila_lite.share import server_manage
from manila_lite.share import server_migration
from manila_lite.share import server_updates
from manila_lite.share import servers
from manila_lite.share import shares
from manila_lite.share import snapshots
from manila_lite.share import unsupported
from manila_lite.share import usage

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

# Upstream's decorators, importable from here as from upstream's manager.
add_hooks = hook.add_hooks
locked_share_replica_operation = locks.locked_share_replica_operation

# Longest wait of a request for the driver set-up attempt under way; then
# it fails with DriverNotInitialized as it would after a failed attempt.
DRIVER_SETUP_WAIT = 120

# periodic task name -> [DEFAULT] option holding its spacing, read when the
# manager is built (after the config files are parsed).
_TASK_SPACING_OPTIONS = {
    '_report_driver_status': 'periodic_interval',
    'periodic_share_status_update': 'periodic_interval',
    'update_share_usage_size': 'share_usage_size_update_interval',
    'do_deferred_share_deletion': 'periodic_deferred_delete_interval',
    'do_deferred_snapshot_deletion': 'periodic_deferred_delete_interval',
    'create_backup_continue': 'driver_backup_continue_update_interval',
    'restore_backup_continue': 'driver_restore_continue_update_interval',
    '_execute_periodic_hook': 'periodic_hooks_interval',
    'reconcile_transitional_states': 'transitional_state_check_interval',
    'delete_expired_share':
        'check_for_expired_shares_in_recycle_bin_interval',
    'delete_expired_transfers': 'check_for_expired_transfers',
    'periodic_share_replica_update': 'replica_state_update_interval',
    'periodic_share_replica_snapshot_update': 'replica_state_update_interval',
    'migration_driver_continue': 'migration_driver_continue_update_interval',
    'share_server_migration_driver_continue':
        'server_migration_driver_continue_update_interval',
}


class ShareManager(periodic_task.PeriodicTasks):
    """Manages the shares of one backend (``host@backend``)."""

    RPC_API_VERSION = share_rpcapi.RPC_API_VERSION
    target = messaging.Target(version=RPC_API_VERSION)

    def __init__(self, host, service_name=None):
        super().__init__(CONF)
        self.host = host
        self.service_name = service_name
        self.service_id = None
        self.configuration = share_configuration.Configuration(
            manager_opts.share_manager_opts, config_group=service_name)
        self.configuration.append_config_values(driver_opts.share_opts)
        private_storage = drivers_private_data.DriverPrivateData(
            context=ml_context.get_admin_context(), backend_host=host,
            config_group=service_name)
        self.driver = driver_loader.load_driver(
            self.configuration.share_driver, self.configuration,
            private_storage, section=service_name or 'DEFAULT')
        self.message_api = message_api.API()
        self.hooks = hook.load_hooks(self.configuration, host)
        self.scheduler_rpcapi = scheduler_rpcapi.SchedulerAPI()
        self.share_rpcapi = share_rpcapi.ShareAPI()
        self.data_rpcapi = data_rpcapi.DataAPI()
        self.last_capabilities = None
        self._withheld_capabilities = None
        self._capabilities_lock = threading.Lock()
        self._zone_cache = None
        self.in_flight = guard.InFlight()
        # backlog.Backlog of the RPC queue this manager serves, set by the
        # service that consumes it; None: no queue, so no message can be on
        # its way to a row (the reconciliation goes by age alone).
        self.backlog = None
        # Set while no driver set-up attempt is under way (see
        # _wait_for_driver_setup).
        self._driver_setup_done = threading.Event()
        self._driver_setup_done.set()
        self._periodic_spacing = dict(type(self)._periodic_spacing)
        for task, option in _TASK_SPACING_OPTIONS.items():
            self._periodic_spacing[task] = CONF[option]

    # -- properties ------------------------------------------------------
    @property
    def availability_zone(self):
        return (self.configuration.safe_get('backend_availability_zone') or
                CONF.storage_availability_zone)

    def availability_zone_id(self, context):
        """Id of this service's availability_zones row (looked up once)."""
        name = self.availability_zone
        with self._capabilities_lock:
            cached = self._zone_cache
        if cached and cached[0] == name:
            return cached[1]
        zone = db_api.availability_zone_get_or_create(context, name)
        with self._capabilities_lock:
            self._zone_cache = (name, zone['id'])
        return zone['id']

    @property
    def driver_handles_share_servers(self):
        return bool(self.driver.driver_handles_share_servers)

    # -- lifecycle (called by the service, not over RPC) ----------------
    def init_driver(self):
        """Set the driver up; True once ``do_setup`` and the setup check passed."""
        ctx = ml_context.get_admin_context()
        self.driver.initialized = False
        self.driver.do_setup(ctx)
        self.driver.check_for_setup_error()
        self.driver.initialized = True
        LOG.info('Driver %(driver)s of %(host)s is initialized.',
                 {'driver': type(self.driver).__name__, 'host': self.host})
        return True

    # The three below are the service's (underscored: not callable over RPC).
    def _driver_setup_started(self):
        """The service consumes RPC before its first driver set-up attempt ends."""
        self._driver_setup_done.clear()

    def _driver_setup_finished(self):
        self._driver_setup_done.set()

    def _wait_for_driver_setup(self, timeout=DRIVER_SETUP_WAIT):
        """Block a request that needs the driver until the set-up attempt under way ends."""
        return self._driver_setup_done.wait(timeout)

    @hook.add_hooks
    def init_host(self, service_id=None):
        """Ensure the host's shares and publish capabilities (driver must be set up)."""
        self.service_id = service_id
        ctx = ml_context.get_admin_context()
        try:
            instances.ensure_resources(self, ctx)
        except Exception:
            # Logged; the capabilities report and the reconciliation
            # still run (upstream's init_host would end here).
            LOG.exception('Start-up ensure of %s failed.', self.host)
        try:
            self.publish_service_capabilities(ctx)
        except messaging.ExpectedException:
            pass    # logged by rpc_method; the periodic tasks try again
        except Exception:
            LOG.exception('Capabilities of %s not published.', self.host)
        reconcile.reconcile(self, ctx)

    def init_host_with_rpc(self):
        pass

    def is_service_ready(self):
        """Return whether the driver is initialized and requests can be served."""
        return bool(self.driver.initialized)

    # -- shares and instances --------------------------------------------
    @rpc_method()
    @hook.add_hooks
    def create_share_instance(self, context, share_instance_id,
                              request_spec=None, filter_properties=None,
                              snapshot_id=None):
        instances.create(self, context.elevated(), share_instance_id,
                         snapshot_id=snapshot_id)

    @rpc_method()
    @hook.add_hooks
    def delete_share_instance(self, context, share_instance_id, force=False,
                              deferred_delete=False):
        instances.delete(self, context.elevated(), share_instance_id,
                         force=force, deferred_delete=deferred_delete)

    @rpc_method()
    def ensure_driver_resources(self, context, skip_backend_info_check=False):
        instances.ensure_resources(
            self, context.elevated(),
            skip_backend_info_check=skip_backend_info_check)

    @rpc_method()
    @hook.add_hooks
    def manage_share(self, context, share_id, driver_options=None):
        manage_existing.manage_share(self, context.elevated(), share_id, driver_options)

    @rpc_method()
    @hook.add_hooks
    def unmanage_share(self, context, share_id):
        manage_existing.unmanage_share(self, context.elevated(), share_id)

    @rpc_method()
    @hook.add_hooks
    def extend_share(self, context, share_id, new_size, reservations):
        resize.extend_share(self, context.elevated(), share_id, new_size, reservations)

    @rpc_method()
    @hook.add_hooks
    def shrink_share(self, context, share_id, new_size):
        resize.shrink_share(self, context.elevated(), share_id, new_size)

    @rpc_method()
    @hook.add_hooks
    def revert_to_snapshot(self, context, snapshot_id, reservations=None):
        snapshots.revert_to_snapshot(self, context.elevated(), snapshot_id, reservations=reservations)

    @rpc_method()
    @hook.add_hooks
    def update_access(self, context, share_instance_id):
        access.update_access(self, context.elevated(), share_instance_id)

    @rpc_method()
    def update_access_for_instances(self, context, share_instance_ids,
                                    share_server_id=None):
        access.update_access_for_instances(self, context.elevated(), share_instance_ids, share_server_id=share_server_id)

    @rpc_method()
    def connection_get_info(self, context, share_instance_id):
        return shares.connection_get_info(self, context.elevated(), share_instance_id)

    @rpc_method()
    def transfer_accept(self, context, share_id, new_user, new_project,
                        clear_rules=False):
        return shares.transfer_accept(self, context.elevated(), share_id, new_user, new_project, clear_rules=clear_rules)

    @rpc_method()
    def update_share_from_metadata(self, context, share_id, metadata):
        shares.update_share_from_metadata(self, context.elevated(), share_id, metadata)

    # -- snapshots --------------------------------------------------------
    @rpc_method()
    @hook.add_hooks
    def create_snapshot(self, context, share_id, snapshot_id):
        snapshots.create_snapshot(self, context.elevated(), share_id, snapshot_id)

    @rpc_method()
    @hook.add_hooks
    def delete_snapshot(self, context, snapshot_id, force=False,
                        deferred_delete=False):
        snapshots.delete_snapshot(self, context.elevated(), snapshot_id, force=force, deferred_delete=deferred_delete)

    @rpc_method()
    @hook.add_hooks
    def manage_snapshot(self, context, snapshot_id, driver_options=None):
        snapshots.manage_snapshot(self, context.elevated(), snapshot_id, driver_options)

    @rpc_method()
    @hook.add_hooks
    def unmanage_snapshot(self, context, snapshot_id):
        snapshots.unmanage_snapshot(self, context.elevated(), snapshot_id)

    @rpc_method()
    @hook.add_hooks
    @locked_share_replica_operation
    def create_replicated_snapshot(self, context, snapshot_id, share_id=None):
        replicated_snapshots.create(self, context.elevated(), snapshot_id, share_id)

    @rpc_method()
    @hook.add_hooks
    @locked_share_replica_operation
    def delete_replicated_snapshot(self, context, snapshot_id, share_id=None,
                                   force=False):
        replicated_snapshots.delete(self, context.elevated(), snapshot_id, share_id, force=force)

    @rpc_method()
    def snapshot_update_access(self, context, snapshot_instance_id):
        access.snapshot_update_access(self, context.elevated(), snapshot_instance_id)

    # -- replication -------------------------------------------------------
    @rpc_method()
    @hook.add_hooks
    @locked_share_replica_operation
    def create_share_replica(self, context, share_replica_id,
                             request_spec=None, filter_properties=None,
                             share_id=None):
        replicas.create(self, context.elevated(), share_replica_id)

    @rpc_method()
    @hook.add_hooks
    @locked_share_replica_operation
    def delete_share_replica(self, context, share_replica_id, share_id=None,
                             force=False):
        replicas.delete(self, context.elevated(), share_replica_id, force=force)

    @rpc_method()
    @hook.add_hooks
    @locked_share_replica_operation
    def promote_share_replica(self, context, share_replica_id, share_id=None,
                              quiesce_wait_time=None):
        replicas.promote(self, context.elevated(), share_replica_id, quiesce_wait_time=quiesce_wait_time)

    @rpc_method()
    @hook.add_hooks
    def update_share_replica(self, context, share_replica_id, share_id=None):
        replicas.update(self, context.elevated(), share_replica_id)

    # -- share servers -------------------------------------------------------
    @rpc_method()
    @hook.add_hooks
    def delete_share_server(self, context, share_server):
        servers.delete_share_server(self, context.elevated(), share_server)

    @rpc_method()
    def provide_share_server(self, context, share_instance_id,
                             share_network_id, snapshot_id=None):
        return servers.provide_share_server(self, context.elevated(), share_instance_id, share_network_id, snapshot_id=snapshot_id)

    @rpc_method()
    def create_share_server(self, context, share_server_id,
                            share_instance_id=None):
        servers.create_share_server(self, context.elevated(), share_server_id, share_instance_id=share_instance_id)

    @rpc_method()
    @hook.add_hooks
    def manage_share_server(self, context, share_server_id, identifier,
                            driver_opts):
        server_manage.manage_share_server(self, context.elevated(), share_server_id, identifier, driver_opts)

    @rpc_method()
    @hook.add_hooks
    def unmanage_share_server(self, context, share_server_id, force=False):
        server_manage.unmanage_share_server(self, context.elevated(), share_server_id, force=force)

    @rpc_method()
    @hook.add_hooks
    def share_server_migration_check(self, context, share_server_id,
                                     dest_host, writable, nondisruptive,
                                     preserve_snapshots,
                                     new_share_network_id=None):
        return server_migration.check(
            self, context.elevated(), share_server_id, dest_host, writable,
            nondisruptive, preserve_snapshots,
            new_share_network_id=new_share_network_id)

    @rpc_method()
    @hook.add_hooks
    def share_server_migration_start(self, context, share_server_id,
                                     dest_host, writable, nondisruptive,
                                     preserve_snapshots,
                                     new_share_network_id=None):
        server_migration.start(
            self, context.elevated(), share_server_id, dest_host, writable,
            nondisruptive, preserve_snapshots,
            new_share_network_id=new_share_network_id)

    @rpc_method()
    @hook.add_hooks
    def share_server_migration_complete(self, context, src_share_server_id,
                                        dest_share_server_id):
        server_migration.complete(self, context.elevated(), src_share_server_id, dest_share_server_id)

    @rpc_method()
    @hook.add_hooks
    def share_server_migration_cancel(self, context, src_share_server_id,
                                      dest_share_server_id):
        server_migration.cancel(self, context.elevated(), src_share_server_id, dest_share_server_id)

    @rpc_method()
    @hook.add_hooks
    def share_server_migration_get_progress(self, context,
                                            src_share_server_id,
                                            dest_share_server_id):
        return server_migration.get_progress(self, context.elevated(), src_share_server_id, dest_share_server_id)

    @rpc_method()
    def update_share_network_security_service(
            self, context, share_network_id, new_security_service_id,
            current_security_service_id=None):
        server_updates.update_share_network_security_service(
            self, context.elevated(), share_network_id,
            new_security_service_id,
            current_security_service_id=current_security_service_id)

    @rpc_method()
    def check_update_share_network_security_service(
            self, context, share_network_id, new_security_service_id,
            current_security_service_id=None):
        server_updates.check_update_share_network_security_service(
            self, context.elevated(), share_network_id,
            new_security_service_id,
            current_security_service_id=current_security_service_id)

    @rpc_method()
    def check_update_share_server_network_allocations(
            self, context, share_network_id, new_share_network_subnet):
        server_updates.check_update_share_server_network_allocations(self, context.elevated(), share_network_id, new_share_network_subnet)

    @rpc_method()
    def update_share_server_network_allocations(
            self, context, share_network_id, new_share_network_subnet_id):
        server_updates.update_share_server_network_allocations(self, context.elevated(), share_network_id, new_share_network_subnet_id)

    @rpc_method()
    def update_share_network_subnet_from_metadata(
            self, context, share_network_id, share_network_subnet_id,
            share_server_id, metadata):
        server_updates.update_share_network_subnet_from_metadata(
            self, context.elevated(), share_network_id,
            share_network_subnet_id, share_server_id, metadata)

    # -- share migration ------------------------------------------------------
    @rpc_method()
    def migration_start(self, context, share_id, dest_host,
                        force_host_assisted_migration, preserve_metadata,
                        writable, nondisruptive, preserve_snapshots,
                        new_share_network_id=None, new_share_type_id=None):
        migration.start(
            self, context.elevated(), share_id, dest_host,
            force_host_assisted_migration, preserve_metadata, writable,
            nondisruptive, preserve_snapshots,
            new_share_network_id=new_share_network_id,
            new_share_type_id=new_share_type_id)

    @rpc_method()
    def migration_complete(self, context, src_instance_id, dest_instance_id):
        migration.complete(self, context.elevated(), src_instance_id, dest_instance_id)

    @rpc_method()
    def migration_cancel(self, context, src_instance_id, dest_instance_id):
        migration.cancel(self, context.elevated(), src_instance_id, dest_instance_id)

    @rpc_method()
    def migration_get_progress(self, context, src_instance_id,
                               dest_instance_id):
        return migration.get_progress(self, context.elevated(), src_instance_id, dest_instance_id)

    # -- share groups ------------------------------------------------------------
    @rpc_method()
    def create_share_group(self, context, share_group_id):
        groups.create_share_group(self, context.elevated(), share_group_id)

    @rpc_method()
    def delete_share_group(self, context, share_group_id):
        groups.delete_share_group(self, context.elevated(), share_group_id)

    @rpc_method()
    def create_share_group_snapshot(self, context, share_group_snapshot_id):
        groups.create_share_group_snapshot(self, context.elevated(), share_group_snapshot_id)

    @rpc_method()
    def delete_share_group_snapshot(self, context, share_group_snapshot_id):
        groups.delete_share_group_snapshot(self, context.elevated(), share_group_snapshot_id)

    # -- backups -------------------------------------------------------------------
    @rpc_method()
    def create_backup(self, context, backup):
        backups.create_backup(self, context.elevated(), backup)

    @rpc_method()
    def delete_backup(self, context, backup):
        backups.delete_backup(self, context.elevated(), backup)

    @rpc_method()
    def restore_backup(self, context, backup, share_id):
        backups.restore_backup(self, context.elevated(), backup, share_id)

    # -- capabilities ------------------------------------------------------------
    @rpc_method(require_driver=False)
    @hook.add_hooks
    def publish_service_capabilities(self, context):
        """Refresh driver stats and send them to the schedulers (fanout)."""
        self._report_driver_status(context)
        self._publish_service_capabilities(context)

    def _refuse(self, context, method, **kwargs):
        unsupported.refuse(context.elevated(), method, kwargs, self.host)

    # -- periodic tasks ------------------------------------------------------------
    # As upstream: no hooks here (they run around publish_service_capabilities).
    @periodic_task.periodic_task(spacing=60, run_immediately=True)
    def _report_driver_status(self, context):
        if not self.driver.initialized:
            return
        stats = self.driver.get_share_stats(refresh=True)
        if not isinstance(stats, dict):
            LOG.error('Driver get_share_stats returned %s, not a dict.',
                      type(stats).__name__)
            return
        if self.driver_handles_share_servers:
            stats = dict(stats, server_pools_mapping=(
                servers.server_pools_mapping(self, context)))
        capabilities, withheld = features.reportable(stats)
        self._log_withheld(withheld, capabilities is None)
        with self._capabilities_lock:
            self.last_capabilities = capabilities

    def _log_withheld(self, withheld, nothing):
        """Say once (and again when it changes) which capabilities are not published."""
        if (withheld, nothing) == self._withheld_capabilities:
            return
        self._withheld_capabilities = (withheld, nothing)
        if nothing:
            LOG.warning('Backend %(host)s reports %(caps)s, a mode this '
                        'service does not implement yet: its capabilities '
                        'are not published, so no scheduler sends it work.',
                        {'host': self.host, 'caps': ', '.join(withheld)})
        elif withheld:
            LOG.warning('Capabilities %(caps)s of %(host)s promise features '
                        'this service does not implement yet; they are '
                        'published as unsupported.',
                        {'caps': ', '.join(withheld), 'host': self.host})

    @periodic_task.periodic_task(spacing=0, run_immediately=True)
    def _publish_service_capabilities(self, context):
        with self._capabilities_lock:
            capabilities = self.last_capabilities
        if capabilities is None:
            return
        self.scheduler_rpcapi.update_service_capabilities(
            context, 'share', self.host, capabilities,
            timestamp=timeutils.utcnow())

    @periodic_task.periodic_task(spacing=60)
    def periodic_share_status_update(self, context):
        if self.driver.initialized:
            instances.periodic_share_status_update(self, context)

    @periodic_task.periodic_task(spacing=300)
    def update_share_usage_size(self, context):
        if self.driver.initialized and CONF.enable_gathering_share_usage_size:
            usage.update_share_usage_size(self, context)

    @periodic_task.periodic_task(spacing=300)
    def do_deferred_share_deletion(self, context):
        if self.driver.initialized:
            instances.deferred_deletion(self, context)

    @periodic_task.periodic_task(spacing=300)
    def do_deferred_snapshot_deletion(self, context):
        if self.driver.initialized:
            snapshots.deferred_deletion(self, context)

    @periodic_task.periodic_task(spacing=3600)
    def delete_expired_share(self, context):
        if self.driver.initialized:
            expiry.delete_expired_shares(self, context)

    @periodic_task.periodic_task(spacing=300)
    def delete_expired_transfers(self, context):
        expiry.delete_expired_transfers(self, context)

    @periodic_task.periodic_task(spacing=600)
    def delete_free_share_servers(self, context):
        if self.driver.initialized:
            servers.delete_free_share_servers(self, context)

    @periodic_task.periodic_task(spacing=300)
    def periodic_share_replica_update(self, context):
        if self.driver.initialized:
            replicas.periodic_update(self, context)

    @periodic_task.periodic_task(spacing=300)
    def periodic_share_replica_snapshot_update(self, context):
        if self.driver.initialized:
            replicated_snapshots.periodic_update(self, context)

    @periodic_task.periodic_task(spacing=60)
    def migration_driver_continue(self, context):
        if self.driver.initialized:
            migration.driver_continue(self, context)

    @periodic_task.periodic_task(spacing=900)
    def share_server_migration_driver_continue(self, context):
        if self.driver.initialized:
            server_migration.driver_continue(self, context)

    @periodic_task.periodic_task(spacing=60)
    def create_backup_continue(self, context):
        if self.driver.initialized:
            backups.create_backup_continue(self, context)

    @periodic_task.periodic_task(spacing=60)
    def restore_backup_continue(self, context):
        if self.driver.initialized:
            backups.restore_backup_continue(self, context)

    @periodic_task.periodic_task(spacing=300)
    def _execute_periodic_hook(self, context):
        if self.driver.initialized:
            hook.execute_periodic_hook(self, context)

    @periodic_task.periodic_task(spacing=60)
    def reconcile_transitional_states(self, context):
        if self.driver.initialized:
            reconcile.reconcile(self, context)

    def periodic_tasks(self, context, raise_on_error=False):
        """Run the due periodic tasks; returns seconds until the next one."""
        return self.run_periodic_tasks(context, raise_on_error=raise_on_error)
