"""Upstream's four Neutron network plugins: share server ports on a share network subnet's Neutron network, recorded in ``network_allocations``.

* ``NeutronNetworkPlugin``: one port per allocation on the subnet's
  ``neutron_net_id``/``neutron_subnet_id``; the subnet row gets the
  network's type, segmentation id and MTU and the subnet's CIDR, gateway
  and IP version.
* ``NeutronSingleNetworkPlugin``: the network and subnet come from the
  ``neutron_net_id``/``neutron_subnet_id`` options (the only plugin that
  serves an admin network, as upstream).
* ``NeutronBindNetworkPlugin``: ports carry ``binding:host_id``,
  ``binding:vnic_type`` and ``binding:profile`` and are waited for until
  Neutron binds them.
* ``NeutronBindSingleNetworkPlugin``: both.

An allocation row's id is its port's id. Releasing deletes the ports of a
server's rows, then every port Neutron still has for the server's device
id (a port whose row was never written), then the rows.
"""

import ipaddress

from oslo_config import cfg
from oslo_log import log as logging
import tenacity

from manila_lite.conf import neutron as neutron_conf
from manila_lite.conf import validation
from manila_lite.db import api as db_api
from manila_lite import exception
from manila_lite.network import base
from manila_lite.network.neutron import api as neutron_api

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

DEVICE_OWNER_PREFIX = 'manila:'
# Waiting for Neutron to bind the ports of a bind plugin.
BIND_ATTEMPTS = 20
BIND_WAIT_MAX = 10


def _bad(reason):
    return exception.NetworkBadConfigurationException(reason=reason)


def _label_of(row):
    return row['label'] or 'user'


