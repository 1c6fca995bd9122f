"""In-memory test and demo driver with upstream's dummy behaviour, per-method delays and injectable failures.

It keeps a few strings in private storage, answers every call of the
ShareDriver contract and mimics upstream's
``manila.tests.share.drivers.dummy.DummyDriver`` (names, export locations,
capabilities, stats) in both driver modes, so tests and demos need no
storage.

Backend section example (instant driver)::

    [dummy1]
    share_driver = dummy
    driver_handles_share_servers = False
    share_backend_name = DummyBackend
    dummy_driver_default_driver_method_delay = 0
    dummy_driver_driver_methods_delays =
    # manila_lite fault injection:
    dummy_driver_fail_methods = extend_share
    dummy_driver_invalid_return_methods = create_share
    dummy_driver_share_used_size = 1

Options (help in ``manila_lite.conf.share_driver.dummy_opts``): upstream's
delays, applied by :func:`slow_me_down`; ``dummy_driver_fail_methods``
(raise ``ShareBackendException`` before doing anything);
``dummy_driver_invalid_return_methods`` (do the work, then return the
contract-breaking value of :data:`INVALID_RETURNS`);
``dummy_driver_share_used_size`` (used GB reported by
``update_share_usage_size`` and enforced by ``shrink_share``, overridable
per share instance with :meth:`DummyDriver.set_share_used_size`);
``dummy_driver_access_keys`` (update_access answers an ``access_key`` per
applied rule); ``dummy_driver_server_migration_nondisruptive`` (share
server migrations are nondisruptive: the server moves as it is).
Fault options are read on every call: tests may change them at run time.
"""

import copy
import functools
import secrets
import threading
import time

from oslo_config import cfg
from oslo_log import log
from oslo_serialization import jsonutils
from oslo_utils import timeutils
from oslo_utils import uuidutils

from manila_lite.common import constants
from manila_lite.common import hosts
from manila_lite.conf import manager as manager_opts
from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import exception
from manila_lite.share import configuration
from manila_lite.share import driver
from manila_lite.share import driver_loader
from manila_lite.share import drivers_private_data

LOG = log.getLogger(__name__)
CONF = cfg.CONF

dummy_opts = share_driver_opts.dummy_opts

_PRIVATE_DELAYABLE = ('_setup_server', '_teardown_server', '_get_pools_info',
                      '_update_share_stats')
_NOT_DELAYABLE = ('get_admin_network_allocations_number',
                  'get_network_allocations_number', 'get_share_server_pools')

_BAD_STATUS = 'dummy_invalid_status'

# Returned by methods of dummy_driver_invalid_return_methods (contract-breaking).
INVALID_RETURNS = {
    'create_share': [{'is_admin_only': False, 'metadata': {}}],
    'create_share_from_snapshot': {'status': _BAD_STATUS},
    'create_snapshot': {'export_locations': [{'path': '/dummy/invalid'}]},
    'ensure_share': {'dummy': 'not a list of export locations'},
    'update_access': {'dummy-invalid-access-id': 'not a dict'},
    'snapshot_update_access': {'dummy-invalid-access-id': 'not a dict'},
    'get_share_status': {'status': _BAD_STATUS},
    'get_share_stats': {'pools': [{'pool_name': 'dummy_invalid_pool'}]},
    'get_pool': {'not': 'a pool name'},
    'manage_existing': {'export_locations': []},
    'manage_existing_with_server': {'export_locations': []},
    'manage_existing_snapshot': {'size': 'not a number'},
    'manage_existing_snapshot_with_server': {'size': 'not a number'},
    'revert_to_snapshot': 'not a size',
    'update_share_usage_size': [{'used_size': 'not a number'}],
    'create_replica': {'replica_state': _BAD_STATUS},
    'promote_replica': 'not a list',
    'update_replica_state': _BAD_STATUS,
    'create_replicated_snapshot': [{'status': constants.STATUS_AVAILABLE}],
    'delete_replicated_snapshot': [{'status': constants.STATUS_DELETED}],
    'update_replicated_snapshot': {'status': _BAD_STATUS},
    'migration_check_compatibility': {'compatible': 'maybe'},
    'migration_continue': 'maybe',
    'migration_complete': {'export_locations': 'not a list'},
    'migration_get_progress': {'progress': 'no total_progress key'},
    '_setup_server': 'not a dict of backend details',
    'manage_server': 'not a tuple',
    'get_share_server_network_info': 'not a list',
    'create_share_group_snapshot': 'not a tuple',
    'create_share_group_from_share_group_snapshot': 'not a tuple',
    'delete_share_group_snapshot': 'not a tuple',
    'create_backup_continue': {'total_progress': 'not a number'},
    'restore_backup_continue': {'total_progress': 'not a number'},
    'share_server_migration_check_compatibility': {'compatible': 'maybe'},
    'share_server_migration_continue': 'maybe',
    'share_server_migration_complete': {'share_updates': 'not a dict'},
    'share_server_migration_get_progress': {},
    'check_update_share_server_security_service': 'maybe',
    'check_update_share_server_network_allocations': 'maybe',
    'update_share_server_network_allocations': 'not a dict',
}
DEFAULT_INVALID_RETURN = 'dummy_driver_invalid_return'


