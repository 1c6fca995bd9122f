"""Options of the network plugins that allocate share server addresses (DHSS=True backends).

They are registered in the section the backend names with
``network_config_group`` (default: the backend section itself) and, for the
admin network, ``admin_network_config_group``, as upstream registers them.
Example::

    [dhss1]
    share_driver = dummy
    driver_handles_share_servers = True
    network_api_class = manila.network.standalone_network_plugin.StandaloneNetworkPlugin
    standalone_network_plugin_gateway = 10.254.0.1
    standalone_network_plugin_mask = 24
    standalone_network_plugin_allowed_ip_ranges = 10.254.0.10-10.254.0.200
"""

from oslo_config import cfg

STANDALONE_PATH = ('manila.network.standalone_network_plugin.'
                   'StandaloneNetworkPlugin')

network_opts = [
    cfg.StrOpt('network_api_class', default=STANDALONE_PATH,
               help='Network plugin of the section: upstream class path or '
                    "manila_lite alias ('standalone', 'neutron', "
                    "'neutron_single', 'neutron_bind', "
                    "'neutron_bind_single'). The standalone plugin is the "
                    'default; the Neutron ones read [neutron].'),
]

network_base_opts = [
    cfg.BoolOpt('network_plugin_ipv4_enabled', default=True,
                help='Whether the plugin allocates IPv4 addresses.'),
    cfg.BoolOpt('network_plugin_ipv6_enabled', default=False,
                help='Whether the plugin allocates IPv6 addresses; when '
                     'True, the standalone plugin serves IPv6 only.'),
]

standalone_network_plugin_opts = [
    cfg.StrOpt('standalone_network_plugin_gateway',
               help='Gateway address of the network. Required.'),
    cfg.StrOpt('standalone_network_plugin_mask',
               help="Network mask: a prefix length ('24', '64') or a "
                    "dotted mask ('255.255.255.0'). Required."),
    cfg.StrOpt('standalone_network_plugin_network_type',
               choices=['flat', 'vlan', 'vxlan', 'gre'],
               help="Network type given to subnets and allocations; empty "
                    "means 'flat'."),
    cfg.IntOpt('standalone_network_plugin_segmentation_id',
               help='Segmentation id (VLAN, VXLAN, GRE) of the network.'),
    cfg.ListOpt('standalone_network_plugin_allowed_ip_ranges',
                help='Addresses that may be allocated: single addresses '
                     "or 'first-last' ranges, IPv4 or IPv6. Empty: every "
                     'host address of the network.'),
    cfg.IntOpt('standalone_network_plugin_mtu', default=1500,
               help='MTU of the network.'),
]


def list_opts():
    return [('DEFAULT', network_opts + network_base_opts +
             standalone_network_plugin_opts)]