class NeutronNetworkPlugin(base.NetworkBaseAPI):
    """Ports on the Neutron network and subnet a share network subnet names."""

    def __init__(self, config_group_name=None, label='user'):
        super().__init__(config_group_name=config_group_name, label=label)
        self.configuration = base.register_opts(config_group_name,
                                                neutron_conf.plugin_opts)
        validation.read_options(
            CONF, self.config_group_name,
            [opt.dest for opt in neutron_conf.plugin_opts])
        self.neutron_api = neutron_api.API()

    # -- network data ------------------------------------------------------

    def _segment(self, net_info):
        """(network type, segmentation id) of a network, from its segment on ``neutron_physical_net_name`` if it has several."""
        if 'segments' not in net_info:
            return (net_info.get('provider:network_type'),
                    net_info.get('provider:segmentation_id'))
        physnet = self.configuration.neutron_physical_net_name
        if not physnet:
            raise _bad('Cannot identify segment used for binding. Please '
                       'add neutron_physical_net_name in configuration')
        found = [s.get('provider:physical_network')
                 for s in net_info['segments']]
        for segment in net_info['segments']:
            if (segment.get('provider:physical_network') == physnet and
                    segment.get('provider:segmentation_id') and
                    segment.get('provider:network_type')):
                return (segment['provider:network_type'],
                        segment['provider:segmentation_id'])
        raise _bad('No matching neutron_physical_net_name found for %s '
                   '(found: %s)' % (physnet, found))

    def _segment_known(self, subnet, net_info):
        return True

    def _network_data(self, subnet, net_info):
        """The subnet values Neutron gives: network type, segment, MTU, CIDR, gateway, IP version."""
        subnet_info = self.neutron_api.get_subnet(subnet['neutron_subnet_id'])
        values = {'mtu': net_info.get('mtu'),
                  'cidr': subnet_info.get('cidr'),
                  'gateway': subnet_info.get('gateway_ip'),
                  'ip_version': subnet_info.get('ip_version')}
        if self._segment_known(subnet, net_info):
            values['network_type'], values['segmentation_id'] = (
                self._segment(net_info))
        return values

    def _save(self, context, subnet, values):
        if self.label != 'admin' and subnet.get('id'):
            db_api.share_network_subnet_update(context, subnet['id'], values)

    def include_network_info(self, share_network_subnet):
        net_info = self.neutron_api.get_network(
            share_network_subnet['neutron_net_id'])
        share_network_subnet.update(
            self._network_data(share_network_subnet, net_info))

    def _store_network_data(self, context, subnet):
        """Read the network and subnet from Neutron into ``subnet`` (and its row); returns whether the network is external."""
        net_info = self.neutron_api.get_network(subnet['neutron_net_id'])
        values = self._network_data(subnet, net_info)
        subnet.update(values)
        self._save(context, subnet, values)
        return bool(net_info.get('router:external', False))

    # -- allocating ----------------------------------------------------------

    def _require_provider_extension(self):
        if neutron_api.PROVIDER_NW_EXT not in self.neutron_api.list_extensions():
            raise _bad('%s extension required' % neutron_api.PROVIDER_NW_EXT)

    def _subnet_dict(self, share_network_subnet):
        """A plain dict of the subnet (the plugins may add to it)."""
        keys = ('id', 'neutron_net_id', 'neutron_subnet_id', 'network_type',
                'segmentation_id', 'cidr', 'gateway', 'mtu', 'ip_version')
        return {key: share_network_subnet.get(key) for key in keys}

    def _project_id(self, share_network):
        return share_network['project_id'] if share_network else None

    def allocate_network(self, context, share_server, share_network=None,
                         share_network_subnet=None, **kwargs):
        """Create ``count`` ports (device owner ``manila:<device_owner>``) and their allocation rows; returns the rows."""
        self._require_provider_extension()
        self._verify_share_network(share_server['id'], share_network)
        self._verify_share_network_subnet(share_server['id'],
                                          share_network_subnet)
        subnet = self._subnet_dict(share_network_subnet)
        external = self._store_network_data(context, subnet)
        owner = DEVICE_OWNER_PREFIX + kwargs.get('device_owner', 'share')
        project_id = self._project_id(share_network)
        return [self._create_port(context, share_server, project_id, subnet,
                                  owner, count, external)
                for count in range(kwargs.get('count', 1))]

    def _verify_share_network(self, share_server_id, share_network):
        if share_network is None:
            raise _bad("'Share network' is not provided for setting up "
                       "network interfaces for 'Share server' '%s'"
                       % share_server_id)

    def _port_args(self, share_server, subnet, owner, count, external):
        return {'network_id': subnet['neutron_net_id'],
                'subnet_id': subnet['neutron_subnet_id'],
                'device_owner': owner,
                'device_id': share_server['id'],
                'name': '%s_%s' % (share_server['id'], count),
                # Ports on an external network only reserve the address.
                'admin_state_up': not external}

    def _create_port(self, context, share_server, project_id, subnet, owner,
                     count, external):
        port = self.neutron_api.create_port(
            project_id, **self._port_args(share_server, subnet, owner,
                                          count, external))
        if external:
            LOG.info("Port '%s' is disabled to prevent improper routing on "
                     "an external network.", port['id'])
        values = self._allocation_values(share_server, subnet, port)
        values['ip_address'] = self._address(port, subnet['ip_version'])
        return db_api.network_allocation_create(context, values)

    def _allocation_values(self, share_server, subnet, port):
        values = {'id': port['id'], 'share_server_id': share_server['id'],
                  'mac_address': port.get('mac_address'),
                  'label': self.label,
                  'gateway': subnet['gateway'], 'cidr': subnet['cidr'],
                  'ip_version': subnet['ip_version'], 'mtu': subnet['mtu'],
                  'network_type': subnet.get('network_type'),
                  'segmentation_id': subnet.get('segmentation_id')}
        if self.label != 'admin':
            values['share_network_subnet_id'] = subnet['id']
        return values

    @staticmethod
    def _address(port, ip_version):
        """The port's first fixed IP of ``ip_version``."""
        for fixed_ip in port.get('fixed_ips', []):
            try:
                address = ipaddress.ip_address(str(fixed_ip['ip_address']))
            except ValueError:
                LOG.error('%s is not a valid IP address; ignored.',
                          fixed_ip['ip_address'])
                continue
            if address.version == ip_version:
                return fixed_ip['ip_address']
        raise _bad('Can not find any IP address with configured IP version '
                   '%s in share-network' % ip_version)

    # -- releasing -----------------------------------------------------------

    def deallocate_network(self, context, share_server_id,
                           share_network=None, share_network_subnet=None):
        self.deallocate_networks(context, [share_server_id])

    def deallocate_networks(self, context, share_server_ids):
        """Delete the ports of the servers' rows of this label, then stray ports of the servers, then the rows (one UPDATE)."""
        if not share_server_ids:
            return
        rows = [row for row in db_api.network_allocations_get_for_share_servers(
            context, share_server_ids) if _label_of(row) == self.label]
        deleted, failed = [], []
        for row in rows:
            try:
                self.neutron_api.delete_port(row['id'])
                deleted.append(row['id'])
            except exception.NetworkException as exc:
                LOG.error('Port %(port)s of share server %(server)s not '
                          'deleted: %(exc)s', {'port': row['id'],
                                               'server': row['share_server_id'],
                                               'exc': exc})
                failed.append(row['id'])
        db_api.network_allocations_delete(context, deleted)
        self._delete_stray_ports(share_server_ids, set(deleted))
        if failed:
            raise exception.NetworkException(
                message='Neutron ports %s not deleted' % ', '.join(failed))

    def _delete_stray_ports(self, share_server_ids, done):
        """Ports Neutron made for the servers whose rows were never written (a lost answer, a crash)."""
        try:
            ports = self.neutron_api.list_ports_of_devices(share_server_ids)
        except exception.NetworkException as exc:
            LOG.warning('Neutron ports of share servers %(ids)s not listed: '
                        '%(exc)s', {'ids': share_server_ids, 'exc': exc})
            return
        for port in ports:
            if (port['id'] in done or not (port.get('device_owner') or '')
                    .startswith(DEVICE_OWNER_PREFIX)):
                continue
            LOG.info('Deleting stray port %(port)s of share server '
                     '%(server)s.', {'port': port['id'],
                                     'server': port['device_id']})
            self.neutron_api.delete_port(port['id'])

    # -- manage / unmanage ---------------------------------------------------

    def manage_network_allocations(self, context, allocations, share_server,
                                   share_network=None,
                                   share_network_subnet=None):
        """Record the ports of ``allocations`` (IP addresses) found on the subnet; returns the addresses no port has."""
        self._verify_share_network_subnet(share_server['id'],
                                          share_network_subnet)
        subnet = self._subnet_dict(share_network_subnet)
        self._store_network_data(context, subnet)
        remaining = list(allocations)
        ports = self.neutron_api.list_ports(
            network_id=subnet['neutron_net_id'],
            device_owner=DEVICE_OWNER_PREFIX + 'share',
            fixed_ips='subnet_id=' + subnet['neutron_subnet_id'])
        for port, address in self._ports_of(remaining, ports):
            values = self._allocation_values(share_server, subnet, port)
            values['ip_address'] = address
            self._record_managed(context, share_server, values)
            remaining.remove(address)
        return remaining

    @staticmethod
    def _ports_of(addresses, ports):
        """(port, address) for each port holding one of ``addresses`` (a port counts once)."""
        chosen = {}
        for port in ports:
            for fixed_ip in port.get('fixed_ips', []):
                if fixed_ip['ip_address'] not in addresses:
                    continue
                if port['id'] in chosen:
                    LOG.warning('Port %s has more than one IP that matches '
                                'allocations; use one port per IP.',
                                port['id'])
                    continue
                chosen[port['id']] = (port, fixed_ip['ip_address'])
        return list(chosen.values())

    def _record_managed(self, context, share_server, values):
        try:
            live = db_api.network_allocation_get(context, values['id'])
        except exception.NotFound:
            live = None
        if live is not None:
            raise exception.ManageShareServerError(
                reason='There were existing conflicting manila network '
                       'allocations found while trying to manage share '
                       'server %s. The conflicting port belongs to share '
                       'server %s.' % (share_server['id'],
                                       live['share_server_id']))
        try:
            db_api.network_allocation_get(context, values['id'],
                                          read_deleted='yes')
        except exception.NotFound:
            db_api.network_allocation_create(context, values)
            return
        port_id = values.pop('id')
        values.update(deleted='False', deleted_at=None)
        db_api.network_allocation_update(context, port_id, values,
                                         read_deleted='yes')

    def unmanage_network_allocations(self, context, share_server_id):
        """Forget the server's rows of this label; the ports stay in Neutron."""
        db_api.network_allocations_delete(context, [
            row['id'] for row in db_api.network_allocations_get_for_share_server(
                context, share_server_id) if _label_of(row) == self.label])


