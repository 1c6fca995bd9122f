"""Options of the Neutron network plugins: the ``[neutron]`` client section and the per-plugin options of a network config group.

``[neutron]`` holds how to reach Neutron (upstream's names): ``url``
(an endpoint override; without it the endpoint comes from the Keystone
catalog), ``endpoint_type``, ``region_name``, the keystoneauth session
options (``timeout``, ``cafile``, ``insecure``, ...) and the keystoneauth
auth options (``auth_type`` and the options of that plugin, e.g.
``password`` with ``auth_url``/``username``/...; ``none`` with ``url``
needs no Keystone). Example::

    [neutron]
    url = http://127.0.0.1:9696
    auth_type = none

    [dhss1]
    network_api_class = manila.network.neutron.neutron_network_plugin.NeutronNetworkPlugin
"""

import copy
import socket

from keystoneauth1 import loading as ks_loading
from oslo_config import cfg

NEUTRON_GROUP = 'neutron'

_PLUGIN_MODULE = 'manila.network.neutron.neutron_network_plugin.'
NEUTRON_PATH = _PLUGIN_MODULE + 'NeutronNetworkPlugin'
NEUTRON_SINGLE_PATH = _PLUGIN_MODULE + 'NeutronSingleNetworkPlugin'
NEUTRON_BIND_PATH = _PLUGIN_MODULE + 'NeutronBindNetworkPlugin'
NEUTRON_BIND_SINGLE_PATH = _PLUGIN_MODULE + 'NeutronBindSingleNetworkPlugin'

neutron_opts = [
    cfg.StrOpt('url',
               help='Neutron endpoint (e.g. http://127.0.0.1:9696); '
                    'overrides the Keystone catalog. Required with '
                    'auth_type = none.'),
    cfg.IntOpt('url_timeout', default=30,
               deprecated_for_removal=True,
               deprecated_reason='Unused, as upstream; use timeout.',
               help='Unused; kept so upstream config files load.'),
    cfg.StrOpt('auth_strategy', default='keystone',
               deprecated_for_removal=True,
               deprecated_reason='Unused, as upstream; use auth_type.',
               help='Unused; kept so upstream config files load.'),
    cfg.StrOpt('endpoint_type', default='publicURL',
               choices=['publicURL', 'internalURL', 'adminURL',
                        'public', 'internal', 'admin'],
               help='Catalog interface of the Neutron endpoint.'),
    cfg.StrOpt('region_name',
               help='Region of the Neutron endpoint in the catalog.'),
]

neutron_network_plugin_opts = [
    cfg.StrOpt('neutron_physical_net_name',
               help='Physical network whose segment a multi-segment '
                    'Neutron network gives share servers.'),
]

neutron_single_network_plugin_opts = [
    cfg.StrOpt('neutron_net_id',
               help='Neutron network of every share server '
                    '(NeutronSingleNetworkPlugin).'),
    cfg.StrOpt('neutron_subnet_id',
               help='Neutron subnet of neutron_net_id used by every share '
                    'server (NeutronSingleNetworkPlugin).'),
]

neutron_bind_network_plugin_opts = [
    cfg.StrOpt('neutron_vnic_type', default='baremetal',
               choices=['baremetal', 'normal', 'direct',
                        'direct-physical', 'macvtap'],
               help='binding:vnic_type of the ports (bind plugins).'),
    cfg.StrOpt('neutron_host_id', default=socket.gethostname(),
               sample_default='<HOSTNAME>',
               help='binding:host_id of the ports (bind plugins); default '
                    'this host name.'),
    cfg.ListOpt('neutron_binding_profiles',
                help='Names of sections, each one binding profile '
                     '(neutron_switch_id, neutron_port_id, '
                     'neutron_switch_info), sent as the ports\' '
                     'binding:profile local_link_information.'),
]

neutron_binding_profile_opts = [
    cfg.StrOpt('neutron_switch_id', help='Switch ID of the profile.'),
    cfg.StrOpt('neutron_port_id', help='Port ID on that switch.'),
    cfg.DictOpt('neutron_switch_info',
                help="Switch labels, e.g. 'switch_ip: 10.4.30.5'."),
]

# Every option a network config group may carry for the Neutron plugins.
plugin_opts = (neutron_network_plugin_opts +
               neutron_single_network_plugin_opts +
               neutron_bind_network_plugin_opts)


def register_client_opts(conf):
    """Register ``[neutron]``: upstream's options, keystoneauth's session and auth options."""
    ks_loading.register_session_conf_options(conf, NEUTRON_GROUP)
    ks_loading.register_auth_conf_options(conf, NEUTRON_GROUP)
    conf.register_opts(neutron_opts, group=NEUTRON_GROUP)


def _client_opts_for_sample():
    """``[neutron]`` as upstream's sample lists it: session, auth_type and the password plugin's options."""
    opts = copy.deepcopy(ks_loading.get_session_conf_options())
    opts.insert(0, ks_loading.get_auth_common_conf_options()[0])
    names = {opt.name for opt in opts}
    opts.extend(opt for opt in ks_loading.get_auth_plugin_conf_options(
        'password') if opt.name not in names)
    return sorted(opts, key=lambda opt: opt.name) + neutron_opts


def list_opts():
    return [(NEUTRON_GROUP, _client_opts_for_sample()),
            ('DEFAULT', plugin_opts)]
