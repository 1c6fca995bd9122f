"""Every manila_lite option, grouped by section, for oslo-config-generator."""

import collections
import importlib

# Modules whose list_opts() returns [(group, [opts])]. Backend-section
# options are shown under [DEFAULT] with the rest, as upstream's sample does;
# operators copy them into each backend section.
_OPT_MODULES = (
    'manila_lite.conf.service',
    'manila_lite.conf.manager',
    'manila_lite.conf.hook',
    'manila_lite.conf.coordination',
    'manila_lite.conf.quota',
    'manila_lite.conf.reconcile',
    'manila_lite.conf.share_driver',
    'manila_lite.conf.localfs',
    'manila_lite.conf.network',
    'manila_lite.conf.neutron',
)


def list_opts():
    grouped = collections.OrderedDict()
    for name in _OPT_MODULES:
        module = importlib.import_module(name)
        for group, opts in module.list_opts():
            grouped.setdefault(group, []).extend(opts)
    return list(grouped.items())


# How many requests RabbitMQ may send a server ahead of its reading them.
# Upstream leaves oslo.messaging's 0 (no limit); manila_lite's server reads
# a request only when a worker is free, and closing a connection reads
# whatever was sent ahead, so a small window keeps a stop short (see
# manila_lite.rpc.BoundedIntakeRPCServer).
RABBIT_QOS_PREFETCH_COUNT = 8
# The longest wait between reconnection attempts to RabbitMQ (oslo.messaging:
# 30 s): after a long outage the daemon is back within this of the broker.
RABBIT_INTERVAL_MAX = 10


def set_lib_defaults():
    """Give library options manila_lite's defaults (oslo.config.opts.defaults hook, also used at run time)."""
    from oslo_config import cfg
    from oslo_messaging._drivers import impl_rabbit
    cfg.set_defaults(impl_rabbit.rabbit_opts,
                     rabbit_qos_prefetch_count=RABBIT_QOS_PREFETCH_COUNT,
                     rabbit_interval_max=RABBIT_INTERVAL_MAX)