def _driver_method(delayed):
    """Wrap a driver method with the delay and the fault injection."""

    def decorator(f):
        name = f.__name__

        @functools.wraps(f)
        def wrapper(self, *args, **kwargs):
            if delayed:
                self._sleep_for(name)
            self._fail_if_requested(name)
            result = f(self, *args, **kwargs)
            return self._garble_if_requested(name, result)

        wrapper.dummy_injectable = True
        return wrapper

    return decorator


slow_me_down = _driver_method(delayed=True)
"""Upstream's decorator: sleep the configured delay, then run the method."""

injectable = _driver_method(delayed=False)
"""Fault injection without delay, for methods upstream never slows down."""


def get_backend_configuration(backend_name):
    """Return the Configuration of another backend section (migration checks)."""
    try:
        sections = CONF.list_all_sections()
    except Exception:
        sections = []
    if backend_name not in sections and backend_name not in CONF:
        raise exception.BadConfigurationException(
            reason='Could not find backend stanza %(name)s in configuration '
                   'which is required for share replication and migration. '
                   'Available stanzas are %(sections)s'
                   % {'name': backend_name, 'sections': list(sections)})
    config = configuration.Configuration(
        driver.share_opts, config_group=backend_name)
    config.append_config_values(dummy_opts)
    config.append_config_values(manager_opts.share_manager_opts)
    config.append_config_values(driver.ssh_opts)
    return config


def _is_dummy_backend(backend_name):
    value = get_backend_configuration(backend_name).share_driver or ''
    try:
        cls = driver_loader.resolve_driver_class(value, backend_name)
    except exception.ConfigError:
        return 'Dummy' in value
    return issubclass(cls, DummyDriver)


