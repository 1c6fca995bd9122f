"""Resolves a backend's ``share_driver`` value (entry-point alias, legacy upstream path or dotted class path) and builds the driver.

Resolution order of ``[<backend>] share_driver``:

1. legacy upstream paths that manila_lite ships a replacement for
   (``LEGACY_PATHS``, e.g. ``manila.tests.share.drivers.dummy.DummyDriver``
   as devstack writes it) are mapped to their alias;
2. an alias registered in the ``manila_lite.share.drivers`` entry-point
   namespace (``dummy``, ...), loaded with stevedore;
3. any other value is imported as ``package.module.ClassName``.

Anything that cannot be resolved to a ShareDriver subclass raises
``ConfigError`` naming the section, the option and the available aliases.
"""

import importlib.metadata

from oslo_log import log
from oslo_utils import importutils
from stevedore import driver as stevedore_driver

from manila_lite import exception

LOG = log.getLogger(__name__)

NAMESPACE = 'manila_lite.share.drivers'
OPTION = 'share_driver'

# Upstream class paths found in existing manila.conf files -> our alias.
LEGACY_PATHS = {
    'manila.tests.share.drivers.dummy.DummyDriver': 'dummy',
    'manila.share.drivers.dummy.DummyDriver': 'dummy',
    'manila_lite.tests.share.drivers.dummy.DummyDriver': 'dummy',
}


def available_aliases():
    """Return the sorted aliases registered in the driver namespace."""
    names = {ep.name for ep in
             importlib.metadata.entry_points(group=NAMESPACE)}
    return sorted(names)


def _config_error(section, reason):
    aliases = ', '.join(available_aliases()) or '(none)'
    return exception.ConfigError(
        section=section, option=OPTION,
        reason='%s. Available driver aliases: %s; a dotted class path '
               '(package.module.Class) is accepted too' % (reason, aliases))


def _load_alias(name, section):
    try:
        manager = stevedore_driver.DriverManager(
            namespace=NAMESPACE, name=name, invoke_on_load=False)
    except Exception as exc:
        raise _config_error(
            section, 'driver alias %r could not be loaded: %s'
            % (name, exc)) from exc
    return manager.driver


def _load_path(path, section):
    try:
        return importutils.import_class(path)
    except Exception as exc:
        if path.startswith('manila.'):
            reason = ('upstream driver %r is not available in manila_lite'
                      % path)
        else:
            reason = 'cannot import driver class %r (%s)' % (path, exc)
        raise _config_error(section, reason) from exc


def resolve_driver_class(name, section='DEFAULT'):
    """Return the driver class ``name`` designates, or raise ConfigError."""
    from manila_lite.share import driver as share_driver
    value = (name or '').strip()
    if not value:
        raise _config_error(section, 'no driver is configured')
    if value in LEGACY_PATHS:
        LOG.info('[%(section)s] share_driver %(old)s is served by the '
                 'manila_lite driver %(new)r.',
                 {'section': section, 'old': value,
                  'new': LEGACY_PATHS[value]})
        value = LEGACY_PATHS[value]
    if value in available_aliases():
        cls = _load_alias(value, section)
    elif '.' in value:
        cls = _load_path(value, section)
    else:
        raise _config_error(section, 'unknown driver alias %r' % value)
    if not (isinstance(cls, type) and
            issubclass(cls, share_driver.ShareDriver)):
        raise _config_error(
            section, '%r is not a ShareDriver subclass' % (value,))
    return cls


def load_driver(name, configuration, private_storage, section=None):
    """Build the driver of one backend.

    :param name: the ``share_driver`` value (alias or dotted path).
    :param configuration: the backend's Configuration; its
        ``config_group`` names the section in error messages.
    :param private_storage: the DriverPrivateData handed to the driver.
    :param section: section name for error messages when it differs from
        ``configuration.config_group`` (DEFAULT when both are unset).
    :returns: the driver instance, built as
        ``cls(configuration=..., private_storage=...)`` like upstream.
    :raises ConfigError: unknown alias, unimportable path or not a driver.
    """
    section = (section or getattr(configuration, 'config_group', None)
               or 'DEFAULT')
    cls = resolve_driver_class(name, section)
    LOG.debug('[%(section)s] loading share driver %(cls)s.',
              {'section': section,
               'cls': '%s.%s' % (cls.__module__, cls.__name__)})
    return cls(configuration=configuration, private_storage=private_storage)
