"""Options of the reconciliation of rows left in transitional states (lost casts, crashes)."""

from oslo_config import cfg

reconcile_opts = [
    cfg.IntOpt('transitional_state_timeout', default=600, min=0,
               help='Seconds a share instance of this host may stay in a '
                    'transitional status (creating, deleting, extending, '
                    '...) without an update before the share service settles '
                    'it with the driver or marks it failed with a user '
                    'message. 0 disables the reconciliation. manila_lite '
                    'option; upstream leaves such rows stranded.'),
    cfg.IntOpt('transitional_state_check_interval', default=60, min=1,
               help='Seconds between reconciliation runs (independent of '
                    'periodic_interval).'),
]


def register_opts(conf):
    conf.register_opts(reconcile_opts)


def list_opts():
    return [('DEFAULT', reconcile_opts)]
