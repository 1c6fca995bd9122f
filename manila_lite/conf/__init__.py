"""Configuration options of manila_lite, registered on the global CONF on import of this package."""

from oslo_config import cfg

from manila_lite.conf import concurrency
from manila_lite.conf import coordination
from manila_lite.conf import database
from manila_lite.conf import hook
from manila_lite.conf import manager
from manila_lite.conf import quota
from manila_lite.conf import reconcile
from manila_lite.conf import service

CONF = cfg.CONF

service.register_opts(CONF)
manager.register_opts(CONF)
hook.register_opts(CONF)
coordination.register_opts(CONF)
quota.register_opts(CONF)
reconcile.register_opts(CONF)
database.register_opts(CONF)
concurrency.register_opts(CONF)
