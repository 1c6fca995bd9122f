"""The ShareDriver contract every manila_lite backend driver implements, written as the driver author's manual.

Writing a driver
================

A driver is a class that subclasses :class:`ShareDriver` and turns the share
service's requests into operations on one storage backend. The share service
(one process per ``[<backend>]`` section of ``enabled_share_backends``) builds
exactly one driver object and calls it from several threads. Method names,
arguments and return shapes are upstream manila's, so a driver written for
upstream ports with few changes, and upstream's API and scheduler understand
what manila_lite reports.

A minimal NFS driver for ``driver_handles_share_servers = False``::

    from manila_lite import exception
    from manila_lite.share import driver

    my_opts = [cfg.StrOpt('my_export_ip', help='IP clients mount from.')]

    class MyDriver(driver.ShareDriver):
        def __init__(self, *args, **kwargs):
            # the modes this driver supports: False, True or [False, True]
            super().__init__(False, *args, config_opts=[my_opts], **kwargs)
            self.private_storage = kwargs.get('private_storage')

        def do_setup(self, context):
            ...  # connect to the backend here, never in __init__

        def create_share(self, context, share, share_server=None):
            path = ...  # create it on the backend
            return [{'path': '%s:%s' % (ip, path), 'is_admin_only': False,
                     'metadata': {'preferred': True}}]

        def delete_share(self, context, share, share_server=None): ...
        def ensure_share(self, context, share, share_server=None): ...
        def update_access(self, context, share, access_rules, add_rules,
                          delete_rules, update_rules=None,
                          share_server=None): ...
        def extend_share(self, share, new_size, share_server=None): ...

        def _update_share_stats(self, data=None):
            super()._update_share_stats({
                'share_backend_name': ..., 'storage_protocol': 'NFS',
                'vendor_name': 'Me', 'driver_version': '1.0',
                'pools': [{'pool_name': 'p1', 'total_capacity_gb': 100,
                           'free_capacity_gb': 80, 'reserved_percentage': 0,
                           'reserved_snapshot_percentage': 0,
                           'reserved_share_extend_percentage': 0}]})

``manila_lite.share.drivers.dummy`` implements the whole contract in memory
and is the example to copy from.

Constructor and lifecycle
-------------------------

The service calls ``DriverClass(configuration=<Configuration>,
private_storage=<DriverPrivateData>)``. Pass the supported mode(s) as the
first argument of ``super().__init__``; the base class checks the configured
``driver_handles_share_servers`` option against them and raises
``InvalidParameterValue`` (option unset or not a boolean) or
``InvalidDriverMode`` (mode not supported), naming the option and the
section. ``config_opts=[opt_list, ...]`` grafts your own options into the
backend section; read them with ``self.configuration.my_opt`` or
``self.configuration.safe_get('my_opt')`` (None when unknown). Never read
``[DEFAULT]`` for backend settings: each backend has its own section.

The constructor must not open connections or start threads (the launcher may
fork after building services). Start-up order in the service is:
``do_setup(context)``, ``check_for_setup_error()`` (both retried with
back-off while they raise), then ``initialized = True``, then
``get_backend_info(context)`` and ``ensure_shares(context, shares)`` (falling
back to ``ensure_share`` per share when it raises ``NotImplementedError``),
then stats via ``get_share_stats(refresh=True)`` every ``periodic_interval``.
Every public method may run concurrently with any other one: guard shared
mutable state with a lock.

Registering the driver
----------------------

Operators select a driver with ``share_driver`` in the backend section. The
value is either an alias of the ``manila_lite.share.drivers`` entry-point
namespace or a dotted class path::

    # setup.cfg of your package
    [options.entry_points]
    manila_lite.share.drivers =
        mydriver = my_package.driver:MyDriver

    # manila-lite.conf
    [backend1]
    share_driver = mydriver          # or my_package.driver.MyDriver

Every registered driver is checked by the compliance test
(``tests/unit/share/test_driver_compliance.py``): it must subclass
ShareDriver, keep the base signatures and build in DHSS=False mode.

Which methods to implement
--------------------------

Mandatory (DHSS=False): ``create_share``, ``delete_share``, ``ensure_share``
(or ``ensure_shares``), ``update_access``, ``extend_share`` and a
``_update_share_stats`` override reporting pools. Recommended:
``do_setup``, ``check_for_setup_error``, ``get_pool`` (when the share host
may lack ``#pool``), ``shrink_share``.

Optional features are switched on by implementing methods; the capability
the scheduler sees is derived from the override or set in
``_update_share_stats``:

=============================  ===============================================
feature                        methods / capability
=============================  ===============================================
snapshots                      ``create_snapshot`` + ``delete_snapshot``
                               (``snapshot_support`` is computed)
share from snapshot            ``create_share_from_snapshot``
                               (``create_share_from_snapshot_support``)
revert to snapshot             ``revert_to_snapshot``;
                               set ``revert_to_snapshot_support=True``
mountable snapshots            ``snapshot_update_access`` + snapshot export
                               locations; ``mount_snapshot_support=True``
manage / unmanage              ``manage_existing``, ``unmanage``,
                               ``manage_existing_snapshot``,
                               ``unmanage_snapshot`` (``*_with_server`` for
                               DHSS=True)
replication                    ``create_replica`` ... (``ReplicationMixin``);
                               ``replication_type`` + ``replication_domain``
migration                      ``migration_*`` (``MigrationMixin``)
share groups                   generic by default (``ShareGroupMixin``);
                               ``share_group_stats``
backups                        ``create_backup`` ... (``BackupMixin``)
usage size                     ``update_share_usage_size``
share servers (DHSS=True)      ``get_network_allocations_number``,
                               ``_setup_server``, ``_teardown_server``
                               (``ShareServerMixin``)
=============================  ===============================================

DHSS=True: the share service creates share servers and passes them in
``share_server``. The backend's network plugin (``network_api_class``, the
embedded standalone plugin by default) is attached as ``network_api``, and
``admin_network_api`` when ``admin_network_config_group`` is set; the share
service asks the driver to allocate through them before ``setup_server``.

Objects handed to drivers
-------------------------

Objects support dict access (``obj['x']``, ``obj.get('x')``, ``'x' in
obj``); write code against that, never against attributes.

* Share instance **models** (with share data copied in) go to
  ``create_share``, ``create_share_from_snapshot`` (``share``),
  ``delete_share``, ``extend_share``, ``shrink_share``, ``manage_existing*``,
  ``unmanage*``, ``get_pool``, ``connection_get_info``, backups,
  ``update_share_usage_size`` (a list). ``share['id']`` is the **instance**
  id (use it as your key, e.g. in private storage); ``share['share_id']`` is
  the user-visible share id; ``share['name']`` is ``share-<instance id>``;
  also ``size`` (GB), ``share_proto`` (``'NFS'``, ``'CIFS'``, ...), ``host``
  (``host@backend#pool``), ``export_locations``, ``share_type`` (with
  ``extra_specs``), ``mount_point_name``, ``share_server``.
* Share instance **dicts** with the same keys plus ``metadata`` go to
  ``ensure_share(s)``, ``get_share_status``, replica methods and
  ``update_access`` (there ``share`` is the instance's ``to_dict()``).
* Snapshot instance **dicts** go to ``create_snapshot``,
  ``delete_snapshot``, ``revert_to_snapshot``: ``id`` (snapshot instance
  id), ``snapshot_id``, ``name`` (``share-snapshot-<id>``), ``share_id`` and
  ``share_instance_id`` (both the share **instance** id), ``share_name``,
  ``share`` (the share instance model), ``size``, ``provider_location``.
  Snapshot instance **models** go to ``manage_existing_snapshot*``,
  ``unmanage_snapshot*`` and ``snapshot_update_access``.
* Share servers are models with ``id``, ``identifier``, ``backend_details``
  (dict), ``share_network_subnets``, ``network_allocations``; None in
  DHSS=False mode.

Export locations
----------------

``create_share`` and friends return export locations as a list of dicts,
best first (the API shows them in that order)::

    [{'path': '10.0.0.10:/share-abc',     # required, what clients mount
      'is_admin_only': False,               # default False
      'metadata': {'preferred': True}}]     # optional, values become strings

A list of path strings or a single string is accepted too (legacy; no
metadata, not admin-only). Snapshot export locations must carry both
``path`` and ``is_admin_only``.

Access rules
------------

``update_access(context, share, access_rules, add_rules, delete_rules,
update_rules=None, share_server=None)`` receives rule objects with
``access_id`` (the rule id; ``id`` is the per-instance mapping id),
``access_type`` (``ip``, ``user``, ``cert``, ``cephx``), ``access_to``,
``access_level`` (``rw``/``ro``) and ``access_key``.

* ``access_rules`` is everything that must be on the share afterwards.
  A driver able to set the whole list at once may ignore the other lists.
* ``add_rules`` (a subset of ``access_rules``), ``delete_rules`` (not in
  it) and ``update_rules`` (access level changes) are the delta.
* All lists empty means *resynchronise*: make the backend equal to
  ``access_rules`` (used at start-up, for read-only recasts of replicas and
  during migration).
* Denying a rule that was never applied must succeed; re-adding a rule that
  already exists must succeed (the service repeats ``applying`` rules after
  a crash).
* Return None, or ``{access_id: {'state': 'active'|'error', 'access_key':
  str}}`` for the rules whose state or key you want to set. Raising marks
  every rule being applied or denied as ``error``; a rule you put in
  ``error`` is not sent again until it is denied.
* A driver that only implements ``allow_access``/``deny_access`` (one rule
  at a time) leaves ``update_access`` raising ``NotImplementedError``; the
  service then calls those per added and deleted rule.

Errors
------

Raise exceptions from ``manila_lite.exception``; they cross RPC with their
upstream class names. Conventions the service relies on:

* ``ShareBackendException(msg=...)``: a backend operation failed; the
  resource goes to its error status. Set ``detail_data={'export_locations':
  [...]}`` when ``create_share`` failed after exporting something.
* ``ShareResourceNotFound(share_id=...)`` from ``delete_share``: already
  gone, treated as success. ``SnapshotResourceNotFound(name=...)`` in replica
  snapshot polling: the instance is gone.
* ``ShareShrinkingPossibleDataLoss(share_id=...)``: refuse a shrink below the
  used space (the share stays available).
* ``InvalidShareAccess(reason=...)``: unsupported access type/protocol.
* ``ManageInvalidShare`` / ``ManageExistingShareTypeMismatch`` /
  ``ManageInvalidShareSnapshot`` / ``UnmanageInvalidShare`` /
  ``UnmanageInvalidShareSnapshot`` for manage and unmanage refusals.
* ``NotImplementedError``: the feature is not supported; the service turns
  it into a clean refusal or a fallback, never a crash.

Private storage
---------------

``self.private_storage`` (a ``DriverPrivateData``) keeps string pairs per
entity UUID across restarts: ``get(entity_id, key=None, default=None)``,
``update(entity_id, details, delete_existing=False)``, ``delete(entity_id,
key=None)``. Key it by share instance, snapshot instance or server id.
"""

