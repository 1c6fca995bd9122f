"""ShareAPI, the RPC client of the share service, and the one home of its RPC version."""


from oslo_config import cfg
import oslo_messaging as messaging
from oslo_serialization import jsonutils

from manila_lite.common import hosts
from manila_lite import rpc

CONF = cfg.CONF

# The version the share manager's endpoint advertises and the cap of this
# client. ShareManager.RPC_API_VERSION reads it from here.
RPC_API_VERSION = '1.30'


class ShareAPI(rpc.LazyClientAPI):
    """Client side of the share service RPC API (topic ``share_topic``).

    Every method sends exactly what upstream manila's client of the same
    name sends: method name, keyword arguments, version, cast or call, and
    server ``<host>@<backend>`` (pool stripped). Only
    ``publish_service_capabilities`` is a fanout.

    Version history (what each minor version changed on the wire):

    * 1.0  - First version: share create/delete, snapshots, access rules,
      share server deletion, capability refresh fanout.
    * 1.1  - manage_share and unmanage_share.
    * 1.2  - extend_share.
    * 1.3  - shrink_share.
    * 1.4  - Share instances: create_share/delete_share became
      create_share_instance/delete_share_instance; access calls name the
      instance.
    * 1.5  - Consistency groups and their snapshots (create/delete).
    * 1.6  - Share migration: migrate_share plus migration info calls.
    * 1.7  - Changed how allow/deny access target a host (gone with 1.14).
    * 1.8  - Replication: create, delete, promote and update a replica.
    * 1.9  - manage_snapshot and unmanage_snapshot.
    * 1.10 - migrate_share renamed migration_start; migration_complete,
      migration_cancel and migration_get_progress added; info calls
      renamed.
    * 1.11 - create_replicated_snapshot and delete_replicated_snapshot.
    * 1.12 - provide_share_server and create_share_server; migration calls
      take source/destination instance ids; migration_get_info renamed
      connection_get_info; the driver-info call removed.
    * 1.13 - revert_to_snapshot.
    * 1.14 - update_access replaces allow_access and deny_access.
    * 1.15 - migration_start takes preserve_snapshots.
    * 1.16 - Consistency groups became share groups
      (create/delete_share_group, create/delete_share_group_snapshot).
    * 1.17 - snapshot_update_access.
    * 1.18 - revert_to_snapshot no longer sends share_id.
    * 1.19 - manage_share_server and unmanage_share_server.
    * 1.20 - create_share_server takes share_instance_id.
    * 1.21 - Share server migration (check, start, complete, cancel,
      get_progress) and update_access_for_instances.
    * 1.22 - update_ and check_update_share_network_security_service.
    * 1.23 - update_ and check_update_share_server_network_allocations.
    * 1.24 - promote_share_replica takes quiesce_wait_time.
    * 1.25 - transfer_accept (a call).
    * 1.26 - create_backup, delete_backup and restore_backup.
    * 1.27 - delete_share_instance and delete_snapshot take deferred_delete.
    * 1.28 - update_share_from_metadata.
    * 1.29 - ensure_driver_resources (the "ensure shares" admin action).
    * 1.30 - update_share_network_subnet_from_metadata.
    """

    BASE_RPC_API_VERSION = '1.0'
    VERSION_CAP = RPC_API_VERSION

    def __init__(self, topic=None, retry=None):
        # ``retry`` bounds the reconnections of a send (None: no bound).
        super().__init__()
        self._topic = topic
        self._retry = retry

    def _make_client(self):
        target = messaging.Target(topic=self._topic or CONF.share_topic,
                                  version=self.BASE_RPC_API_VERSION)
        return rpc.get_client(target, version_cap=self.VERSION_CAP,
                              retry=self._retry)

    def _prepare(self, host, version=None):
        server = hosts.extract_host(host, level='backend')
        if version is None:
            return self.client.prepare(server=server)
        return self.client.prepare(server=server, version=version)

    def _cast(self, context, host, version, method, **kwargs):
        self._prepare(host, version).cast(context, method, **kwargs)

    def _call(self, context, host, version, method, **kwargs):
        return self._prepare(host, version).call(context, method, **kwargs)

    # -- shares and share instances ---------------------------------------

    def create_share_instance(self, context, share_instance, host,
                              request_spec, filter_properties,
                              snapshot_id=None):
        self._cast(context, host, '1.4', 'create_share_instance',
                   share_instance_id=share_instance['id'],
                   request_spec=jsonutils.to_primitive(request_spec),
                   filter_properties=filter_properties,
                   snapshot_id=snapshot_id)

    def delete_share_instance(self, context, share_instance, force=False,
                              deferred_delete=False):
        self._cast(context, share_instance['host'], '1.27',
                   'delete_share_instance',
                   share_instance_id=share_instance['id'],
                   force=force, deferred_delete=deferred_delete)

    def manage_share(self, context, share, driver_options=None):
        self._cast(context, share['instance']['host'], '1.1', 'manage_share',
                   share_id=share['id'], driver_options=driver_options)

    def unmanage_share(self, context, share):
        self._cast(context, share['instance']['host'], '1.1',
                   'unmanage_share', share_id=share['id'])

    def extend_share(self, context, share, new_size, reservations):
        self._cast(context, share['instance']['host'], '1.2', 'extend_share',
                   share_id=share['id'], new_size=new_size,
                   reservations=reservations)

    def shrink_share(self, context, share, new_size):
        self._cast(context, share['instance']['host'], '1.3', 'shrink_share',
                   share_id=share['id'], new_size=new_size)

    def revert_to_snapshot(self, context, share, snapshot, host,
                           reservations):
        self._cast(context, host, '1.18', 'revert_to_snapshot',
                   snapshot_id=snapshot['id'], reservations=reservations)

    def update_access(self, context, share_instance):
        self._cast(context, share_instance['host'], '1.14', 'update_access',
                   share_instance_id=share_instance['id'])

    def update_access_for_instances(self, context, dest_host,
                                    share_instance_ids, share_server_id=None):
        self._cast(context, dest_host, '1.21', 'update_access_for_instances',
                   share_instance_ids=share_instance_ids,
                   share_server_id=share_server_id)

    def connection_get_info(self, context, share_instance):
        return self._call(context, share_instance['host'], '1.12',
                          'connection_get_info',
                          share_instance_id=share_instance['id'])

    def transfer_accept(self, context, share, new_user, new_project,
                        clear_rules=False):
        self._call(context, share['instance']['host'], '1.25',
                   'transfer_accept', share_id=share['id'],
                   new_user=new_user, new_project=new_project,
                   clear_rules=clear_rules)

    def update_share_from_metadata(self, context, share, metadata):
        self._cast(context, share['instance']['host'], '1.28',
                   'update_share_from_metadata',
                   share_id=share['id'], metadata=metadata)

    def ensure_driver_resources(self, context, host):
        self._cast(context, host, '1.29', 'ensure_driver_resources',
                   skip_backend_info_check=True)

    # -- snapshots --------------------------------------------------------

    def create_snapshot(self, context, share, snapshot):
        # Upstream prepares no version here: the target's 1.0 goes out.
        self._cast(context, share['instance']['host'], None,
                   'create_snapshot',
                   share_id=share['id'], snapshot_id=snapshot['id'])

    def delete_snapshot(self, context, snapshot, host, force=False,
                        deferred_delete=False):
        self._cast(context, host, '1.27', 'delete_snapshot',
                   snapshot_id=snapshot['id'], force=force,
                   deferred_delete=deferred_delete)

    def manage_snapshot(self, context, snapshot, host, driver_options=None):
        self._cast(context, host, '1.9', 'manage_snapshot',
                   snapshot_id=snapshot['id'], driver_options=driver_options)

    def unmanage_snapshot(self, context, snapshot, host):
        self._cast(context, host, '1.9', 'unmanage_snapshot',
                   snapshot_id=snapshot['id'])

    def create_replicated_snapshot(self, context, share, replicated_snapshot):
        self._cast(context, share['instance']['host'], '1.11',
                   'create_replicated_snapshot',
                   snapshot_id=replicated_snapshot['id'],
                   share_id=share['id'])

    def delete_replicated_snapshot(self, context, replicated_snapshot, host,
                                   share_id=None, force=False):
        self._cast(context, host, '1.11', 'delete_replicated_snapshot',
                   snapshot_id=replicated_snapshot['id'],
                   share_id=share_id, force=force)

    def snapshot_update_access(self, context, snapshot_instance):
        self._cast(context, snapshot_instance['share_instance']['host'],
                   '1.17', 'snapshot_update_access',
                   snapshot_instance_id=snapshot_instance['id'])

    # -- replication ------------------------------------------------------

    def create_share_replica(self, context, share_replica, host,
                             request_spec, filter_properties):
        self._cast(context, host, '1.8', 'create_share_replica',
                   share_replica_id=share_replica['id'],
                   request_spec=jsonutils.to_primitive(request_spec),
                   filter_properties=filter_properties,
                   share_id=share_replica['share_id'])

    def delete_share_replica(self, context, share_replica, force=False):
        self._cast(context, share_replica['host'], '1.8',
                   'delete_share_replica',
                   share_replica_id=share_replica['id'],
                   share_id=share_replica['share_id'], force=force)

    def promote_share_replica(self, context, share_replica,
                              quiesce_wait_time=None):
        self._cast(context, share_replica['host'], '1.24',
                   'promote_share_replica',
                   share_replica_id=share_replica['id'],
                   share_id=share_replica['share_id'],
                   quiesce_wait_time=quiesce_wait_time)

    def update_share_replica(self, context, share_replica):
        self._cast(context, share_replica['host'], '1.8',
                   'update_share_replica',
                   share_replica_id=share_replica['id'],
                   share_id=share_replica['share_id'])

    # -- share servers ----------------------------------------------------

    def delete_share_server(self, context, share_server):
        self._cast(context, share_server['host'], '1.0',
                   'delete_share_server', share_server=share_server)

    def provide_share_server(self, context, share_instance, share_network_id,
                             snapshot_id=None):
        return self._call(context, share_instance['host'], '1.12',
                          'provide_share_server',
                          share_instance_id=share_instance['id'],
                          share_network_id=share_network_id,
                          snapshot_id=snapshot_id)

    def create_share_server(self, context, share_instance, share_server_id):
        self._cast(context, share_instance['host'], '1.20',
                   'create_share_server',
                   share_server_id=share_server_id,
                   share_instance_id=share_instance['id'])

    def manage_share_server(self, context, share_server, identifier,
                            driver_opts):
        self._cast(context, share_server['host'], '1.19',
                   'manage_share_server',
                   share_server_id=share_server['id'],
                   identifier=identifier, driver_opts=driver_opts)

    def unmanage_share_server(self, context, share_server, force=False):
        self._cast(context, share_server['host'], '1.19',
                   'unmanage_share_server',
                   share_server_id=share_server['id'], force=force)

    def share_server_migration_check(self, context, share_server_id,
                                     dest_host, writable, nondisruptive,
                                     preserve_snapshots,
                                     new_share_network_id):
        return self._call(context, dest_host, '1.21',
                          'share_server_migration_check',
                          share_server_id=share_server_id,
                          dest_host=dest_host, writable=writable,
                          nondisruptive=nondisruptive,
                          preserve_snapshots=preserve_snapshots,
                          new_share_network_id=new_share_network_id)

    def share_server_migration_start(self, context, share_server, dest_host,
                                     writable, nondisruptive,
                                     preserve_snapshots,
                                     new_share_network_id):
        self._cast(context, dest_host, '1.21', 'share_server_migration_start',
                   share_server_id=share_server['id'],
                   dest_host=dest_host, writable=writable,
                   nondisruptive=nondisruptive,
                   preserve_snapshots=preserve_snapshots,
                   new_share_network_id=new_share_network_id)

    def share_server_migration_complete(self, context, dest_host,
                                        share_server, dest_share_server):
        self._cast(context, dest_host, '1.21',
                   'share_server_migration_complete',
                   src_share_server_id=share_server['id'],
                   dest_share_server_id=dest_share_server['id'])

    def share_server_migration_cancel(self, context, dest_host, share_server,
                                      dest_share_server):
        self._cast(context, dest_host, '1.21',
                   'share_server_migration_cancel',
                   src_share_server_id=share_server['id'],
                   dest_share_server_id=dest_share_server['id'])

    def share_server_migration_get_progress(self, context, dest_host,
                                            share_server, dest_share_server):
        return self._call(context, dest_host, '1.21',
                          'share_server_migration_get_progress',
                          src_share_server_id=share_server['id'],
                          dest_share_server_id=dest_share_server['id'])

    def update_share_network_security_service(
            self, context, dest_host, share_network_id,
            new_security_service_id, current_security_service_id=None):
        self._cast(context, dest_host, '1.22',
                   'update_share_network_security_service',
                   share_network_id=share_network_id,
                   new_security_service_id=new_security_service_id,
                   current_security_service_id=current_security_service_id)

    def check_update_share_network_security_service(
            self, context, dest_host, share_network_id,
            new_security_service_id, current_security_service_id=None):
        self._cast(context, dest_host, '1.22',
                   'check_update_share_network_security_service',
                   share_network_id=share_network_id,
                   new_security_service_id=new_security_service_id,
                   current_security_service_id=current_security_service_id)

    def check_update_share_server_network_allocations(
            self, context, dest_host, share_network_id,
            new_share_network_subnet):
        self._cast(context, dest_host, '1.23',
                   'check_update_share_server_network_allocations',
                   share_network_id=share_network_id,
                   new_share_network_subnet=new_share_network_subnet)

    def update_share_server_network_allocations(
            self, context, dest_host, share_network_id,
            new_share_network_subnet_id):
        self._cast(context, dest_host, '1.23',
                   'update_share_server_network_allocations',
                   share_network_id=share_network_id,
                   new_share_network_subnet_id=new_share_network_subnet_id)

    def update_share_network_subnet_from_metadata(
            self, context, share_network_id, share_network_subnet_id,
            share_server, metadata):
        self._cast(context, share_server['host'], '1.30',
                   'update_share_network_subnet_from_metadata',
                   share_network_id=share_network_id,
                   share_network_subnet_id=share_network_subnet_id,
                   share_server_id=share_server['id'], metadata=metadata)

    # -- share migration --------------------------------------------------

    def migration_start(self, context, share, dest_host,
                        force_host_assisted_migration, preserve_metadata,
                        writable, nondisruptive, preserve_snapshots,
                        new_share_network_id, new_share_type_id):
        self._cast(context, share['instance']['host'], '1.15',
                   'migration_start', share_id=share['id'],
                   dest_host=dest_host,
                   force_host_assisted_migration=(
                       force_host_assisted_migration),
                   preserve_metadata=preserve_metadata, writable=writable,
                   nondisruptive=nondisruptive,
                   preserve_snapshots=preserve_snapshots,
                   new_share_network_id=new_share_network_id,
                   new_share_type_id=new_share_type_id)

    def migration_complete(self, context, src_share_instance,
                           dest_instance_id):
        self._cast(context, src_share_instance['host'], '1.12',
                   'migration_complete',
                   src_instance_id=src_share_instance['id'],
                   dest_instance_id=dest_instance_id)

    def migration_cancel(self, context, src_share_instance,
                         dest_instance_id):
        self._cast(context, src_share_instance['host'], '1.12',
                   'migration_cancel',
                   src_instance_id=src_share_instance['id'],
                   dest_instance_id=dest_instance_id)

    def migration_get_progress(self, context, src_share_instance,
                               dest_instance_id):
        return self._call(context, src_share_instance['host'], '1.12',
                          'migration_get_progress',
                          src_instance_id=src_share_instance['id'],
                          dest_instance_id=dest_instance_id)

    # -- share groups -----------------------------------------------------

    def create_share_group(self, context, share_group, host):
        self._cast(context, host, '1.16', 'create_share_group',
                   share_group_id=share_group['id'])

    def delete_share_group(self, context, share_group):
        self._cast(context, share_group['host'], '1.16', 'delete_share_group',
                   share_group_id=share_group['id'])

    def create_share_group_snapshot(self, context, share_group_snapshot,
                                    host):
        self._cast(context, host, '1.16', 'create_share_group_snapshot',
                   share_group_snapshot_id=share_group_snapshot['id'])

    def delete_share_group_snapshot(self, context, share_group_snapshot,
                                    host):
        self._cast(context, host, '1.16', 'delete_share_group_snapshot',
                   share_group_snapshot_id=share_group_snapshot['id'])

    # -- backups ----------------------------------------------------------

    def create_backup(self, context, backup):
        self._cast(context, backup['host'], '1.26', 'create_backup',
                   backup=backup)

    def delete_backup(self, context, backup):
        self._cast(context, backup['host'], '1.26', 'delete_backup',
                   backup=backup)

    def restore_backup(self, context, backup, share_id):
        self._cast(context, backup['host'], '1.26', 'restore_backup',
                   backup=backup, share_id=share_id)

    # -- fanout -----------------------------------------------------------

    def publish_service_capabilities(self, context):
        cctxt = self.client.prepare(fanout=True, version='1.0')
        cctxt.cast(context, 'publish_service_capabilities')
