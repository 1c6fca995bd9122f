"""The network plugin contract (upstream's ``NetworkBaseAPI``) and the loader that picks a plugin per config section.

A plugin allocates addresses to a share server and records them as
``network_allocations`` rows. The loader reads ``network_api_class`` in the
plugin's section: an upstream class path that manila_lite ships a
replacement for, an alias of the ``manila_lite.network`` entry-point
namespace (loaded with stevedore), or a dotted class path.
"""

import abc

from oslo_config import cfg
from oslo_utils import importutils
from stevedore import driver as stevedore_driver

from manila_lite.conf import network as network_conf
from manila_lite.conf import neutron as neutron_conf
from manila_lite import exception

CONF = cfg.CONF
NAMESPACE = 'manila_lite.network'
OPTION = 'network_api_class'

# Upstream class paths -> our alias.
LEGACY_PATHS = {
    network_conf.STANDALONE_PATH: 'standalone',
    neutron_conf.NEUTRON_PATH: 'neutron',
    neutron_conf.NEUTRON_SINGLE_PATH: 'neutron_single',
    neutron_conf.NEUTRON_BIND_PATH: 'neutron_bind',
    neutron_conf.NEUTRON_BIND_SINGLE_PATH: 'neutron_bind_single',
}


def _group(config_group_name):
    return config_group_name or 'DEFAULT'


def register_opts(config_group_name, opts):
    group = _group(config_group_name)
    CONF.register_opts(opts, group=None if group == 'DEFAULT' else group)
    return CONF if group == 'DEFAULT' else CONF[group]


def _resolve(value, section):
    value = (value or '').strip()
    value = LEGACY_PATHS.get(value, value)
    try:
        if '.' not in value:
            return stevedore_driver.DriverManager(
                namespace=NAMESPACE, name=value,
                invoke_on_load=False).driver
        return importutils.import_class(value)
    except Exception as exc:
        raise exception.ConfigError(
            section=section, option=OPTION,
            reason='cannot load network plugin %r: %s' % (value, exc))


def API(config_group_name=None, label='user'):
    """Build the network plugin configured in ``config_group_name`` for ``label`` ('user' or 'admin')."""
    section = _group(config_group_name)
    conf = register_opts(config_group_name, network_conf.network_opts)
    cls = _resolve(conf.network_api_class, section)
    if not (isinstance(cls, type) and issubclass(cls, NetworkBaseAPI)):
        raise exception.ConfigError(
            section=section, option=OPTION,
            reason='%r is not a network plugin' % conf.network_api_class)
    try:
        return cls(config_group_name=config_group_name, label=label)
    except exception.NetworkBadConfigurationException as exc:
        raise exception.ConfigError(section=section, option=OPTION,
                                    reason=str(exc))


class NetworkBaseAPI(metaclass=abc.ABCMeta):
    """Upstream's network plugin contract: allocate and release a share server's addresses."""

    def __init__(self, config_group_name=None, label='user'):
        self.config_group_name = _group(config_group_name)
        self.label = label
        self.configuration = register_opts(config_group_name,
                                           network_conf.network_base_opts)

    def _verify_share_network_subnet(self, share_server_id, subnet):
        if subnet is None:
            raise exception.NetworkBadConfigurationException(
                reason="'Share network subnet' is not provided for setting "
                       "up network interfaces for 'Share server' '%s'"
                       % share_server_id)

    @property
    def enabled_ip_versions(self):
        versions = set()
        if self.configuration.network_plugin_ipv6_enabled:
            versions.add(6)
        if self.configuration.network_plugin_ipv4_enabled:
            versions.add(4)
        if not versions:
            raise exception.NetworkBadConfigurationException(
                reason="Either 'network_plugin_ipv4_enabled' or "
                       "'network_plugin_ipv6_enabled' should be True")
        return versions

    def update_network_allocation(self, context, share_server):
        """Refresh allocations after the server is set up (optional)."""

    @abc.abstractmethod
    def allocate_network(self, context, share_server, share_network=None,
                         share_network_subnet=None, **kwargs):
        """Allocate ``count`` addresses to ``share_server``; returns the rows."""

    @abc.abstractmethod
    def deallocate_network(self, context, share_server_id, share_network=None,
                           share_network_subnet=None):
        """Release every allocation of one share server."""

    def deallocate_networks(self, context, share_server_ids):
        """Release the allocations of many servers (plugins may batch it)."""
        for server_id in share_server_ids:
            self.deallocate_network(context, server_id)

    @abc.abstractmethod
    def manage_network_allocations(self, context, allocations, share_server,
                                   share_network=None,
                                   share_network_subnet=None):
        """Record existing addresses of a managed server; returns the unused ones."""

    @abc.abstractmethod
    def unmanage_network_allocations(self, context, share_server_id):
        """Forget a server's allocations without releasing them elsewhere."""

    @abc.abstractmethod
    def include_network_info(self, share_network_subnet):
        """Fill a subnet dict with the plugin's network data."""
