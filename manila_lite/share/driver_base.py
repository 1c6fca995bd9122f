"""Optional parts of the ShareDriver contract (share servers, replication, migration, groups, backups) as mixins.

``manila_lite.share.driver.ShareDriver`` inherits every class of this module;
drivers subclass ``ShareDriver`` only and never import this module. The
methods live here to keep each module readable; their names, arguments and
return shapes are upstream's. Defaults either raise ``NotImplementedError``
(the share service then reports the feature as unsupported) or implement
the generic behaviour upstream's base class has.
"""

from oslo_log import log

from manila_lite.common import constants
from manila_lite import exception

LOG = log.getLogger(__name__)


class ShareServerMixin(object):
    """Share servers and their networking; only used when DHSS is True.

    With ``driver_handles_share_servers = True`` the share service creates a
    ``share_servers`` row per (host, share network subnet), asks the driver
    how many IP allocations it needs, lets the network plugin allocate them
    and then calls :meth:`setup_server`. ``network_api`` (and
    ``admin_network_api`` with ``admin_network_config_group``) are the
    backend's network plugins (``manila_lite.network``), attached by
    ``ShareDriver.__init__`` in DHSS=True mode. Without a plugin,
    :meth:`allocate_network` raises ``NetworkBadConfigurationException``
    for drivers that ask for allocations.
    """

    network_api = None

    @property
    def admin_network_api(self):
        """Network plugin of the admin network (label ``admin``) or None."""
        return getattr(self, '_admin_network_api', None)

    @admin_network_api.setter
    def admin_network_api(self, value):
        self._admin_network_api = value

    def get_network_allocations_number(self):
        """Return how many user-network IPs a new share server needs (per subnet).

        DHSS=True drivers must implement it; return 0 when something else
        (e.g. Nova) allocates the ports.
        """
        raise NotImplementedError()

    def get_admin_network_allocations_number(self):
        """Return how many admin-network IPs a share server needs (default 0)."""
        return 0

    def allocate_network(self, context, share_server, share_network,
                         share_network_subnet, count=None, **kwargs):
        """Have the network plugin allocate ``count`` IPs for ``share_server``."""
        if count is None:
            count = self.get_network_allocations_number()
        if not count:
            return
        if self.network_api is None:
            raise exception.NetworkBadConfigurationException(
                reason='the driver needs %s network allocations but no '
                       'network plugin is configured for this backend'
                       % count)
        kwargs.update(count=count)
        self.network_api.allocate_network(
            context, share_server, share_network=share_network,
            share_network_subnet=share_network_subnet, **kwargs)

    def allocate_admin_network(self, context, share_server, count=None,
                               **kwargs):
        """Have the admin network plugin allocate ``count`` admin IPs."""
        if count is None:
            count = self.get_admin_network_allocations_number()
        if not count:
            return
        if not self.admin_network_api:
            raise exception.NetworkBadConfigurationException(
                reason='Admin network plugin is not set up.')
        kwargs.update(count=count)
        self.admin_network_api.allocate_network(context, share_server,
                                                **kwargs)

    def deallocate_network(self, context, share_server_id,
                           share_network=None, share_network_subnet=None):
        """Release the network allocations of a share server."""
        if self.get_network_allocations_number() and self.network_api:
            self.network_api.deallocate_network(
                context, share_server_id, share_network=share_network,
                share_network_subnet=share_network_subnet)

    def update_network_allocation(self, context, share_server):
        """Let the network plugin refresh allocations after server setup."""
        if self.network_api is not None:
            self.network_api.update_network_allocation(context, share_server)

    def update_admin_network_allocation(self, context, share_server):
        """Same as update_network_allocation for the admin plugin."""
        if (self.get_admin_network_allocations_number()
                and self.admin_network_api):
            self.admin_network_api.update_network_allocation(
                context, share_server)

    def choose_share_server_compatible_with_share(
            self, context, share_servers, share, snapshot=None,
            share_group=None, encryption_key_ref=None):
        """Pick a server from ``share_servers`` for ``share`` or return None.

        The candidates already match host, share network subnet, status and
        the server limits. Default: the group's server when ``share_group``
        is given (None if it is not a candidate), else the first candidate.
        Returning None makes the service create a new server.
        """
        if share_group:
            for server in share_servers:
                if share_group.get('share_server_id') == server['id']:
                    return server
            return None
        return share_servers[0] if share_servers else None

    def choose_share_server_compatible_with_share_group(
            self, context, share_servers, share_group_ref,
            share_group_snapshot=None):
        """Pick a server for a new share group (default: the first one)."""
        return share_servers[0] if share_servers else None

    def setup_server(self, *args, **kwargs):
        """Create a share server; calls ``_setup_server`` in DHSS=True mode only.

        Called as ``setup_server(network_info, metadata=metadata)`` where
        ``network_info`` is a list with one dict per subnet (keys
        ``server_id``, ``network_allocations``, ``admin_network_allocations``,
        ``security_services``, ``backend_details``, ``segmentation_id``,
        ``cidr``, ``network_type``, ``neutron_net_id``, ``neutron_subnet_id``,
        ``subnet_metadata``). Returns the backend details dict (all values
        strings) stored with the server; the optional key ``identifier``
        becomes the server identifier.
        """
        if self.driver_handles_share_servers:
            return self._setup_server(*args, **kwargs)
        LOG.debug('Not setting up a share server: the driver runs with '
                  'driver_handles_share_servers=False.')

    def _setup_server(self, network_info, metadata=None):
        """DHSS=True drivers implement server creation here."""
        raise NotImplementedError()

    def teardown_server(self, *args, **kwargs):
        """Delete a share server; calls ``_teardown_server`` in DHSS=True mode only.

        Called with keywords ``server_details`` (the backend details dict)
        and ``security_services`` (list of dicts).
        """
        if self.driver_handles_share_servers:
            return self._teardown_server(*args, **kwargs)
        LOG.debug('Not tearing down a share server: the driver runs with '
                  'driver_handles_share_servers=False.')

    def _teardown_server(self, server_details, security_services=None):
        """DHSS=True drivers implement server deletion here."""
        raise NotImplementedError()

    def get_share_server_pools(self, share_server):
        """Return the pools (names or dicts) a share server uses (default [])."""
        return []

    def get_share_server_network_info(self, context, share_server,
                                      identifier, driver_options):
        """Return the IP address strings a backend server uses (manage server)."""
        raise NotImplementedError()

    def manage_server(self, context, share_server, identifier,
                      driver_options):
        """Adopt an existing backend server.

        :returns: ``(new_identifier_or_None, backend_details_dict_or_None)``.
        """
        raise NotImplementedError()

    def unmanage_server(self, server_details, security_services=None):
        """Forget a share server without deleting it on the backend.

        ``NotImplementedError`` makes the service refuse unless forced.
        """
        raise NotImplementedError()

    def check_update_share_server_security_service(
            self, context, share_server, network_info, share_instances,
            share_instance_rules, new_security_service,
            current_security_service=None):
        """Return True when the server can take the new security service."""
        raise NotImplementedError()

    def update_share_server_security_service(
            self, context, share_server, network_info, share_instances,
            share_instance_rules, new_security_service,
            current_security_service=None):
        """Add or replace a security service on an in-use share server.

        :returns: None or ``{instance_id: {access_id: rule_updates}}``.
        """
        raise NotImplementedError()

    def check_update_share_server_network_allocations(
            self, context, share_server, current_network_allocations,
            new_share_network_subnet, security_services, share_instances,
            share_instances_rules):
        """Return True when the server can take allocations of a new subnet."""
        raise NotImplementedError()

    def update_share_server_network_allocations(
            self, context, share_server, current_network_allocations,
            new_network_allocations, security_services, shares, snapshots):
        """Plug a server into a new subnet.

        :returns: ``{'server_details': {...}, 'share_updates':
            {instance_id: export_locations}, 'snapshot_updates':
            {snapshot_instance_id: {'provider_location',
            'export_locations'}}}``.
        """
        raise NotImplementedError()

    def update_share_network_subnet_from_metadata(
            self, context, share_network, share_network_subnet,
            share_server, metadata):
        """Apply driver-updatable subnet metadata to a share server."""
        raise NotImplementedError()

    def share_server_migration_check_compatibility(
            self, context, share_server, dest_host, old_share_network,
            new_share_network, shares_request_spec):
        """Say whether this backend can receive ``share_server`` (default: no).

        :returns: dict of bools ``compatible``, ``writable``,
            ``nondisruptive``, ``preserve_snapshots``, ``migration_cancel``,
            ``migration_get_progress`` (plus ``share_network_id``).
        """
        return {'compatible': False, 'writable': False,
                'nondisruptive': False, 'preserve_snapshots': False,
                'migration_cancel': False, 'migration_get_progress': False}

    def share_server_migration_start(self, context, src_share_server,
                                     dest_share_server, shares, snapshots):
        """Start a driver-assisted server migration and return at once."""
        raise NotImplementedError()

    def share_server_migration_continue(self, context, src_share_server,
                                        dest_share_server, shares,
                                        snapshots):
        """Advance a server migration; return True when phase 1 is done."""
        raise NotImplementedError()

    def share_server_migration_complete(self, context, src_share_server,
                                        dest_share_server, shares, snapshots,
                                        new_network_info):
        """Finish a server migration.

        :returns: ``{'share_updates': {instance_id: {'export_locations',
            'pool_name'}}, 'snapshot_updates': {snapshot_instance_id:
            {'provider_location', 'export_locations'}}}`` and optionally
            ``'server_backend_details'``.
        """
        raise NotImplementedError()

    def share_server_migration_cancel(self, context, src_share_server,
                                      dest_share_server, shares, snapshots):
        """Abort a running server migration."""
        raise NotImplementedError()

    def share_server_migration_get_progress(self, context, src_share_server,
                                            dest_share_server, shares,
                                            snapshots):
        """Return ``{'total_progress': <0-100>}`` of a server migration."""
        raise NotImplementedError()