class NeutronSingleNetworkPlugin(NeutronNetworkPlugin):
    """Every share server's ports on the network and subnet of the ``neutron_net_id``/``neutron_subnet_id`` options."""

    def __init__(self, config_group_name=None, label='user'):
        super().__init__(config_group_name=config_group_name, label=label)
        self.net = self.configuration.neutron_net_id
        self.subnet = self.configuration.neutron_subnet_id
        if not (self.net and self.subnet):
            missing = 'neutron_net_id' if not self.net else 'neutron_subnet_id'
            raise exception.ConfigError(
                section=self.config_group_name, option=missing,
                reason='Neutron net and subnet are expected to be both set. '
                       'Got: net=%s and subnet=%s' % (self.net, self.subnet))
        self._verified = False

    def _verify_net_and_subnet(self):
        """That the subnet belongs to the network (asked once, at first use: constructors make no calls)."""
        if self._verified:
            return
        net = self.neutron_api.get_network(self.net)
        if self.subnet not in (net.get('subnets') or []):
            raise _bad("Subnet '%s' does not belong to network '%s'"
                       % (self.subnet, self.net))
        self._verified = True

    def _select_subnet(self, context, share_network_subnet):
        self._verify_net_and_subnet()
        if self.label == 'admin':
            return {'neutron_net_id': self.net,
                    'neutron_subnet_id': self.subnet}
        update = {}
        for key, wanted in (('neutron_net_id', self.net),
                            ('neutron_subnet_id', self.subnet)):
            given = share_network_subnet.get(key)
            if given is not None and given != wanted:
                raise _bad('Using %s different from None or value specified '
                           'in the config is forbidden for '
                           'NeutronSingleNetworkPlugin. Allowed values: '
                           '(%s, None), received value: %s'
                           % (key.replace('_', ' '), wanted, given))
            if given is None:
                update[key] = wanted
        if update:
            share_network_subnet = db_api.share_network_subnet_update(
                context, share_network_subnet['id'], update)
        return share_network_subnet

    def _project_id(self, share_network):
        if self.label == 'admin' or not share_network:
            return self.neutron_api.admin_project_id
        return share_network['project_id']

    def allocate_network(self, context, share_server, share_network=None,
                         share_network_subnet=None, **kwargs):
        if self.label != 'admin':
            self._verify_share_network_subnet(share_server['id'],
                                              share_network_subnet)
        subnet = self._select_subnet(context, share_network_subnet)
        return super().allocate_network(
            context, share_server, share_network or {'project_id': None},
            subnet, **kwargs)

    def manage_network_allocations(self, context, allocations, share_server,
                                   share_network=None,
                                   share_network_subnet=None):
        if self.label != 'admin':
            self._verify_share_network_subnet(share_server['id'],
                                              share_network_subnet)
        subnet = self._select_subnet(context, share_network_subnet)
        return super().manage_network_allocations(
            context, allocations, share_server, share_network, subnet)