class DummyDriver(driver.ShareDriver):
    """Driver simulating NFS/CIFS storage in both modes; see the module docstring.

    Without a ``private_storage`` keyword it keeps its private data in an
    in-process ``MemoryStorageDriver``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__([False, True], *args, config_opts=[dummy_opts],
                         **kwargs)
        self._lock = threading.Lock()
        self._verify_configuration()
        self.private_storage = (
            kwargs.get('private_storage')
            or drivers_private_data.DriverPrivateData(
                storage=drivers_private_data.MemoryStorageDriver()))
        self.backend_name = (self.configuration.safe_get('share_backend_name')
                             or 'DummyDriver')
        self.migration_progress = {}
        self._used_sizes = {}
        self.security_service_update_support = True
        self.network_allocation_update_support = True
        self.share_replicas_migration_support = True
        self.encryption_support = ['share_server']
        self.qos_type_support = True

    # ------------------------------------------------------------------
    # Configuration checks and fault machinery
    # ------------------------------------------------------------------

    def _injectable_methods(self):
        return sorted(name for name in dir(type(self))
                      if getattr(getattr(type(self), name, None),
                                 'dummy_injectable', False))

    def _verify_configuration(self):
        self._verify_delays()
        injectable_names = self._injectable_methods()
        for option in ('dummy_driver_fail_methods',
                       'dummy_driver_invalid_return_methods'):
            for name in self.configuration.safe_get(option) or []:
                if name not in injectable_names:
                    raise exception.BadConfigurationException(
                        reason="%(opt)s: dummy driver method %(name)r does "
                               "not exist or cannot be faulted; use one of "
                               "%(names)s" % {'opt': option, 'name': name,
                                              'names': injectable_names})

    def _verify_delays(self):
        allowed = [m for m in dir(self) if not m.startswith('_')]
        allowed.extend(_PRIVATE_DELAYABLE)
        delays = self.configuration.safe_get(
            'dummy_driver_driver_methods_delays') or {}
        for name, value in delays.items():
            if name not in allowed:
                raise exception.BadConfigurationException(
                    reason="Dummy driver does not have '%s' method." % name)
            if name in _NOT_DELAYABLE:
                raise exception.BadConfigurationException(
                    reason="Method '%s' does not support delaying." % name)
            try:
                float(value)
            except (TypeError, ValueError):
                raise exception.BadConfigurationException(
                    reason="Wrong value (%(v)s) for '%(k)s' dummy driver "
                           "method time delay is set in "
                           "'dummy_driver_driver_methods_delays' config "
                           "option." % {'k': name, 'v': value})

    def _sleep_for(self, name):
        delays = self.configuration.safe_get(
            'dummy_driver_driver_methods_delays') or {}
        seconds = float(delays.get(name, self.configuration.safe_get(
            'dummy_driver_default_driver_method_delay') or 0))
        if seconds > 0:
            time.sleep(seconds)

    def _fail_if_requested(self, name):
        if name in (self.configuration.safe_get('dummy_driver_fail_methods')
                    or []):
            raise exception.ShareBackendException(
                msg='dummy driver: injected failure of %s' % name)

    def _garble_if_requested(self, name, result):
        if name in (self.configuration.safe_get(
                'dummy_driver_invalid_return_methods') or []):
            LOG.warning('Dummy driver returns an invalid value from %s, as '
                        'configured.', name)
            return copy.deepcopy(
                INVALID_RETURNS.get(name, DEFAULT_INVALID_RETURN))
        return result

    def set_share_used_size(self, share_instance_id, used_size_gb):
        """Set the used space of one share instance (None: back to the option)."""
        with self._lock:
            if used_size_gb is None:
                self._used_sizes.pop(share_instance_id, None)
            else:
                self._used_sizes[share_instance_id] = float(used_size_gb)

    def _used_size(self, share_instance_id):
        with self._lock:
            size = self._used_sizes.get(share_instance_id)
        if size is None:
            size = self.configuration.safe_get(
                'dummy_driver_share_used_size') or 0
        return size

    # ------------------------------------------------------------------
    # Names and export locations
    # ------------------------------------------------------------------

    def _get_share_name(self, share):
        mount_point_name = share.get('mount_point_name')
        if mount_point_name is not None:
            return mount_point_name
        return 'share_%s_%s' % (share['share_id'].replace('-', '_'),
                                share['id'].replace('-', '_'))

    def _get_snapshot_name(self, snapshot):
        return 'snapshot_%s_%s' % (snapshot['snapshot_id'].replace('-', '_'),
                                   snapshot['id'].replace('-', '_'))

    @staticmethod
    def _get_export(mountpoint, ip, is_admin_only, preferred):
        return {'path': '%s:%s' % (ip, mountpoint),
                'metadata': {'preferred': preferred},
                'is_admin_only': is_admin_only}

    @staticmethod
    def _get_subnet_allocations_from_backend_details(backend_details):
        if 'subnet_allocations' in backend_details:
            return jsonutils.loads(backend_details['subnet_allocations'])
        return [{'primary_public_ip': backend_details['primary_public_ip'],
                 'secondary_public_ip':
                     backend_details['secondary_public_ip']}]

    def _generate_export_locations(self, mountpoint, share_server=None):
        if share_server:
            details = share_server['backend_details']
            allocations = self._get_subnet_allocations_from_backend_details(
                details)
            service_ip = details['service_ip']
        else:
            allocations = [{'primary_public_ip': '10.0.0.10',
                            'secondary_public_ip': '10.0.0.20'}]
            service_ip = '11.0.0.11'
        locations = [self._get_export(mountpoint, service_ip, True, False)]
        for allocation in allocations:
            locations.append(self._get_export(
                mountpoint, allocation['primary_public_ip'], False, True))
            locations.append(self._get_export(
                mountpoint, allocation['secondary_public_ip'], False, False))
        return locations

    # ------------------------------------------------------------------
    # Lifecycle and stats
    # ------------------------------------------------------------------

    @slow_me_down
    def do_setup(self, context):
        """Nothing to connect to."""

    @injectable
    def check_for_setup_error(self):
        """Always healthy unless a failure is injected."""

    @injectable
    def get_share_stats(self, refresh=False):
        return super().get_share_stats(refresh=refresh)

    @slow_me_down
    def _get_pools_info(self):
        pools = [{
            'pool_name': 'fake_pool_for_%s' % self.backend_name,
            'total_capacity_gb': 1230.0,
            'free_capacity_gb': 1210.0,
            'reserved_percentage':
                self.configuration.reserved_share_percentage,
            'reserved_snapshot_percentage':
                self.configuration.reserved_share_from_snapshot_percentage,
            'reserved_share_extend_percentage':
                self.configuration.reserved_share_extend_percentage,
        }]
        if self.configuration.replication_domain:
            pools[0]['replication_type'] = constants.REPLICATION_TYPE_READABLE
        return pools

    @slow_me_down
    def _update_share_stats(self, data=None):
        config = self.configuration
        data = {
            'share_backend_name': self.backend_name,
            'storage_protocol': 'NFS_CIFS',
            'reserved_percentage': config.reserved_share_percentage,
            'reserved_snapshot_percentage':
                config.reserved_share_from_snapshot_percentage,
            'reserved_share_extend_percentage':
                config.reserved_share_extend_percentage,
            'snapshot_support': True,
            'create_share_from_snapshot_support': True,
            'revert_to_snapshot_support': True,
            'mount_snapshot_support': True,
            'driver_name': 'Dummy',
            'pools': self._get_pools_info(),
            'share_group_stats': {'consistent_snapshot_support': 'pool'},
            'share_server_multiple_subnet_support': True,
            'mount_point_name_support': True,
        }
        if config.replication_domain:
            data['replication_type'] = constants.REPLICATION_TYPE_READABLE
        super()._update_share_stats(data)

    @slow_me_down
    def get_pool(self, share):
        return hosts.extract_host(share['host'], 'pool')

    @slow_me_down
    def ensure_share(self, context, share, share_server=None):
        """Shares of the dummy backend never disappear."""

    @injectable
    def connection_get_info(self, context, share, share_server=None):
        return super().connection_get_info(context, share,
                                           share_server=share_server)

    # ------------------------------------------------------------------
    # Shares
    # ------------------------------------------------------------------

    def _create_share(self, context, share, share_server=None):
        proto = share['share_proto']
        if proto not in ('NFS', 'CIFS'):
            raise exception.InvalidShareAccess(
                reason='Unsupported share protocol provided - %s.' % proto)
        if share.get('encryption_key_ref'):
            LOG.debug('Dummy share %s is "encrypted" with key %s.',
                      share['id'], share.get('encryption_key_ref'))
        name = self._get_share_name(share)
        mountpoint = '/path/to/fake/share/%s' % name
        self.private_storage.update(share['id'], {
            'fake_provider_share_name': name,
            'fake_provider_location': mountpoint})
        return self._generate_export_locations(mountpoint,
                                               share_server=share_server)

    @slow_me_down
    def create_share(self, context, share, share_server=None):
        return self._create_share(context, share, share_server=share_server)

    @slow_me_down
    def create_share_from_snapshot(self, context, share, snapshot,
                                   share_server=None, parent_share=None):
        locations = self._create_share(context, share,
                                       share_server=share_server)
        return {'export_locations': locations,
                'status': constants.STATUS_AVAILABLE}

    @slow_me_down
    def delete_share(self, context, share, share_server=None):
        self.private_storage.delete(share['id'])
        self.set_share_used_size(share['id'], None)

    @injectable
    def get_share_status(self, share, share_server=None):
        mountpoint = self.private_storage.get(
            share['id'], key='fake_provider_location')
        if mountpoint:
            locations = self._generate_export_locations(
                mountpoint, share_server=share_server)
        else:
            locations = self.private_storage.get(share['id'],
                                                 key='export_location')
        return {'status': constants.STATUS_AVAILABLE,
                'export_locations': locations}

    @slow_me_down
    def extend_share(self, share, new_size, share_server=None):
        """Nothing to grow."""

    @slow_me_down
    def shrink_share(self, share, new_size, share_server=None):
        used = self._used_size(share['id'])
        if new_size < used:
            raise exception.ShareShrinkingPossibleDataLoss(
                share_id=share['id'])

    @injectable
    def update_share_usage_size(self, context, shares):
        gathered_at = timeutils.utcnow()
        return [{'id': share['id'], 'used_size': self._used_size(share['id']),
                 'gathered_at': gathered_at} for share in shares]

    @injectable
    def update_share_from_metadata(self, context, share, metadata,
                                   share_server=None):
        LOG.debug('Dummy share %(share)s took metadata %(md)s.',
                  {'share': share['share_id'], 'md': metadata})

    @injectable
    def transfer_accept(self, context, share, new_user, new_project,
                        access_rules=None, share_server=None):
        LOG.debug('Dummy share %(share)s now belongs to %(project)s.',
                  {'share': share['id'], 'project': new_project})

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------

    @slow_me_down
    def update_access(self, context, share, access_rules, add_rules,
                      delete_rules, update_rules=None, share_server=None):
        proto = share['share_proto'].lower()
        for rule in list(add_rules or []) + list(access_rules or []):
            access_type = rule['access_type'].lower()
            if not ((proto == 'nfs' and access_type == 'ip')
                    or (proto == 'cifs' and access_type == 'user')):
                raise exception.InvalidShareAccess(
                    reason="Unsupported '%(type)s' access type provided for "
                           "'%(proto)s' share protocol."
                           % {'type': access_type, 'proto': proto})
        if self.configuration.safe_get('dummy_driver_access_keys'):
            for rule in delete_rules or []:
                self.private_storage.delete(rule['access_id'])
            return self._access_keys(add_rules or access_rules or [])

    def _access_keys(self, rules):
        """``{access_id: {'access_key', 'state'}}``: one stable secret per rule."""
        updates = {}
        for rule in rules:
            key = self.private_storage.get(rule['access_id'], 'access_key',
                                           None)
            if not key:
                key = secrets.token_urlsafe(24)
                self.private_storage.update(rule['access_id'],
                                            {'access_key': key})
            updates[rule['access_id']] = {
                'access_key': key, 'state': constants.ACCESS_STATE_ACTIVE}
        return updates

    @slow_me_down
    def snapshot_update_access(self, context, snapshot, access_rules,
                               add_rules, delete_rules, share_server=None):
        self.update_access(context, snapshot['share'], access_rules,
                           add_rules, delete_rules, [],
                           share_server=share_server)

    # ------------------------------------------------------------------
    # Snapshots
    # ------------------------------------------------------------------

    def _create_snapshot(self, snapshot, share_server=None):
        name = self._get_snapshot_name(snapshot)
        mountpoint = '/path/to/fake/snapshot/%s' % name
        self.private_storage.update(snapshot['id'], {
            'fake_provider_snapshot_name': name,
            'fake_provider_location': mountpoint})
        return {
            'fake_key1': 'fake_value1',
            'fake_key2': 'fake_value2',
            'fake_key3': 'fake_value3',
            'provider_location': mountpoint,
            'export_locations': self._generate_export_locations(
                mountpoint, share_server=share_server),
        }

    @slow_me_down
    def create_snapshot(self, context, snapshot, share_server=None):
        return self._create_snapshot(snapshot, share_server)

    @slow_me_down
    def delete_snapshot(self, context, snapshot, share_server=None):
        self.private_storage.delete(snapshot['id'])

    @slow_me_down
    def revert_to_snapshot(self, context, snapshot, share_access_rules,
                           snapshot_access_rules, share_server=None):
        """The content is fictional: reverting is instant."""

    # ------------------------------------------------------------------
    # Manage / unmanage
    # ------------------------------------------------------------------

    @staticmethod
    def _id_after_prefix(value, prefix, error, what):
        """The instance id in ``...<prefix><share or snapshot id>_<instance id>``.

        Raises ``error`` (naming ``what``) unless ``value`` holds one: the
        id addresses private storage, which takes UUIDs only.
        """
        parts = value.split(prefix) if isinstance(value, str) else []
        found = parts[1][37:].replace('_', '-') if len(parts) > 1 else None
        if (found is None or len(found) != 36 or
                not uuidutils.is_uuid_like(found)):
            raise error(reason='%s %r names no %s of this backend (expected '
                               '...%s<id>_<instance id>)'
                               % (what, value, prefix.rstrip('_'), prefix))
        return found

    @slow_me_down
    def manage_existing(self, share, driver_options):
        new_export = share['export_location']
        old_id = self._id_after_prefix(new_export, 'share_',
                                       exception.ManageInvalidShare,
                                       'export location')
        old_export = self.private_storage.get(old_id, key='export_location')
        if old_export and (old_export.split(':/')[-1]
                           == new_export.split(':/')[-1]):
            result = {'size': 1,
                      'export_locations': self._create_share(None, share)}
            self.private_storage.delete(old_id)
            return result
        raise exception.ShareBackendException(
            msg='Invalid export specified, existing share %s could not be '
                'found' % old_id)

    @slow_me_down
    def manage_existing_with_server(self, share, driver_options,
                                    share_server=None):
        return self.manage_existing(share, driver_options)

    @slow_me_down
    def unmanage(self, share):
        self.private_storage.update(
            share['id'], {'export_location': share['export_location']})

    @slow_me_down
    def unmanage_with_server(self, share, share_server=None):
        self.unmanage(share)

    @slow_me_down
    def manage_existing_snapshot(self, snapshot, driver_options):
        location = snapshot['provider_location']
        old_id = self._id_after_prefix(
            location, 'snapshot_', exception.ManageInvalidShareSnapshot,
            'provider location')
        old_location = self.private_storage.get(old_id,
                                                key='provider_location')
        if old_location == location:
            self._create_snapshot(snapshot)
            self.private_storage.delete(old_id)
            return {'size': 1, 'provider_location': location}
        raise exception.ShareBackendException(
            msg='Invalid provider location specified, existing snapshot %s '
                'could not be found' % old_id)

    @slow_me_down
    def manage_existing_snapshot_with_server(self, snapshot, driver_options,
                                             share_server=None):
        return self.manage_existing_snapshot(snapshot, driver_options)

    @slow_me_down
    def unmanage_snapshot(self, snapshot):
        self.private_storage.update(
            snapshot['id'],
            {'provider_location': snapshot['provider_location']})

    @slow_me_down
    def unmanage_snapshot_with_server(self, snapshot, share_server=None):
        self.unmanage_snapshot(snapshot)

    # ------------------------------------------------------------------
    # Share servers (DHSS=True)
    # ------------------------------------------------------------------

    def get_network_allocations_number(self):
        return 2

    def get_admin_network_allocations_number(self):
        return 1

    def get_share_server_pools(self, share_server):
        return []

    @injectable
    def choose_share_server_compatible_with_share(
            self, context, share_servers, share, snapshot=None,
            share_group=None, encryption_key_ref=None):
        return super().choose_share_server_compatible_with_share(
            context, share_servers, share, snapshot=snapshot,
            share_group=share_group, encryption_key_ref=encryption_key_ref)

    @slow_me_down
    def _setup_server(self, network_info, metadata=None):
        first = network_info[0]
        details = {
            'service_ip': first['admin_network_allocations'][0]['ip_address'],
            'username': 'fake_username',
            'server_id': first['server_id'],
        }
        allocations = [{
            'primary_public_ip': net['network_allocations'][0]['ip_address'],
            'secondary_public_ip':
                net['network_allocations'][1]['ip_address'],
        } for net in network_info]
        details['subnet_allocations'] = jsonutils.dumps(allocations)
        return details

    @slow_me_down
    def _teardown_server(self, server_details, security_services=None):
        """Nothing to remove."""

    @slow_me_down
    def get_share_server_network_info(self, context, share_server,
                                      identifier, driver_options):
        try:
            details = self.private_storage.get(identifier)
        except Exception:
            details = None
        if not details:
            raise exception.ShareBackendException(
                msg='Unable to find share server %s in private storage.'
                    % identifier)
        ips = [details['service_ip']]
        for allocation in self._get_subnet_allocations_from_backend_details(
                details):
            ips.extend(allocation.values())
        return ips

    @slow_me_down
    def manage_server(self, context, share_server, identifier,
                      driver_options):
        details = self.private_storage.get(identifier)
        self.private_storage.delete(identifier)
        return identifier, details

    @injectable
    def unmanage_server(self, server_details, security_services=None):
        server_details = server_details or {}
        if 'server_id' not in server_details:
            LOG.warning('Share server has no network information; it is '
                        'unmanaged but cannot be managed again.')
            return
        self.private_storage.update(server_details['server_id'],
                                    server_details)

    @injectable
    def check_update_share_server_security_service(
            self, context, share_server, network_info, share_instances,
            share_instance_rules, new_security_service,
            current_security_service=None):
        return True

    @slow_me_down
    def update_share_server_security_service(
            self, context, share_server, network_info, share_instances,
            share_instance_rules, new_security_service,
            current_security_service=None):
        LOG.debug('Security service %(new)s set on share server %(server)s '
                  '(replacing %(old)s).',
                  {'new': new_security_service['id'],
                   'server': share_server['id'],
                   'old': (current_security_service or {}).get('id')})

    @injectable
    def check_update_share_server_network_allocations(
            self, context, share_server, current_network_allocations,
            new_share_network_subnet, security_services, share_instances,
            share_instances_rules):
        return True

    @injectable
    def update_share_server_network_allocations(
            self, context, share_server, current_network_allocations,
            new_network_allocations, security_services, shares, snapshots):
        details = share_server['backend_details']
        allocations = self._get_subnet_allocations_from_backend_details(
            details)
        new_ips = new_network_allocations['network_allocations']
        allocations.append({'primary_public_ip': new_ips[0]['ip_address'],
                            'secondary_public_ip': new_ips[1]['ip_address']})
        new_server = {'backend_details': {
            'subnet_allocations': jsonutils.dumps(allocations),
            'service_ip': details['service_ip']}}
        share_updates, snapshot_updates = self._relocate(
            shares, snapshots, new_server)
        return {
            'share_updates': {k: v['export_locations']
                              for k, v in share_updates.items()},
            'snapshot_updates': snapshot_updates,
            'server_details': {'subnet_allocations': jsonutils.dumps(
                allocations)},
        }

    def _relocate(self, shares, snapshots, share_server):
        share_updates = {}
        for instance in shares:
            mountpoint = '/path/to/fake/share/%s' % self._get_share_name(
                instance)
            share_updates[instance['id']] = {
                'export_locations': self._generate_export_locations(
                    mountpoint, share_server=share_server)}
        snapshot_updates = {}
        for instance in snapshots:
            mountpoint = ('/path/to/fake/snapshot/%s'
                          % self._get_snapshot_name(instance))
            snapshot_updates[instance['id']] = {
                'provider_location': mountpoint,
                'export_locations': self._generate_export_locations(
                    mountpoint, share_server=share_server)}
        return share_updates, snapshot_updates

    @slow_me_down
    def update_share_network_subnet_from_metadata(
            self, context, share_network, share_network_subnet,
            share_server, metadata):
        LOG.debug('Share network subnet %(subnet)s took metadata %(md)s.',
                  {'subnet': share_network_subnet['id'], 'md': metadata})

    # ------------------------------------------------------------------
    # Share groups (generic base behaviour, made faultable)
    # ------------------------------------------------------------------

    @slow_me_down
    def create_share_group(self, context, share_group_dict,
                           share_server=None):
        return super().create_share_group(context, share_group_dict,
                                          share_server=share_server)

    @slow_me_down
    def delete_share_group(self, context, share_group_dict,
                           share_server=None):
        return super().delete_share_group(context, share_group_dict,
                                          share_server=share_server)

    @slow_me_down
    def create_share_group_from_share_group_snapshot(
            self, context, share_group_dict, share_group_snapshot_dict,
            share_server=None):
        return super().create_share_group_from_share_group_snapshot(
            context, share_group_dict, share_group_snapshot_dict,
            share_server=share_server)

    @slow_me_down
    def create_share_group_snapshot(self, context, snap_dict,
                                    share_server=None):
        return super().create_share_group_snapshot(
            context, snap_dict, share_server=share_server)

    @slow_me_down
    def delete_share_group_snapshot(self, context, snap_dict,
                                    share_server=None):
        return super().delete_share_group_snapshot(
            context, snap_dict, share_server=share_server)

    # ------------------------------------------------------------------
    # Replication (readable when replication_domain is set)
    # ------------------------------------------------------------------

    @slow_me_down
    def create_replica(self, context, replica_list, new_replica,
                       access_rules, replica_snapshots, share_server=None):
        name = self._get_share_name(new_replica)
        mountpoint = '/path/to/fake/share/%s' % name
        self.private_storage.update(new_replica['id'], {
            'fake_provider_replica_name': name,
            'fake_provider_location': mountpoint})
        return {
            'export_locations': self._generate_export_locations(
                mountpoint, share_server=share_server),
            'replica_state': constants.REPLICA_STATE_IN_SYNC,
            'access_rules_status': constants.STATUS_ACTIVE,
        }

    @slow_me_down
    def delete_replica(self, context, replica_list, replica_snapshots,
                       replica, share_server=None):
        self.private_storage.delete(replica['id'])

    @slow_me_down
    def promote_replica(self, context, replica_list, replica, access_rules,
                        share_server=None, quiesce_wait_time=None):
        return [{'id': r['id'],
                 'replica_state': (constants.REPLICA_STATE_ACTIVE
                                   if r['id'] == replica['id']
                                   else constants.REPLICA_STATE_IN_SYNC)}
                for r in replica_list]

    @slow_me_down
    def update_replica_state(self, context, replica_list, replica,
                             access_rules, replica_snapshots,
                             share_server=None):
        return constants.REPLICA_STATE_IN_SYNC

    @slow_me_down
    def create_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        return [{'id': s['id'], 'status': constants.STATUS_AVAILABLE}
                for s in replica_snapshots]

    @slow_me_down
    def revert_to_replicated_snapshot(self, context, active_replica,
                                      replica_list, active_replica_snapshot,
                                      replica_snapshots, share_access_rules,
                                      snapshot_access_rules,
                                      share_server=None):
        """Instant, like revert_to_snapshot."""

    @slow_me_down
    def delete_replicated_snapshot(self, context, replica_list,
                                   replica_snapshots, share_server=None):
        return [{'id': s['id'], 'status': constants.STATUS_DELETED}
                for s in replica_snapshots]

    @slow_me_down
    def update_replicated_snapshot(self, context, replica_list,
                                   share_replica, replica_snapshots,
                                   replica_snapshot, share_server=None):
        return {'id': replica_snapshot['id'],
                'status': constants.STATUS_AVAILABLE}

    # ------------------------------------------------------------------
    # Migration (to other dummy backends), 50% per continue call
    # ------------------------------------------------------------------

    def _progress_step(self, key):
        with self._lock:
            progress = self.migration_progress.get(key, 0) + 50
            self.migration_progress[key] = progress
        LOG.debug('Dummy migration of %(key)s at %(progress)s%%.',
                  {'key': key, 'progress': progress})
        return progress

    def _progress_get(self, key):
        with self._lock:
            return {'total_progress': self.migration_progress.setdefault(
                key, 0)}

    def _progress_reset(self, key, start=False):
        with self._lock:
            if start:
                self.migration_progress[key] = 0
            else:
                self.migration_progress.pop(key, None)

    @slow_me_down
    def migration_check_compatibility(
            self, context, source_share, destination_share,
            share_server=None, destination_share_server=None):
        compatible = _is_dummy_backend(
            hosts.extract_host(destination_share['host'], 'backend_name'))
        return {'compatible': compatible, 'writable': compatible,
                'preserve_metadata': compatible, 'nondisruptive': False,
                'preserve_snapshots': compatible}

    @slow_me_down
    def migration_start(self, context, source_share, destination_share,
                        source_snapshots, snapshot_mappings,
                        share_server=None, destination_share_server=None):
        self._progress_reset(source_share['id'], start=True)

    @slow_me_down
    def migration_continue(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        return self._progress_step(source_share['id']) >= 100

    @slow_me_down
    def migration_complete(self, context, source_share, destination_share,
                           source_snapshots, snapshot_mappings,
                           share_server=None, destination_share_server=None):
        snapshot_updates = {
            dest['id']: self._create_snapshot(dest)
            for dest in snapshot_mappings.values()}
        name = self._get_share_name(destination_share)
        mountpoint = '/path/to/fake/share/%s' % name
        self.private_storage.delete(source_share['id'])
        self.private_storage.update(destination_share['id'], {
            'fake_provider_share_name': name,
            'fake_provider_location': mountpoint})
        self._progress_reset(source_share['id'])
        return {'snapshot_updates': snapshot_updates,
                'export_locations': self._generate_export_locations(
                    mountpoint, share_server=share_server)}

    @slow_me_down
    def migration_cancel(self, context, source_share, destination_share,
                         source_snapshots, snapshot_mappings,
                         share_server=None, destination_share_server=None):
        self._progress_reset(source_share['id'])

    @slow_me_down
    def migration_get_progress(self, context, source_share,
                               destination_share, source_snapshots,
                               snapshot_mappings, share_server=None,
                               destination_share_server=None):
        return self._progress_get(source_share['id'])

    @injectable
    def share_server_migration_check_compatibility(
            self, context, share_server, dest_host, old_share_network,
            new_share_network, shares_request_spec):
        compatible = _is_dummy_backend(hosts.extract_host(dest_host,
                                                          'backend_name'))
        nondisruptive = compatible and bool(self.configuration.safe_get(
            'dummy_driver_server_migration_nondisruptive'))
        return {'compatible': compatible, 'writable': compatible,
                'preserve_snapshots': compatible,
                'nondisruptive': nondisruptive,
                'share_network_id': new_share_network['id'],
                'migration_cancel': compatible,
                'migration_get_progress': compatible}

    @slow_me_down
    def share_server_migration_start(self, context, src_share_server,
                                     dest_share_server, shares, snapshots):
        self._progress_reset(src_share_server['id'], start=True)

    @slow_me_down
    def share_server_migration_continue(self, context, src_share_server,
                                        dest_share_server, shares,
                                        snapshots):
        return self._progress_step(src_share_server['id']) >= 100

    @slow_me_down
    def share_server_migration_complete(self, context, src_share_server,
                                        dest_share_server, shares, snapshots,
                                        new_network_info):
        # a nondisruptive migration moved the source server as it is
        server = (dest_share_server if dest_share_server['backend_details']
                  else src_share_server)
        share_updates, snapshot_updates = self._relocate(
            shares, snapshots, server)
        pool_name = self._get_pools_info()[0]['pool_name']
        for update in share_updates.values():
            update['pool_name'] = pool_name
        self._progress_reset(src_share_server['id'])
        return {'share_updates': share_updates,
                'snapshot_updates': snapshot_updates}

    @slow_me_down
    def share_server_migration_cancel(self, context, src_share_server,
                                      dest_share_server, shares, snapshots):
        self._progress_reset(src_share_server['id'])

    @slow_me_down
    def share_server_migration_get_progress(self, context, src_share_server,
                                            dest_share_server, shares,
                                            snapshots):
        return self._progress_get(src_share_server['id'])

    # ------------------------------------------------------------------
    # Backups: nothing is copied, progress jumps to 100
    # ------------------------------------------------------------------

    @slow_me_down
    def create_backup(self, context, share_instance, backup,
                      share_server=None):
        LOG.debug('Dummy backup %(backup)s of share %(share)s created.',
                  {'backup': backup['id'],
                   'share': share_instance['share_id']})

    @injectable
    def create_backup_continue(self, context, share_instance, backup,
                               share_server=None):
        return {'total_progress': '100'}

    @injectable
    def delete_backup(self, context, backup, share_instance,
                      share_server=None):
        LOG.debug('Dummy backup %s deleted.', backup['id'])

    @slow_me_down
    def restore_backup(self, context, backup, share_instance,
                       share_server=None):
        LOG.debug('Dummy backup %(backup)s restored into share %(share)s.',
                  {'backup': backup['id'],
                   'share': share_instance['share_id']})

    @injectable
    def restore_backup_continue(self, context, backup, share_instance,
                                share_server=None):
        return {'total_progress': '100'}
