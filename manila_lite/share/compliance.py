"""The driver compliance check, shipped so an out-of-tree driver can run it against itself: signatures, build, set-up, capabilities.

From a driver's own test suite::

    from manila_lite.share import compliance

    def test_my_driver_complies(tmp_path):
        assert compliance.check(MyDriver, options={'my_opt': 'x'},
                                state_path=str(tmp_path)) == []

or from a shell, naming a registered alias or a dotted class path::

    python -m manila_lite.share.compliance mypackage.driver.MyDriver \\
        --option my_opt=x

Each check answers a list of problems (empty: compliant) rather than
raising, so a report names everything that is wrong at once. The driver
is built as the share service builds it (``cls(configuration=...,
private_storage=...)`` on a backend section of its own, in
``driver_handles_share_servers = False`` mode), then ``do_setup``,
``check_for_setup_error`` and ``get_share_stats(refresh=True)`` run.
"""

import inspect
import sys

from oslo_config import cfg
from oslo_utils import uuidutils

from manila_lite.conf import share_driver as share_driver_opts

KIND = inspect.Parameter

# What the scheduler reads from every backend's report (upstream's
# capability names).
REQUIRED_CAPABILITIES = (
    'share_backend_name', 'driver_handles_share_servers', 'vendor_name',
    'driver_version', 'storage_protocol', 'total_capacity_gb',
    'free_capacity_gb', 'reserved_percentage',
    'reserved_snapshot_percentage', 'reserved_share_extend_percentage',
    'qos', 'pools', 'snapshot_support',
    'create_share_from_snapshot_support', 'revert_to_snapshot_support',
    'mount_snapshot_support', 'replication_domain', 'filter_function',
    'goodness_function', 'security_service_update_support',
    'network_allocation_update_support',
    'share_server_multiple_subnet_support', 'mount_point_name_support',
    'share_replicas_migration_support', 'encryption_support',
    'qos_type_support', 'snapshot_inherit_share_access_support',
    'share_group_stats', 'ipv4_support', 'ipv6_support',
)

REQUIRED_POOL_KEYS = (
    'pool_name', 'total_capacity_gb', 'free_capacity_gb',
    'reserved_percentage', 'reserved_snapshot_percentage',
    'reserved_share_extend_percentage',
)


def params_of(func):
    """``(name, kind, has_default)`` of each parameter of ``func`` but ``self``."""
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name == 'self':
        params = params[1:]
    return [(p.name, p.kind, p.default is not KIND.empty) for p in params]


def incompatibilities(base, override):
    """Why a call valid for the ``base`` parameters could fail on ``override`` (both as params_of gives them)."""
    kinds = {kind for _, kind, _ in override}
    if {KIND.VAR_POSITIONAL, KIND.VAR_KEYWORD} <= kinds:
        return []
    problems = []
    positional = [p for p in base if p[1] == KIND.POSITIONAL_OR_KEYWORD]
    over_pos = [p for p in override
                if p[1] in (KIND.POSITIONAL_ONLY, KIND.POSITIONAL_OR_KEYWORD)]
    for index, (name, _, has_default) in enumerate(positional):
        if index >= len(over_pos) or over_pos[index][0] != name:
            if KIND.VAR_POSITIONAL not in kinds:
                problems.append('positional parameter %d is not %r'
                                % (index, name))
            continue
        if has_default and not over_pos[index][2]:
            problems.append('%r lost its default' % name)
    base_names = {name for name, _, _ in base}
    for name, kind, has_default in override:
        if (name not in base_names and not has_default and kind in
                (KIND.POSITIONAL_OR_KEYWORD, KIND.KEYWORD_ONLY)):
            problems.append('new parameter %r has no default' % name)
    for name, kind, _ in base:
        if kind in (KIND.VAR_POSITIONAL, KIND.VAR_KEYWORD) and \
                kind not in kinds:
            problems.append('does not accept %s' % (
                '*args' if kind == KIND.VAR_POSITIONAL else '**kwargs'))
    return problems


def _base():
    from manila_lite.share import driver
    return driver.ShareDriver


def public_base_methods():
    """Names of the ShareDriver methods a driver may override."""
    return sorted(name for name, _ in
                  inspect.getmembers(_base(), inspect.isfunction)
                  if not name.startswith('__'))


def signature_problems(cls):
    """``{method: [why]}`` for each override of ``cls`` a call to ShareDriver's method could fail on."""
    base_cls = _base()
    problems = {}
    for name in public_base_methods():
        override, base = getattr(cls, name), getattr(base_cls, name)
        if override is base or name == '__init__':
            continue
        found = incompatibilities(params_of(base), params_of(override))
        if found:
            problems[name] = found
    return problems