class NeutronBindNetworkPlugin(NeutronNetworkPlugin):
    """Ports with ``binding:host_id``/``vnic_type``/``profile``, waited for until bound."""

    def __init__(self, config_group_name=None, label='user'):
        super().__init__(config_group_name=config_group_name, label=label)
        self.binding_profiles = []
        for profile in self.configuration.neutron_binding_profiles or []:
            CONF.register_opts(neutron_conf.neutron_binding_profile_opts,
                               group=profile)
            validation.read_options(
                CONF, profile, [opt.dest for opt in
                                neutron_conf.neutron_binding_profile_opts])
            self.binding_profiles.append(profile)

    def _port_args(self, share_server, subnet, owner, count, external):
        args = super()._port_args(share_server, subnet, owner, count,
                                  external)
        args['host_id'] = self.configuration.neutron_host_id
        args['binding:vnic_type'] = self.configuration.neutron_vnic_type
        if self.binding_profiles:
            args['binding:profile'] = {'local_link_information': [
                {'switch_id': CONF[p].neutron_switch_id,
                 'port_id': CONF[p].neutron_port_id,
                 'switch_info': CONF[p].neutron_switch_info}
                for p in self.binding_profiles]}
        return args

    def _segment_known(self, subnet, net_info):
        # Of a multi-segment network, the segment is known once bound.
        return 'segments' not in net_info or subnet.get('bound', False)

    def allocate_network(self, context, share_server, share_network=None,
                         share_network_subnet=None, **kwargs):
        ports = super().allocate_network(
            context, share_server, share_network, share_network_subnet,
            **kwargs)
        # With vnic 'normal' an agent binds the ports once the driver made
        # the interface: update_network_allocation waits for that instead.
        if self.configuration.neutron_vnic_type == 'normal':
            return ports
        self._wait_for_ports_bind(ports, share_server)
        net_info = self.neutron_api.get_network(
            share_network_subnet['neutron_net_id'])
        if 'segments' not in net_info:
            return ports
        subnet = dict(self._subnet_dict(share_network_subnet),
                      bound=True)
        self._store_network_data(context, subnet)
        keys = ('network_type', 'segmentation_id', 'cidr', 'ip_version')
        return [db_api.network_allocation_update(
            context, port['id'], {key: subnet[key] for key in keys})
            for port in ports]

    def update_network_allocation(self, context, share_server):
        if self.configuration.neutron_vnic_type != 'normal':
            return None
        ports = db_api.network_allocations_get_for_share_server(
            context, share_server['id'])
        self._wait_for_ports_bind(ports, share_server)
        return ports

    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(exception.NetworkBindException),
        stop=tenacity.stop_after_attempt(BIND_ATTEMPTS),
        wait=tenacity.wait_exponential(multiplier=0.5, max=BIND_WAIT_MAX),
        reraise=True)
    def _wait_for_ports_bind(self, ports, share_server):
        inactive = []
        for row in ports:
            port = self.neutron_api.show_port(row['id'])
            if (port.get('status') == neutron_api.PORT_STATUS_ERROR or
                    port.get('binding:vif_type') ==
                    neutron_api.VIF_TYPE_BINDING_FAILED):
                raise exception.NetworkException(
                    message='Port binding %s failed.' % port['id'])
            if port.get('status') != neutron_api.PORT_STATUS_ACTIVE:
                LOG.debug('Port %(id)s is %(status)s; waiting for ACTIVE.',
                          {'id': port['id'], 'status': port.get('status')})
                inactive.append(port['id'])
        if inactive:
            raise exception.NetworkBindException(
                message="Ports are not fully bound for share server '%s' "
                        "(inactive ports: %s)" % (share_server['id'],
                                                  inactive))


class NeutronBindSingleNetworkPlugin(NeutronSingleNetworkPlugin,
                                     NeutronBindNetworkPlugin):
    """The single-network plugin with bound ports."""
