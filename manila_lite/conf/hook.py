"""Options of the hook framework, read from the section of the backend whose hook_drivers load them."""

from oslo_config import cfg

from manila_lite.conf import manager

hook_options = [
    cfg.BoolOpt('enable_pre_hooks', default=False,
                help='Run the pre hooks of the hook_drivers of this backend '
                     'before share driver actions.'),
    cfg.BoolOpt('enable_post_hooks', default=False,
                help='Run the post hooks of the hook_drivers of this backend '
                     'after share driver actions.'),
    cfg.BoolOpt('enable_periodic_hooks', default=False,
                help='Run the periodic hooks of the hook_drivers of this '
                     'backend every periodic_hooks_interval seconds.'),
    cfg.BoolOpt('suppress_pre_hooks_errors', default=False,
                help='Log a failing pre hook and let the driver action run '
                     'anyway, instead of failing the action.'),
    cfg.BoolOpt('suppress_post_hooks_errors', default=False,
                help="Log a failing post hook and pass the driver action's "
                     "result on, instead of failing the action."),
]


def backend_opts():
    """Everything a hook grafts into its backend section (periodic_hooks_interval too, as upstream)."""
    return hook_options + manager.hook_opts


def register_opts(conf):
    conf.register_opts(hook_options)


def list_opts():
    return [('DEFAULT', hook_options)]