def stats_problems(stats):
    """What is missing or wrong in a ``get_share_stats`` answer of a DHSS=False backend."""
    if not isinstance(stats, dict):
        return ['get_share_stats returned %s, not a dict'
                % type(stats).__name__]
    problems = ['capability %r is missing' % key
                for key in REQUIRED_CAPABILITIES if key not in stats]
    if stats.get('driver_handles_share_servers') is not False:
        problems.append('driver_handles_share_servers is %r, not False'
                        % (stats.get('driver_handles_share_servers'),))
    groups = stats.get('share_group_stats')
    if not isinstance(groups, dict) or \
            'consistent_snapshot_support' not in groups:
        problems.append('share_group_stats lacks consistent_snapshot_support')
    elif groups['consistent_snapshot_support'] not in (None, 'pool', 'host'):
        problems.append('share_group_stats.consistent_snapshot_support is '
                        '%r, not pool, host or None'
                        % (groups['consistent_snapshot_support'],))
    pools = stats.get('pools')
    if not pools:
        problems.append('no pools reported (drivers must report pools)')
    for pool in pools or []:
        missing = [k for k in REQUIRED_POOL_KEYS if k not in pool]
        if missing:
            problems.append('pool %r lacks %s' % (
                pool.get('pool_name'), ', '.join(missing)))
    return problems


def _build(cls, section):
    from manila_lite.share import configuration
    from manila_lite.share import drivers_private_data
    conf = configuration.Configuration([], config_group=section)
    storage = drivers_private_data.DriverPrivateData(
        storage=drivers_private_data.MemoryStorageDriver())
    return cls(configuration=conf, private_storage=storage)


def _run_driver(cls, section):
    """Build and set the driver up; return (problems, stats or None)."""
    from manila_lite import context
    drv = _build(cls, section)
    problems = []
    if drv.driver_handles_share_servers is not False:
        problems.append('driver_handles_share_servers is %r after building '
                        'with False' % (drv.driver_handles_share_servers,))
    if drv.initialized is not False:
        problems.append('initialized is %r before do_setup'
                        % (drv.initialized,))
    drv.do_setup(context.get_admin_context())
    drv.check_for_setup_error()
    return problems, drv.get_share_stats(refresh=True)


def check(cls, options=None, state_path=None, conf=None):
    """Every compliance problem of driver class ``cls``; [] when it complies.

    :param options: backend-section options the driver needs
        (``{name: value}``), e.g. where its pools are.
    :param state_path: a scratch ``[DEFAULT] state_path`` while it runs.
    :param conf: the ConfigOpts to use (default: the global CONF).
    """
    from manila_lite.share import driver
    conf = conf or cfg.CONF
    if not (inspect.isclass(cls) and issubclass(cls, driver.ShareDriver)):
        return ['%r is not a ShareDriver subclass' % (cls,)]
    problems = ['%s: %s' % (name, why) for name, found in
                sorted(signature_problems(cls).items()) for why in found]
    section = 'compliance_%s' % uuidutils.generate_uuid(dashed=False)[:12]
    for _group, opts in share_driver_opts.list_opts():
        conf.register_opts(opts, group=section)
    values = dict(options or {}, driver_handles_share_servers=False)
    try:
        if state_path is not None:
            conf.set_override('state_path', state_path)
        for key, value in values.items():
            conf.set_override(key, value, group=section)
        found, stats = _run_driver(cls, section)
        problems.extend(found + stats_problems(stats))
    except Exception as exc:
        problems.append('set-up failed: %s: %s' % (type(exc).__name__, exc))
    finally:
        for key in values:
            conf.clear_override(key, group=section)
        if state_path is not None:
            conf.clear_override('state_path')
    return problems


def main(argv=None):
    """``python -m manila_lite.share.compliance DRIVER [--option k=v ...] [--state-path DIR]``: exit 0 when it complies."""
    import argparse
    from manila_lite import conf as _conf  # noqa: F401  (registers options)
    from manila_lite.share import driver_loader
    import tempfile
    parser = argparse.ArgumentParser(
        prog='python -m manila_lite.share.compliance',
        description='Check a share driver against the ShareDriver contract.')
    parser.add_argument('driver', help='registered alias or dotted class path')
    parser.add_argument('--option', action='append', default=[],
                        metavar='NAME=VALUE',
                        help='a backend option the driver needs (repeatable)')
    parser.add_argument('--state-path', default=None,
                        help='scratch state_path (default: a temporary '
                             'directory)')
    args = parser.parse_args(argv)
    cfg.CONF([], project='manila')
    options = dict(item.split('=', 1) for item in args.option)
    cls = driver_loader.resolve_driver_class(args.driver, 'compliance')
    with tempfile.TemporaryDirectory() as scratch:
        problems = check(cls, options=options,
                         state_path=args.state_path or scratch)
    for problem in problems:
        print('%s: %s' % (args.driver, problem))
    print('%s: %s' % (args.driver, 'compliant' if not problems else
                      '%d problem(s)' % len(problems)))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
