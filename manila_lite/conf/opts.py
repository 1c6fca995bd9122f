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
)


def list_opts():
    grouped = collections.OrderedDict()
    for name in _OPT_MODULES:
        module = importlib.import_module(name)
        for group, opts in module.list_opts():
            grouped.setdefault(group, []).extend(opts)
    return list(grouped.items())