class MigrationMixin(object):
    """Driver-assisted share migration (host-assisted needs no driver code).

    The source backend's driver runs every call. ``source_snapshots`` are
    the source snapshot instances, ``snapshot_mappings`` maps a source
    snapshot instance id to the destination snapshot instance model.
    """

    def migration_check_compatibility(
            self, context, source_share, destination_share,
            share_server=None, destination_share_server=None):
        """Say whether driver-assisted migration to the destination works.

        :returns: dict of bools ``compatible``, ``writable``,
            ``preserve_metadata``, ``nondisruptive``, ``preserve_snapshots``
            (default: all False, i.e. use host-assisted migration).
        """
        return {'compatible': False, 'writable': False,
                'preserve_metadata': False, 'nondisruptive': False,
                'preserve_snapshots': False}

    def migration_start(self, context, source_share, destination_share,
                        source_snapshots, snapshot_mappings,
                        share_server=None, destination_share_server=None):
        """Start copying the share on the backend and return at once."""
        raise NotImplementedError()

    def migration_continue(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        """Poll the copy; return True once the first phase is finished."""
        raise NotImplementedError()

    def migration_complete(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        """Cut over and drop the source data.

        :returns: None or ``{'export_locations': [...], 'snapshot_updates':
            {dest_snapshot_instance_id: {'provider_location': str,
            'export_locations': [...]}}}``.
        """
        raise NotImplementedError()

    def migration_cancel(self, context, source_share, destination_share,
                         source_snapshots, snapshot_mappings,
                         share_server=None, destination_share_server=None):
        """Abort a running driver-assisted migration."""
        raise NotImplementedError()

    def migration_get_progress(self, context, source_share,
                               destination_share, source_snapshots,
                               snapshot_mappings, share_server=None,
                               destination_share_server=None):
        """Return at least ``{'total_progress': <0-100>}``."""
        raise NotImplementedError()

    def connection_get_info(self, context, share, share_server=None):
        """Tell the data service how to mount ``share`` for host-assisted migration.

        :returns: ``{'mount': str, 'unmount': str, 'access_mapping':
            {access_type: [proto]}}``. ``mount`` is ``share_mount_template``
            with ``proto`` and ``export`` filled in (the first admin-only
            export location, else the first one) and ``%(path)s`` /
            ``%(options)s`` left for the data service.
        """
        info = {
            'mount': self._get_mount_command(context, share, share_server),
            'unmount': self._get_unmount_command(context, share,
                                                 share_server),
            'access_mapping': self._get_access_mapping(context, share,
                                                       share_server),
        }
        LOG.debug('Connection info of share %(id)s: %(info)s.',
                  {'id': share['id'], 'info': info})
        return info

    def _get_access_mapping(self, context, share, share_server):
        mapping = self.configuration.safe_get('protocol_access_mapping') or {}
        proto = share['share_proto'].lower()
        result = {}
        for access_type, protocols in mapping.items():
            if proto in [p.lower() for p in protocols]:
                result.setdefault(access_type, []).append(proto)
        return result

    def _get_mount_command(self, context, share_instance, share_server=None):
        template = self.configuration.safe_get('share_mount_template')
        return template % {
            'proto': share_instance['share_proto'].lower(),
            'export': self._get_mount_export(share_instance, share_server),
            'path': '%(path)s',
            'options': '%(options)s',
        }

    def _get_mount_export(self, share_instance, share_server=None):
        locations = share_instance['export_locations']
        for location in locations:
            if location['is_admin_only']:
                return location['path']
        return locations[0]['path']

    def _get_unmount_command(self, context, share_instance,
                             share_server=None):
        return self.configuration.safe_get('share_unmount_template')


class ReplicationMixin(object):
    """Share replication; enabled by ``replication_domain`` and the ``replication_type`` capability.

    Every call runs on the host of the replica it concerns. ``replica_list``
    holds share-instance dicts of all replicas of the share (the active one
    has ``replica_state == 'active'``); replica snapshots are snapshot
    instance dicts; access rules are ``share_access_map`` models.
    """

    @property
    def replication_domain(self):
        """The backend's ``replication_domain`` option (None: no replication)."""
        return self.configuration.safe_get('replication_domain')

    def create_replica(self, context, replica_list, new_replica,
                       access_rules, replica_snapshots, share_server=None):
        """Create ``new_replica`` from the active replica on this backend.

        ``replica_snapshots`` is a list of ``{'active_replica_snapshot':
        dict, 'share_replica_snapshot': dict}`` for every available snapshot.

        :returns: None or ``{'export_locations': [...], 'replica_state':
            'in_sync'|'out_of_sync'|'active'|'error', 'access_rules_status':
            ..., 'share_access_rules': [...]}``. Writable replication answers
            ``active``.
        """
        raise NotImplementedError()

    def delete_replica(self, context, replica_list, replica_snapshots,
                       replica, share_server=None):
        """Delete ``replica`` and its snapshot instances; returns None."""
        raise NotImplementedError()

    def promote_replica(self, context, replica_list, replica, access_rules,
                        share_server=None, quiesce_wait_time=None):
        """Make ``replica`` the active one.

        :returns: None or a list of ``{'id', 'replica_state',
            'export_locations'?, 'access_rules_status'?}`` for the replicas
            whose records change.
        """
        raise NotImplementedError()

    def update_replica_state(self, context, replica_list, replica,
                             access_rules, replica_snapshots,
                             share_server=None):
        """Return ``'in_sync'``, ``'out_of_sync'``, ``'error'`` or None (unchanged)."""
        raise NotImplementedError()

    def create_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        """Snapshot the active replica and propagate it.

        :returns: list of ``{'id': snapshot_instance_id, 'status': ...,
            'provider_location'?: ...}``.
        """
        raise NotImplementedError()

    def revert_to_replicated_snapshot(self, context, active_replica,
                                      replica_list, active_replica_snapshot,
                                      replica_snapshots, share_access_rules,
                                      snapshot_access_rules,
                                      share_server=None):
        """Revert the active replica in place to a snapshot; returns None."""
        raise NotImplementedError()

    def delete_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        """Delete every instance of a replicated snapshot.

        :returns: list of ``{'id', 'status'}``; status ``deleted`` lets the
            service drop the row.
        """
        raise NotImplementedError()

    def update_replicated_snapshot(self, context, replica_list,
                                   share_replica, replica_snapshots,
                                   replica_snapshot, share_server=None):
        """Poll one snapshot instance of a non-active replica.

        :returns: None or ``{'id', 'status', ...}``. Raise
            ``SnapshotResourceNotFound`` when an instance being deleted is
            gone.
        """
        raise NotImplementedError()


class ShareGroupMixin(object):
    """Share groups and group snapshots, implemented generically over the share and snapshot methods."""

    def create_share_group(self, context, share_group_dict,
                           share_server=None):
        """Create a group; returns None or a dict of share_groups updates."""
        LOG.debug('Created share group %s.', share_group_dict['id'])

    def delete_share_group(self, context, share_group_dict,
                           share_server=None):
        """Delete a group; returns None or a dict of share_groups updates."""

    def create_share_group_from_share_group_snapshot(
            self, context, share_group_dict, share_group_snapshot_dict,
            share_server=None):
        """Create each member share from its group snapshot member.

        :returns: ``(group_update_or_None, [{'id': instance_id,
            'export_locations': [...], 'status'?: 'available' |
            'creating_from_snapshot'}])``.
        """
        if not share_group_snapshot_dict['share_group_snapshot_members']:
            return None, None
        updates = []
        for clone in self._collate_share_group_snapshot_info(
                share_group_dict, share_group_snapshot_dict):
            kwargs = {}
            if self.driver_handles_share_servers:
                kwargs['share_server'] = share_server
            result = self.create_share_from_snapshot(
                context, clone['share'], clone['snapshot'], **kwargs)
            updates.append(self._group_clone_update(clone['share'], result))
        return None, updates

    @staticmethod
    def _group_clone_update(share, result):
        update = {'id': share['id']}
        if not isinstance(result, dict):
            update['export_locations'] = result
            return update
        status = result.get('status')
        if status is None:
            raise exception.InvalidShareInstance(
                reason="Driver didn't provide a share status.")
        if status not in (constants.STATUS_AVAILABLE,
                          constants.STATUS_CREATING_FROM_SNAPSHOT):
            raise exception.InvalidShareInstance(
                reason='Driver returned an invalid status: %s' % status)
        update['status'] = status
        update['export_locations'] = result.get('export_locations', [])
        return update

    def _collate_share_group_snapshot_info(self, share_group_dict,
                                           share_group_snapshot_dict):
        members = share_group_snapshot_dict['share_group_snapshot_members']
        clones = []
        for share in share_group_dict['shares']:
            wanted = share['source_share_group_snapshot_member_id']
            snapshot = next((m for m in members if m['id'] == wanted), None)
            if snapshot is None:
                raise exception.InvalidShareGroup(
                    reason='Invalid data supplied for creating share group '
                           'from share group snapshot %s.'
                           % share_group_snapshot_dict['id'])
            clones.append({'share': share, 'snapshot': snapshot})
        return clones

    @staticmethod
    def _group_member_snapshot(member, provider_location=None):
        share = member['share']
        return {
            'id': member['id'],
            'snapshot_id': member['share_group_snapshot_id'],
            'share_id': member['share_id'],
            'share_instance_id': share['id'],
            'share': share,
            'share_name': member['share_name'],
            'name': member['name'],
            'size': share['size'],
            'share_size': share['size'],
            'share_proto': share['share_proto'],
            'provider_location': provider_location,
        }

    def create_share_group_snapshot(self, context, snap_dict,
                                    share_server=None):
        """Snapshot every member share; roll back on the first failure.

        :returns: ``(snapshot_update_or_None, [member updates with 'id'])``.
        """
        members = snap_dict.get('share_group_snapshot_members', [])
        if not self._stats.get('snapshot_support'):
            raise exception.ShareGroupSnapshotNotSupported(
                share_group=snap_dict['share_group_id'])
        if not members:
            LOG.warning('Share group snapshot %s has no members.',
                        snap_dict['id'])
            return None, None
        done, updates = [], []
        for member in members:
            snapshot = self._group_member_snapshot(member)
            try:
                update = self.create_snapshot(context, snapshot,
                                              share_server=share_server)
            except exception.ManilaException:
                LOG.exception('Snapshot %s of a share group snapshot failed; '
                              'removing the ones already taken.',
                              snapshot['id'])
                for taken in done:
                    self._cleanup_group_share_snapshot(context, taken,
                                                       share_server)
                raise
            if update:
                update['id'] = member['id']
                updates.append(update)
            done.append(snapshot)
        return None, updates

    def _cleanup_group_share_snapshot(self, context, share_snapshot,
                                      share_server):
        try:
            self.delete_snapshot(context, share_snapshot,
                                 share_server=share_server)
        except exception.ManilaException:
            LOG.error('Could not delete share group snapshot member %s.',
                      share_snapshot['id'])
            raise

    def delete_share_group_snapshot(self, context, snap_dict,
                                    share_server=None):
        """Delete the snapshot of every member; returns ``(None, None)``."""
        for member in snap_dict.get('share_group_snapshot_members', []):
            snapshot = self._group_member_snapshot(
                member, provider_location=member['provider_location'])
            self.delete_snapshot(context, snapshot, share_server=share_server)
        return None, None


class BackupMixin(object):
    """Share backups (RPC 1.26): progress is polled through the ``*_continue`` methods."""

    def create_backup(self, context, share_instance, backup,
                      share_server=None):
        """Start a backup of ``share_instance``."""
        raise NotImplementedError()

    def create_backup_continue(self, context, share_instance, backup,
                               share_server=None):
        """Return ``{'total_progress': '0'..'100'}`` (a string)."""
        raise NotImplementedError()

    def delete_backup(self, context, backup, share_instance,
                      share_server=None):
        """Delete a backup."""
        raise NotImplementedError()

    def restore_backup(self, context, backup, share_instance,
                       share_server=None):
        """Start restoring ``backup`` into ``share_instance``."""
        raise NotImplementedError()

    def restore_backup_continue(self, context, backup, share_instance,
                                share_server=None):
        """Return ``{'total_progress': '0'..'100'}`` (a string)."""
        raise NotImplementedError()
