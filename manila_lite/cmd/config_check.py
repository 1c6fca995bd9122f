"""Start-up check of the configuration: every problem becomes one line naming section and option."""

import difflib

from oslo_config import cfg

from manila_lite.cmd import preflight
from manila_lite.conf import manager as manager_opts
from manila_lite import exception

EXAMPLE = ('for example "enabled_share_backends = alpha" with a section '
           '[alpha] holding "share_driver = localfs" (or dummy) and '
           '"driver_handles_share_servers = False"')


def _backend_opt_lists():
    from manila_lite.conf import hook as hook_opts
    from manila_lite.conf import localfs
    from manila_lite.conf import network
    from manila_lite.conf import share_driver
    lists = [manager_opts.share_manager_opts, hook_opts.backend_opts()]
    for _group, opts in (share_driver.list_opts() + localfs.list_opts() +
                         network.list_opts()):
        lists.append(opts)
    return lists


def _default_names(conf):
    """Names of [DEFAULT] options (iterating CONF also yields group names; reading those is harmless)."""
    return list(conf)


def _missing_section(conf, backend):
    """ConfigError for a backend listed without a section, with the nearest section name."""
    known = [s for s in conf.list_all_sections()
             if s != 'DEFAULT' and s not in conf]
    reason = 'backend section [%s] is missing from the config files' % backend
    near = difflib.get_close_matches(backend, known, n=1)
    if near:
        reason += '; did you mean [%s]?' % near[0]
    elif known:
        reason += ' (sections found: %s)' % ', '.join(
            '[%s]' % s for s in sorted(known))
    return exception.ConfigError(section='DEFAULT',
                                 option='enabled_share_backends',
                                 reason=reason)


def check_backend(conf, backend):
    """Graft the backend options into [backend] and read every one of them."""
    if backend not in conf.list_all_sections():
        raise _missing_section(conf, backend)
    names = []
    for opts in _backend_opt_lists():
        conf.register_opts(opts, group=backend)
        names.extend(opt.dest for opt in opts)
    preflight.read_options(conf, backend, names)
    if not conf[backend].share_driver:
        from manila_lite.share import driver_loader
        raise exception.ConfigError(
            section=backend, option='share_driver',
            reason='no driver is configured; available driver aliases: '
                   '%s' % ', '.join(driver_loader.available_aliases()))
    if conf[backend].driver_handles_share_servers is None:
        raise exception.ConfigError(
            section=backend, option='driver_handles_share_servers',
            reason='must be set to True or False')


def _check_backend_list(conf):
    backends = conf.enabled_share_backends or []
    if not backends and not conf.share_driver:
        # Upstream's single-backend mode (driver options in [DEFAULT])
        # needs a driver there; without one the list is what is missing.
        raise exception.ConfigError(
            section='DEFAULT', option='enabled_share_backends',
            reason='no backend is enabled; name the backend sections to '
                   'serve, %s' % EXAMPLE)
    if len(set(backends)) != len(backends):
        raise exception.ConfigError(
            section='DEFAULT', option='enabled_share_backends',
            reason='backend names must be unique')
    for backend in backends:
        if not backend or '@' in backend or '#' in backend:
            raise exception.ConfigError(
                section='DEFAULT', option='enabled_share_backends',
                reason='invalid backend name %r' % backend)
    return backends


def check_service_config(conf):
    """Raise ConfigError for the first invalid option of [DEFAULT] or a backend section."""
    preflight.read_options(conf, 'DEFAULT', _default_names(conf))
    for group in ('database', 'coordination', 'oslo_concurrency'):
        try:
            names = [name for name in conf[group]]
        except cfg.NoSuchOptError:
            continue
        preflight.read_options(conf, group, names)
    for backend in _check_backend_list(conf):
        check_backend(conf, backend)