import time

from oslo_concurrency import processutils
from oslo_config import cfg
from oslo_log import log

from manila_lite.conf import share_driver as share_driver_opts
from manila_lite import exception
from manila_lite.network import base as network_base
from manila_lite.share import configuration as ml_configuration
from manila_lite.share import driver_base

LOG = log.getLogger(__name__)
CONF = cfg.CONF

share_opts = share_driver_opts.share_opts
ssh_opts = share_driver_opts.ssh_opts
ganesha_opts = share_driver_opts.ganesha_opts

_DEFAULT_SECTION_OPTS = {opt.dest: opt for opt in share_opts}


def _default_section_value(name):
    """Read a share option from [DEFAULT], registering it there on first use.

    Upstream registers share_opts in [DEFAULT] at import time and falls back
    to it for share_backend_name, filter_function and goodness_function; we
    register lazily so that importing this module touches no configuration.
    """
    if name not in CONF:
        CONF.register_opt(_DEFAULT_SECTION_OPTS[name])
    return CONF[name]


class ExecuteMixin(object):
    """Gives a driver ``self._execute`` (oslo processutils) and a retrying ``_try_execute``."""

    def init_execute_mixin(self, *args, **kwargs):
        """Graft the SSH options and pick the command runner (``execute=`` kwarg)."""
        if self.configuration:
            self.configuration.append_config_values(ssh_opts)
        self.set_execute(kwargs.pop('execute', processutils.execute))

    def set_execute(self, execute):
        """Replace the function used to run commands (tests inject fakes)."""
        self._execute = execute

    def _try_execute(self, *command, **kwargs):
        tries = 0
        while True:
            try:
                self._execute(*command, **kwargs)
                return True
            except (processutils.ProcessExecutionError,
                    exception.ProcessExecutionError):
                tries += 1
                if tries >= self.configuration.num_shell_tries:
                    raise
                LOG.exception('Command failed, attempt %s; retrying.', tries)
                time.sleep(tries ** 2)


