"""[coordination] options: the tooz backend for distributed locks."""

from oslo_config import cfg

coordination_opts = [
    cfg.StrOpt('backend_url', secret=True, default='file://$state_path',
               help='tooz back end URL for distributed locks.'),
]


def register_opts(conf):
    conf.register_opts(coordination_opts, group='coordination')


def list_opts():
    return [('coordination', coordination_opts)]
