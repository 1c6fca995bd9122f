"""Per-backend view of the global configuration: grafts option lists into a backend section, as upstream does.

Each backend of ``enabled_share_backends`` has its own section::

    [dummy1]
    share_driver = dummy
    driver_handles_share_servers = False
    share_backend_name = DUMMY_ONE

oslo.config only reads options registered in the group they are read from,
so the manager and the driver *graft* the option lists they use into the
backend's group (``Configuration(opts, config_group='dummy1')``,
``append_config_values(more_opts)``) and then read them as attributes
(``configuration.share_backend_name``) or with ``safe_get(name)``, which
answers None for options nobody registered. A group does not fall back to
``[DEFAULT]``: an option missing from ``[dummy1]`` has its own default there.

Without a group (single-backend deployments) the view is ``[DEFAULT]``.
"""

from oslo_config import cfg

CONF = cfg.CONF


class Configuration(object):
    """Attribute access to one backend section of the global CONF."""

    def __init__(self, share_opts, config_group=None):
        """Register ``share_opts`` in ``config_group`` (DEFAULT when None)."""
        self.config_group = config_group
        if config_group:
            CONF.register_group(cfg.OptGroup(config_group))
        self._ensure_config_values(share_opts)
        if config_group:
            self.local_conf = CONF._get(config_group)
        else:
            self.local_conf = CONF

    def _ensure_config_values(self, share_opts):
        # Registering the same Opt objects twice is a no-op in oslo.config,
        # so every driver of every backend may graft the same lists.
        CONF.register_opts(share_opts, group=self.config_group)

    def append_config_values(self, share_opts):
        """Graft one more option list into this section."""
        self._ensure_config_values(share_opts)

    def safe_get(self, value):
        """Return the option's value, or None if it was never registered."""
        try:
            return self.__getattr__(value)
        except cfg.NoSuchOptError:
            return None

    def __getattr__(self, value):
        # Only called for names that are not real attributes; guard the
        # attributes __init__ sets so copy/pickle never recurse.
        if value in ('local_conf', 'config_group') or value.startswith('__'):
            raise AttributeError(value)
        return getattr(self.local_conf, value)

    def __repr__(self):
        return '<Configuration [%s]>' % (self.config_group or 'DEFAULT')