class GaneshaMixin(object):
    """Grafts the NFS-Ganesha options into the backend section."""

    def init_ganesha_mixin(self, *args, **kwargs):
        """Register ``ganesha_opts`` in the driver's configuration."""
        if self.configuration:
            self.configuration.append_config_values(ganesha_opts)


class ShareDriver(driver_base.ShareServerMixin, driver_base.MigrationMixin,
                  driver_base.ReplicationMixin, driver_base.ShareGroupMixin,
                  driver_base.BackupMixin):
    """Interface of a NAS backend driver; subclass it and override what your backend supports.

    Attributes the share service reads (set them in your ``__init__`` after
    calling the base constructor):

    ``initialized``
        False until the service finished ``do_setup`` and
        ``check_for_setup_error``; requests are refused before that.
    ``configuration``
        the backend's :class:`~manila_lite.share.configuration.Configuration`.
    ``private_storage``
        the ``DriverPrivateData`` passed by the service (or None).
    ``_stats``
        the last capabilities dict built by ``_update_share_stats``.
    ``pools``
        default pool list reported when ``_update_share_stats`` gets none.
    ``ipv6_implemented``
        True if the driver can export over IPv6 (then override
        ``get_configured_ip_versions``); IPv6 ``ip`` rules are filtered out
        of NFS access lists when False.
    ``dhss_mandatory_security_service_association``
        ``{proto_lower: [security service types]}`` a share network must
        carry for this driver.
    feature flags (False), copied into capabilities and new servers
        ``security_service_update_support``,
        ``network_allocation_update_support``,
        ``share_replicas_migration_support``, ``restore_to_target_support``,
        ``qos_type_support``.
    ``encryption_support``
        None, or e.g. ``['share_server']``.
    ``network_api``, ``admin_network_api``
        network plugins of a DHSS=True backend (``network_api_class`` of
        ``network_config_group`` / ``admin_network_config_group``).
    """

    def __init__(self, driver_handles_share_servers, *args, **kwargs):
        """Store configuration and check the configured driver mode.

        :param driver_handles_share_servers: the mode(s) this driver
            supports: True, False, or a list/tuple/set of both.
        :param configuration: keyword; the backend Configuration (a
            ``[DEFAULT]`` view is used when missing).
        :param private_storage: keyword; DriverPrivateData of the backend.
        :param config_opts: keyword; option lists to graft into the backend
            section (e.g. ``[my_opts]``).
        """
        super().__init__()
        self.configuration = (kwargs.get('configuration')
                              or ml_configuration.Configuration([]))
        self.private_storage = kwargs.get('private_storage')
        self._init_feature_attributes()
        self.configuration.append_config_values(share_opts)
        self.configuration.append_config_values(ssh_opts)
        self._verify_share_server_handling(driver_handles_share_servers)
        if self.driver_handles_share_servers:
            self._load_network_plugins()
        for opts in kwargs.get('config_opts', []):
            self.configuration.append_config_values(opts)
        if hasattr(self, 'init_execute_mixin'):
            self.init_execute_mixin(*args, **kwargs)
        if hasattr(self, 'init_ganesha_mixin'):
            self.init_ganesha_mixin(*args, **kwargs)

    def _init_feature_attributes(self):
        self.initialized = False
        self._stats = {}
        self.pools = []
        self.ip_versions = None
        self.ipv6_implemented = False
        self.security_service_update_support = False
        self.restore_to_target_support = False
        self.network_allocation_update_support = False
        self.dhss_mandatory_security_service_association = {}
        self.share_replicas_migration_support = False
        self.encryption_support = None
        self.qos_type_support = False
        self.network_api = None
        self._admin_network_api = None

    def _load_network_plugins(self):
        """Attach the network plugins of a DHSS=True backend (``network_config_group``, ``admin_network_config_group``)."""
        group = (self.configuration.safe_get('network_config_group')
                 or self.configuration.config_group)
        self.network_api = network_base.API(config_group_name=group,
                                            label='user')
        admin_group = self.configuration.safe_get('admin_network_config_group')
        if admin_group:
            self._admin_network_api = network_base.API(
                config_group_name=admin_group, label='admin')

    def _section_name(self):
        return self.configuration.config_group or 'DEFAULT'

    # ------------------------------------------------------------------
    # Mode and limits
    # ------------------------------------------------------------------

    @property
    def driver_handles_share_servers(self):
        """The configured ``driver_handles_share_servers`` value of the backend."""
        return self.configuration.safe_get('driver_handles_share_servers')

    @property
    def max_shares_per_share_server(self):
        """``max_shares_per_share_server`` (-1: unlimited)."""
        return self.configuration.safe_get('max_shares_per_share_server') or -1

    @property
    def max_share_server_size(self):
        """``max_share_server_size`` in GB (-1: unlimited)."""
        return self.configuration.safe_get('max_share_server_size') or -1

    def _verify_share_server_handling(self, driver_handles_share_servers):
        supported = self._supported_modes(driver_handles_share_servers)
        configured = self.driver_handles_share_servers
        section = self._section_name()
        if not isinstance(configured, bool):
            raise exception.InvalidParameterValue(
                err="Config option 'driver_handles_share_servers' in section "
                    "[%(section)s] has improper value %(value)r: set it to "
                    "True or False (%(driver)s supports %(modes)s)."
                    % {'section': section, 'value': configured,
                       'driver': type(self).__name__, 'modes': supported})
        if configured not in supported:
            raise exception.InvalidDriverMode(
                driver_mode="driver_handles_share_servers=%(value)s in "
                            "section [%(section)s] is not supported by "
                            "%(driver)s, which works only with %(modes)s"
                            % {'value': configured, 'section': section,
                               'driver': type(self).__name__,
                               'modes': supported})

    @staticmethod
    def _supported_modes(modes):
        if isinstance(modes, bool):
            return [modes]
        if (not isinstance(modes, (tuple, list, set))
                or not modes or not all(isinstance(m, bool) for m in modes)):
            raise exception.InvalidParameterValue(
                err="A driver must pass True, False or a list of them as the "
                    "supported 'driver_handles_share_servers' modes, not "
                    "%r." % (modes,))
        return sorted(set(modes))

    # ------------------------------------------------------------------
    # Lifecycle
    # ------------------------------------------------------------------

    def do_setup(self, context):
        """Connect to the backend and prepare it; runs once before any request."""

    def check_for_setup_error(self):
        """Raise if the backend is not usable; runs right after ``do_setup``."""

    def get_backend_info(self, context):
        """Return a dict describing the backend's configuration, or raise NotImplementedError.

        The service hashes the dict; when the hash equals the one of the
        previous start, ensuring shares at start-up is skipped. Raising
        ``NotImplementedError`` means "always ensure".
        """
        raise NotImplementedError()

    def ensure_shares(self, context, shares):
        """Check all shares of this backend at start-up in one call.

        :param shares: share instance dicts in ``available``/``ensuring``.
        :returns: None or ``{instance_id: {'export_locations': [...]?,
            'status': str?, 'metadata': {}?, 'reapply_access_rules':
            bool?}}``. The default raises ``NotImplementedError`` so the
            service calls :meth:`ensure_share` per share instead.
        """
        raise NotImplementedError()

    def ensure_share(self, context, share, share_server=None):
        """Make sure one share is still exported after a restart.

        :returns: None (keep the stored export locations) or a new list of
            export locations replacing them.
        """
        raise NotImplementedError()

    def get_pool(self, share):
        """Return the pool name holding ``share`` (a share instance model), or None."""

    def get_periodic_hook_data(self, context, share_instances):
        """Return the share instance list for periodic hooks, extended if you like."""
        return share_instances

    # ------------------------------------------------------------------
    # Stats
    # ------------------------------------------------------------------

    def get_share_stats(self, refresh=False):
        """Return the capabilities dict, rebuilding it first when ``refresh``."""
        if refresh:
            self._update_share_stats()
        return self._stats

    def _update_share_stats(self, data=None):
        """Build ``self._stats``: base defaults overlaid with the driver's ``data``.

        Drivers override this method, compute their own ``data`` dict
        (``share_backend_name``, ``vendor_name``, ``driver_version``,
        ``storage_protocol``, ``pools`` with ``pool_name``,
        ``total_capacity_gb``, ``free_capacity_gb``, ``reserved_percentage``,
        ``reserved_snapshot_percentage``, ``reserved_share_extend_percentage``
        per pool, feature flags...) and call ``super()._update_share_stats(
        data)``. Any extra key is passed to the scheduler as a capability.
        """
        stats = self._default_capabilities()
        if isinstance(data, dict):
            stats.update(data)
        if self.driver_handles_share_servers:
            stats['max_shares_per_share_server'] = (
                self.max_shares_per_share_server)
            stats['max_share_server_size'] = self.max_share_server_size
        group_stats = (data or {}).get('share_group_stats') or {}
        stats['share_group_stats'] = {
            'consistent_snapshot_support':
                group_stats.get('consistent_snapshot_support')}
        self.add_ip_version_capability(stats)
        self._stats = stats

    def _default_capabilities(self):
        backend_name = (self.configuration.safe_get('share_backend_name')
                        or _default_section_value('share_backend_name'))
        return {
            'share_backend_name': backend_name or 'Generic_NFS',
            'driver_handles_share_servers':
                self.driver_handles_share_servers,
            'vendor_name': 'Open Source',
            'driver_version': '1.0',
            'storage_protocol': None,
            'total_capacity_gb': 'unknown',
            'free_capacity_gb': 'unknown',
            'reserved_percentage': 0,
            'reserved_snapshot_percentage': 0,
            'reserved_share_extend_percentage': 0,
            'qos': False,
            'pools': self.pools or None,
            'snapshot_support': self.snapshots_are_supported,
            'create_share_from_snapshot_support':
                self.creating_shares_from_snapshots_is_supported,
            'revert_to_snapshot_support': False,
            'mount_snapshot_support': False,
            'replication_domain': self.replication_domain,
            'filter_function': self.get_filter_function(),
            'goodness_function': self.get_goodness_function(),
            'security_service_update_support':
                self.security_service_update_support,
            'network_allocation_update_support':
                self.network_allocation_update_support,
            'share_server_multiple_subnet_support': False,
            'mount_point_name_support': False,
            'share_replicas_migration_support':
                self.share_replicas_migration_support,
            'encryption_support': self.encryption_support,
            'qos_type_support': self.qos_type_support,
            'snapshot_inherit_share_access_support': False,
        }

    def get_configured_ip_versions(self):
        """Return the IP versions shares are exported on: [4], [6] or [4, 6].

        The default answers [4]. Drivers that set ``ipv6_implemented = True``
        must override it and check what the backend really has configured;
        every listed version must then appear among the export locations.
        """
        if not self.ipv6_implemented:
            return [4]
        raise NotImplementedError()

    def add_ip_version_capability(self, data):
        """Set ``ipv4_support``/``ipv6_support`` in ``data`` and return it.

        Uses :meth:`get_configured_ip_versions`; in DHSS=True mode the result
        is narrowed to the network plugin's enabled versions when a plugin is
        attached.
        """
        self.ip_versions = set(self.get_configured_ip_versions())
        if not self.ip_versions:
            LOG.error('Backend %s supports neither IPv4 nor IPv6.',
                      data.get('share_backend_name'))
        if self.driver_handles_share_servers and self.network_api is not None:
            self.ip_versions &= set(self.network_api.enabled_ip_versions)
            if not self.ip_versions:
                LOG.error('The network plugin enables no IP version that '
                          'backend %s supports.',
                          data.get('share_backend_name'))
        data['ipv4_support'] = 4 in self.ip_versions
        data['ipv6_support'] = 6 in self.ip_versions
        return data

    def get_filter_function(self, pool=None):
        """Return ``filter_function`` of the section, of [DEFAULT] or the driver default."""
        function = (self.configuration.safe_get('filter_function')
                    or _default_section_value('filter_function'))
        if not function:
            kwargs = {'pool': pool} if pool else {}
            function = self.get_default_filter_function(**kwargs)
        return function

    def get_goodness_function(self):
        """Return ``goodness_function`` of the section, of [DEFAULT] or the driver default."""
        function = (self.configuration.safe_get('goodness_function')
                    or _default_section_value('goodness_function'))
        return function or self.get_default_goodness_function()

    def get_default_filter_function(self, pool=None):
        """Override to supply a built-in scheduler filter expression (default None)."""
        return None

    def get_default_goodness_function(self):
        """Override to supply a built-in scheduler goodness expression (default None)."""
        return None

    def _has_redefined_driver_methods(self, methods):
        if not isinstance(methods, (set, list, tuple)):
            methods = (methods,)
        for name in methods:
            method = getattr(type(self), name, None)
            if method is None or method is getattr(ShareDriver, name):
                return False
        return True

    @property
    def snapshots_are_supported(self):
        """True when the driver overrides both create_snapshot and delete_snapshot."""
        if not hasattr(self, '_snapshots_are_supported'):
            self._snapshots_are_supported = (
                self._has_redefined_driver_methods(
                    ('create_snapshot', 'delete_snapshot')))
        return self._snapshots_are_supported

    @property
    def creating_shares_from_snapshots_is_supported(self):
        """True when snapshots work and create_share_from_snapshot is overridden."""
        if not hasattr(self, '_creating_shares_from_snapshots_is_supported'):
            self._creating_shares_from_snapshots_is_supported = (
                self._has_redefined_driver_methods(
                    'create_share_from_snapshot'))
        return (self._creating_shares_from_snapshots_is_supported
                and self.snapshots_are_supported)

    # ------------------------------------------------------------------
    # Shares
    # ------------------------------------------------------------------

    def create_share(self, context, share, share_server=None):
        """Create ``share`` (instance model) and return its export locations.

        Size is ``share['size']`` GB, protocol ``share['share_proto']``.
        Return a list of export location dicts (see the module manual) or
        None. On failure raise, e.g. ``ShareBackendException``.
        """
        raise NotImplementedError()

    def create_share_from_snapshot(self, context, share, snapshot,
                                   share_server=None, parent_share=None):
        """Create ``share`` with the content of ``snapshot`` (a snapshot instance model).

        ``parent_share`` is the share instance dict the snapshot belongs to.

        :returns: a list of export locations (the share becomes available)
            or ``{'status': 'available'|'creating_from_snapshot',
            'export_locations': [...]}``; the asynchronous status requires
            :meth:`get_share_status`.
        """
        raise NotImplementedError()

    def get_optional_share_creation_data(self, share, share_server=None):
        """Return ``{}`` or ``{'metadata': {...}}`` to add to a new share (``shares`` model)."""
        return {}

    def get_share_status(self, share, share_server=None):
        """Poll a share left in ``creating_from_snapshot`` or ``reverting_to_snapshot``.

        :returns: ``{'status': 'available'|'creating_from_snapshot'|
            'reverting_to_snapshot'|'error'|'reverting_error',
            'export_locations': [...]?, 'progress': '50%'?}``.
        """
        raise NotImplementedError()

    def delete_share(self, context, share, share_server=None):
        """Delete ``share``; raise ShareResourceNotFound if it is already gone."""
        raise NotImplementedError()

    def extend_share(self, share, new_size, share_server=None):
        """Grow ``share`` to ``new_size`` GB (no context argument)."""
        raise NotImplementedError()

    def shrink_share(self, share, new_size, share_server=None):
        """Shrink ``share`` to ``new_size`` GB.

        Raise ``ShareShrinkingPossibleDataLoss(share_id=share['id'])`` when
        more than ``new_size`` is in use.
        """
        raise NotImplementedError()

    def manage_existing(self, share, driver_options):
        """Adopt a backend share (DHSS=False); its path is in ``share['export_locations']``.

        :returns: dict with the required ``size`` (int GB) and optionally
            ``export_locations`` and other share/instance columns. Raise
            ``ManageInvalidShare`` or ``ManageExistingShareTypeMismatch``.
        """
        raise NotImplementedError()

    def manage_existing_with_server(self, share, driver_options,
                                    share_server=None):
        """DHSS=True variant of :meth:`manage_existing`."""
        raise NotImplementedError()

    def unmanage(self, share):
        """Forget ``share`` without deleting it (DHSS=False); raise UnmanageInvalidShare to refuse."""

    def unmanage_with_server(self, share, share_server=None):
        """DHSS=True variant of :meth:`unmanage`."""

    def update_share_usage_size(self, context, shares):
        """Return ``[{'id': instance_id, 'used_size': GB, 'gathered_at': datetime}]`` (default [])."""
        LOG.debug('Backend [%s] does not report share usage sizes.',
                  self._section_name())
        return []

    def update_share_from_metadata(self, context, share, metadata,
                                   share_server=None):
        """Apply the driver-updatable metadata keys set on a share."""
        raise NotImplementedError()

    def transfer_accept(self, context, share, new_user, new_project,
                        access_rules=None, share_server=None):
        """Hand ``share`` to another project; raise DriverCannotTransferShareWithRules to refuse."""

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------

    def update_access(self, context, share, access_rules, add_rules,
                      delete_rules, update_rules=None, share_server=None):
        """Bring the backend's access list of ``share`` in line (see the module manual).

        :returns: None or ``{access_id: {'state': ..., 'access_key': ...}}``.

        The default raises ``NotImplementedError``: the service then calls
        :meth:`allow_access` for each added and :meth:`deny_access` for each
        deleted rule.
        """
        raise NotImplementedError()

    def allow_access(self, context, share, access, share_server=None):
        """Grant one rule (legacy path used when update_access is missing)."""
        raise NotImplementedError()

    def deny_access(self, context, share, access, share_server=None):
        """Revoke one rule (legacy path used when update_access is missing)."""
        raise NotImplementedError()

    def snapshot_update_access(self, context, snapshot, access_rules,
                               add_rules, delete_rules, share_server=None):
        """Same contract as update_access for a mountable snapshot (instance model)."""
        raise NotImplementedError()

    # ------------------------------------------------------------------
    # Snapshots
    # ------------------------------------------------------------------

    def create_snapshot(self, context, snapshot, share_server=None):
        """Snapshot ``snapshot['share']`` (a snapshot instance dict).

        :returns: None or a dict with optional ``provider_location``,
            ``size``, ``status`` and ``export_locations`` (list of
            ``{'path', 'is_admin_only'}``, kept when the share type allows
            mounting snapshots).
        """
        raise NotImplementedError()

    def delete_snapshot(self, context, snapshot, share_server=None):
        """Delete a snapshot (snapshot instance dict)."""
        raise NotImplementedError()

    def revert_to_snapshot(self, context, snapshot, share_access_rules,
                           snapshot_access_rules, share_server=None):
        """Revert the share in place to ``snapshot`` (its latest snapshot).

        :returns: None (done; size = snapshot size), an int (the new share
            size) or ``{'status': 'reverting_to_snapshot'}`` to finish
            asynchronously through :meth:`get_share_status`.
        """
        raise NotImplementedError()

    def manage_existing_snapshot(self, snapshot, driver_options):
        """Adopt a backend snapshot by ``snapshot['provider_location']`` (DHSS=False).

        :returns: dict with ``size`` and optionally ``provider_location``
            and ``export_locations``. Raise ``ManageInvalidShareSnapshot``.
        """
        raise NotImplementedError()

    def manage_existing_snapshot_with_server(self, snapshot, driver_options,
                                             share_server=None):
        """DHSS=True variant of :meth:`manage_existing_snapshot`."""
        raise NotImplementedError()

    def unmanage_snapshot(self, snapshot):
        """Forget a snapshot (DHSS=False); raise UnmanageInvalidShareSnapshot to refuse."""

    def unmanage_snapshot_with_server(self, snapshot, share_server=None):
        """DHSS=True variant of :meth:`unmanage_snapshot`."""
