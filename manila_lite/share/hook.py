"""Hook drivers (backend option ``hook_drivers``): code run before and after share manager actions, and periodically.

A hook driver is a class named by its dotted path in the backend section::

    [alpha]
    hook_drivers = mypackage.hooks.AuditHook
    enable_pre_hooks = True
    enable_post_hooks = True
    enable_periodic_hooks = True
    suppress_pre_hooks_errors = False
    suppress_post_hooks_errors = False

It is built once, with the manager, as ``cls(configuration=<backend
section>, host=<host@backend>)``; subclass :class:`HookBase` and write its
three ``_execute_*`` methods. The manager methods that upstream decorates
with ``add_hooks`` run every enabled pre hook first (the RPC arguments as
keywords, ``func_name`` the method name), then the method, then every post
hook with ``driver_action_results`` (what the method returned) and
``pre_hook_data`` (what that hook's pre hook returned). A failing hook
fails the action unless its ``suppress_*_errors`` option is set; a
suppressed error is logged and handed on as the hook's data.
"""

import abc
import functools

from oslo_config import cfg
from oslo_log import log as logging
from oslo_utils import importutils

from manila_lite.conf import hook as hook_conf
from manila_lite import context as ml_context
from manila_lite.db import api as db_api
from manila_lite import exception

CONF = cfg.CONF
LOG = logging.getLogger(__name__)

_HOOK_METHODS = ('execute_pre_hook', 'execute_post_hook',
                 'execute_periodic_hook')


class HookBase(metaclass=abc.ABCMeta):
    """What the share manager calls on a hook driver; options come from the backend section."""

    def __init__(self, configuration, host):
        self.host = host
        self.configuration = configuration
        if self.configuration is not None:
            self.configuration.append_config_values(
                hook_conf.backend_opts())
        self.pre_hooks_enabled = self.get_config_option('enable_pre_hooks')
        self.post_hooks_enabled = self.get_config_option('enable_post_hooks')
        self.periodic_hooks_enabled = self.get_config_option(
            'enable_periodic_hooks')
        self.suppress_pre_hooks_errors = self.get_config_option(
            'suppress_pre_hooks_errors')
        self.suppress_post_hooks_errors = self.get_config_option(
            'suppress_post_hooks_errors')

    def get_config_option(self, key):
        """The option from the backend section ([DEFAULT] without one)."""
        if self.configuration is not None:
            return self.configuration.safe_get(key)
        return CONF.get(key)

    def execute_pre_hook(self, context=None, func_name=None, *args, **kwargs):
        """Run before ``func_name``; returns this hook's pre-hook data."""
        if not self.pre_hooks_enabled:
            return None
        context = context or ml_context.get_admin_context()
        try:
            return self._execute_pre_hook(context=context,
                                          func_name=func_name,
                                          *args, **kwargs)
        except Exception as exc:
            if not self.suppress_pre_hooks_errors:
                raise
            LOG.warning('Suppressed error of pre hook %(hook)s before '
                        '%(func)s: %(exc)s',
                        {'hook': type(self).__name__, 'func': func_name,
                         'exc': exc})
            return exc

    def execute_post_hook(self, context=None, func_name=None,
                          pre_hook_data=None, driver_action_results=None,
                          *args, **kwargs):
        """Run after ``func_name`` with its result and this hook's pre-hook data."""
        if not self.post_hooks_enabled:
            return None
        context = context or ml_context.get_admin_context()
        try:
            return self._execute_post_hook(
                context=context, func_name=func_name,
                pre_hook_data=pre_hook_data,
                driver_action_results=driver_action_results,
                *args, **kwargs)
        except Exception as exc:
            if not self.suppress_post_hooks_errors:
                raise
            LOG.warning('Suppressed error of post hook %(hook)s after '
                        '%(func)s: %(exc)s',
                        {'hook': type(self).__name__, 'func': func_name,
                         'exc': exc})
            return exc

    def execute_periodic_hook(self, context, periodic_hook_data, *args,
                              **kwargs):
        """Run every periodic_hooks_interval with the driver's periodic hook data."""
        if not self.periodic_hooks_enabled:
            return None
        context = context or ml_context.get_admin_context()
        return self._execute_periodic_hook(context, periodic_hook_data,
                                           *args, **kwargs)

    @abc.abstractmethod
    def _execute_pre_hook(self, context, func_name, *args, **kwargs):
        """Your pre hook."""

    @abc.abstractmethod
    def _execute_post_hook(self, context, func_name, pre_hook_data,
                           driver_action_results, *args, **kwargs):
        """Your post hook."""

    @abc.abstractmethod
    def _execute_periodic_hook(self, context, periodic_hook_data, *args,
                               **kwargs):
        """Your periodic hook."""


def load_hooks(configuration, host):
    """Build the hook drivers named by the backend's ``hook_drivers``; ConfigError for a bad one."""
    section = getattr(configuration, 'config_group', None) or 'DEFAULT'
    hooks = []
    for path in configuration.safe_get('hook_drivers') or []:
        def bad(reason, path=path):
            return exception.ConfigError(
                section=section, option='hook_drivers',
                reason='hook driver %r %s' % (path, reason))
        try:
            cls = importutils.import_class(path)
        except (ImportError, ValueError, AttributeError) as exc:
            raise bad('cannot be imported: %s' % exc)
        missing = [m for m in _HOOK_METHODS
                   if not callable(getattr(cls, m, None))]
        if missing:
            raise bad('is not a hook driver (missing %s)'
                      % ', '.join(missing))
        try:
            hooks.append(cls(configuration=configuration, host=host))
        except Exception as exc:
            raise bad('failed to start: %s: %s' % (type(exc).__name__, exc))
        LOG.info('Hook driver %(path)s loaded for %(host)s.',
                 {'path': path, 'host': host})
    return hooks


def add_hooks(func):
    """Run the manager's hooks around ``func`` (a ShareManager method), as upstream's decorator does."""

    @functools.wraps(func)
    def wrapped(self, *args, **kwargs):
        hooks = getattr(self, 'hooks', None)
        if not hooks:
            return func(self, *args, **kwargs)
        name = func.__name__
        pre_data = [hook.execute_pre_hook(func_name=name, *args, **kwargs)
                    for hook in hooks]
        result = func(self, *args, **kwargs)
        for hook, data in zip(hooks, pre_data):
            hook.execute_post_hook(func_name=name,
                                   driver_action_results=result,
                                   pre_hook_data=data, *args, **kwargs)
        return result

    wrapped.runs_hooks = True
    return wrapped


def execute_periodic_hook(mgr, context):
    """Periodic: hand the driver's hook data about this host's instances (one query) to every hook."""
    hooks = getattr(mgr, 'hooks', None)
    if not hooks:
        return
    instances = db_api.share_instance_get_all_by_host(context, mgr.host)
    try:
        data = mgr.driver.get_periodic_hook_data(
            context=context, share_instances=instances)
    except Exception:
        LOG.exception('Driver get_periodic_hook_data failed; periodic hooks '
                      'skipped this time.')
        return
    for hook in hooks:
        try:
            hook.execute_periodic_hook(context=context,
                                       periodic_hook_data=data)
        except Exception:
            LOG.exception('Periodic hook %s failed.', type(hook).__name__)
