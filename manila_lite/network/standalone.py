"""The standalone network plugin: share server addresses from one statically configured network, recorded in ``network_allocations``.

Options (upstream's ``standalone_network_plugin_*``, see
:mod:`manila_lite.conf.network`) give the gateway, mask, allowed ranges,
MTU, network type and segmentation id. The network is IPv4, or IPv6 when
``network_plugin_ipv6_enabled`` is True (upstream's rule). Addresses are
picked under upstream's interprocess lock, after one read of the
addresses already allocated.
"""

import netaddr
from oslo_concurrency import lockutils
from oslo_log import log as logging

from manila_lite.common import constants
from manila_lite.conf import network as network_conf
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.network import base

LOG = logging.getLogger(__name__)

ALLOCATION_LOCK = 'allocate_network_for_standalone_network_plugin'


def _bad(reason):
    return exception.NetworkBadConfigurationException(reason=reason)


class StandaloneNetworkPlugin(base.NetworkBaseAPI):
    """Allocates addresses from the configured network; nothing outside the database changes."""

    def __init__(self, config_group_name=None, label='user'):
        super().__init__(config_group_name=config_group_name, label=label)
        self.configuration = base.register_opts(
            config_group_name, network_conf.standalone_network_plugin_opts)
        self._read_configuration()
        LOG.debug('Standalone network plugin [%(group)s] (%(label)s): '
                  'network %(net)s, gateway %(gw)s, allowed %(cidrs)s.',
                  {'group': self.config_group_name, 'label': label,
                   'net': self.net, 'gw': self.gateway,
                   'cidrs': self.allowed_cidrs})

    def _read_configuration(self):
        conf = self.configuration
        self.ip_version = 6 if conf.network_plugin_ipv6_enabled else 4
        if conf.network_plugin_ipv6_enabled and conf.network_plugin_ipv4_enabled:
            LOG.warning('[%s] enables IPv4 and IPv6: the standalone plugin '
                        'serves IPv6 only.', self.config_group_name)
        self.network_type = conf.standalone_network_plugin_network_type
        self.segmentation_id = conf.standalone_network_plugin_segmentation_id
        self.gateway = conf.standalone_network_plugin_gateway
        self.mask = conf.standalone_network_plugin_mask
        self.mtu = conf.standalone_network_plugin_mtu
        self.net = self._network()
        self.allowed_cidrs = self._allowed_cidrs(
            conf.standalone_network_plugin_allowed_ip_ranges or [])
        self.reserved_addresses = {str(self.net.network), str(self.gateway)}
        if self.net.broadcast is not None:
            self.reserved_addresses.add(str(self.net.broadcast))

    def _network(self):
        if not self.gateway:
            raise _bad("Configuration option "
                       "'standalone_network_plugin_gateway' is required")
        if not self.mask:
            raise _bad("Configuration option "
                       "'standalone_network_plugin_mask' is required")
        try:
            net = netaddr.IPNetwork('%s/%s' % (self.gateway, self.mask))
        except (netaddr.AddrFormatError, ValueError) as exc:
            raise _bad('gateway %s with mask %s: %s'
                       % (self.gateway, self.mask, exc))
        if net.version != self.ip_version:
            raise _bad("Configured invalid IP version '%s', network has "
                       "version '%s'" % (self.ip_version, net.version))
        return net

    def _allowed_cidrs(self, ranges):
        if not ranges:
            return [self.net.cidr]
        cidrs = []
        for item in ranges:
            parts = item.strip().split('-')
            if len(parts) not in (1, 2):
                raise _bad("Wrong value for IP range '%s' was provided"
                           % item)
            try:
                ip_range = netaddr.IPRange(parts[0], parts[-1])
            except (netaddr.AddrFormatError, ValueError) as exc:
                raise _bad("standalone_network_plugin_allowed_ip_ranges has "
                           "incorrect value '%s': %s" % (item, exc))
            if ip_range.version != self.ip_version or ip_range not in self.net:
                raise _bad("One of provided allowed IP ranges ('%s') does "
                           "not fit network '%s' combined from gateway "
                           "'%s' and netmask '%s'"
                           % (ip_range, self.net, self.gateway,
                              self.net.netmask))
            cidrs.extend(ip_range.cidrs())
        return cidrs

    def _available_ips(self, context, amount):
        if amount < 1:
            return []
        taken = db_api.network_allocation_ips_in_use(context)
        taken |= self.reserved_addresses
        ips = []
        for ip in netaddr.iter_unique_ips(*self.allowed_cidrs):
            ip = str(ip)
            if ip not in taken:
                ips.append(ip)
                if len(ips) == amount:
                    return ips
        raise _bad('No available IP addresses left in CIDRs %s. Requested '
                   "amount of IPs to be provided '%s', available only '%s'"
                   % ([str(c) for c in self.allowed_cidrs], amount,
                      len(ips)))

    def _network_info(self):
        return {'network_type': self.network_type,
                'segmentation_id': self.segmentation_id,
                'cidr': str(self.net.cidr), 'gateway': str(self.gateway),
                'ip_version': self.ip_version, 'mtu': self.mtu}

    def include_network_info(self, share_network_subnet):
        share_network_subnet.update(self._network_info())

    def _save_network_info(self, context, subnet):
        data = self._network_info()
        if self.label != 'admin':
            db_api.share_network_subnet_update(context, subnet['id'], data)
        return data

    def _rows(self, share_server, subnet, info, ips):
        rows = []
        for ip in ips:
            row = dict(info, share_server_id=share_server['id'],
                       ip_address=ip, label=self.label,
                       status=constants.STATUS_ACTIVE)
            if self.label != 'admin':
                row['share_network_subnet_id'] = subnet['id']
            rows.append(row)
        return rows

    def allocate_network(self, context, share_server, share_network=None,
                         share_network_subnet=None, **kwargs):
        count = kwargs.get('count', 1)
        if self.label != 'admin':
            self._verify_share_network_subnet(share_server['id'],
                                              share_network_subnet)
        info = self._save_network_info(context, share_network_subnet or {})
        with lockutils.lock(ALLOCATION_LOCK, lock_file_prefix='manila-',
                            external=True):
            ips = self._available_ips(context, count)
            return db_api.network_allocations_create(
                context, self._rows(share_server, share_network_subnet,
                                    info, ips))

    def deallocate_network(self, context, share_server_id,
                           share_network=None, share_network_subnet=None):
        self.deallocate_networks(context, [share_server_id])

    def deallocate_networks(self, context, share_server_ids):
        # The rows are all there is: one UPDATE releases them (both labels,
        # as upstream's deallocate reads every allocation of the server).
        db_api.network_allocations_delete_for_servers(context,
                                                      share_server_ids)

    def unmanage_network_allocations(self, context, share_server_id):
        self.deallocate_network(context, share_server_id)

    def manage_network_allocations(self, context, allocations, share_server,
                                   share_network=None,
                                   share_network_subnet=None):
        """Record the addresses among ``allocations`` inside the allowed ranges; returns the others.

        An address a live allocation holds already, or one repeated, is
        not taken (it stays in the answer), so one address never belongs
        to two servers.
        """
        if self.label != 'admin':
            self._verify_share_network_subnet(share_server['id'],
                                              share_network_subnet)
        subnet = share_network_subnet or {}
        info = self._save_network_info(context, subnet)
        with lockutils.lock(ALLOCATION_LOCK, lock_file_prefix='manila-',
                            external=True):
            ours, remaining = self._select_managed(context, allocations)
            if ours:
                db_api.network_allocations_create(
                    context, self._rows(share_server, subnet, info, ours))
        return remaining

    def _select_managed(self, context, allocations):
        ours, remaining = [], []
        for value in allocations:
            try:
                ip = netaddr.IPAddress(value)
            except (netaddr.AddrFormatError, ValueError, TypeError):
                raise _bad('the driver reported %r, not an IP address'
                           % (value,))
            if (ip.version == self.ip_version and str(ip) not in ours and
                    any(ip in cidr for cidr in self.allowed_cidrs)):
                ours.append(str(ip))
            else:
                remaining.append(value)
        taken = db_api.network_allocation_ips_in_use(context, ours)
        return ([ip for ip in ours if ip not in taken],
                remaining + [ip for ip in ours if ip in taken])
