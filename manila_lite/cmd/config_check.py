"""Start-up check of the configuration: every problem becomes one line naming section and option."""

from oslo_config import cfg

from manila_lite.conf import manager as manager_opts
from manila_lite import exception


def _backend_opt_lists():
    from manila_lite.conf import hook as hook_opts
    from manila_lite.conf import localfs
    from manila_lite.conf import share_driver
    lists = [manager_opts.share_manager_opts, hook_opts.backend_opts()]
    for _group, opts in share_driver.list_opts() + localfs.list_opts():
        lists.append(opts)
    return lists


def _read_all(conf, group_name, names):
    group = conf if group_name == 'DEFAULT' else conf[group_name]
    for name in names:
        try:
            getattr(group, name)
        except (cfg.ConfigFileValueError, ValueError) as exc:
            raise exception.ConfigError(section=group_name, option=name,
                                        reason=str(exc))


def _default_names(conf):
    """Names of [DEFAULT] options (iterating CONF also yields group names; reading those is harmless)."""
    return list(conf)


def check_backend(conf, backend):
    """Graft the backend options into [backend] and read every one of them."""
    if backend not in conf.list_all_sections():
        raise exception.ConfigError(
            section='DEFAULT', option='enabled_share_backends',
            reason='backend section [%s] is missing from the config files'
                   % backend)
    names = []
    for opts in _backend_opt_lists():
        conf.register_opts(opts, group=backend)
        names.extend(opt.dest for opt in opts)
    _read_all(conf, backend, names)
    if conf[backend].driver_handles_share_servers is None:
        raise exception.ConfigError(
            section=backend, option='driver_handles_share_servers',
            reason='must be set to True or False')


def check_service_config(conf):
    """Raise ConfigError for the first invalid option of [DEFAULT] or a backend section."""
    _read_all(conf, 'DEFAULT', _default_names(conf))
    for group in ('database', 'coordination', 'oslo_concurrency'):
        try:
            names = [name for name in conf[group]]
        except cfg.NoSuchOptError:
            continue
        _read_all(conf, group, names)
    backends = conf.enabled_share_backends or []
    if len(set(backends)) != len(backends):
        raise exception.ConfigError(
            section='DEFAULT', option='enabled_share_backends',
            reason='backend names must be unique')
    for backend in backends:
        if not backend or '@' in backend or '#' in backend:
            raise exception.ConfigError(
                section='DEFAULT', option='enabled_share_backends',
                reason='invalid backend name %r' % backend)
        check_backend(conf, backend)
