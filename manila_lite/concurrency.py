"""Selection of oslo.service's concurrency backend (threading by default, eventlet on request), made when this module is first imported.

Native threads are the default. Upstream's opt-in switch is honoured: setting
OS_MANILA_DISABLE_EVENTLET_PATCHING to anything but 1/true/yes (for example
"0") selects the deprecated eventlet backend with upstream's warning. Every
module that needs the backend chosen before oslo.service loads (the
service, the manager, the entry points) imports this one first; it
imports nothing of manila_lite.
"""

import importlib.abc
import os
import sys

ENV_SWITCH = 'OS_MANILA_DISABLE_EVENTLET_PATCHING'
EVENTLET_WARNING = (
    "Service is starting with the eventlet backend. Eventlet is deprecated "
    "and will be removed in the next release. Unset "
    "OS_MANILA_DISABLE_EVENTLET_PATCHING to use the native threading "
    "backend.")

_selected = None


class _EventletBlocker(importlib.abc.MetaPathFinder):
    """Makes ``import eventlet`` fail on the threading backend.

    Libraries such as futurist import eventlet opportunistically when it is
    installed; with native threads nothing may load it (upstream poisons
    eventlet for the same reason), and its import-time deprecation warning
    would reach every command's stderr.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname == 'eventlet' or fullname.startswith('eventlet.'):
            raise ImportError('eventlet is disabled: manila_lite runs on the '
                              'native threading backend (set %s=0 to opt '
                              'into eventlet)' % ENV_SWITCH)
        return None


def _block_eventlet():
    if 'eventlet' in sys.modules:
        return
    if not any(isinstance(f, _EventletBlocker) for f in sys.meta_path):
        sys.meta_path.insert(0, _EventletBlocker())


def wants_eventlet(environ=None):
    """Return True when the environment opts into the eventlet backend."""
    value = (environ if environ is not None else os.environ).get(
        ENV_SWITCH, '').strip().lower()
    return value not in ('', '1', 'true', 'yes')


def select(environ=None):
    """Select the backend once per process and return its name."""
    global _selected
    if _selected is not None:
        return _selected
    eventlet_wanted = wants_eventlet(environ)
    if not eventlet_wanted:
        _block_eventlet()
    from oslo_service import backend
    from oslo_service.backend import exceptions
    if eventlet_wanted:
        import eventlet
        eventlet.monkey_patch()
        kind = backend.BackendType.EVENTLET
    else:
        kind = backend.BackendType.THREADING
    try:
        backend.init_backend(kind)
    except exceptions.BackendAlreadySelected:
        pass
    _selected = kind.value
    return _selected


def warn_if_eventlet(log):
    """Log upstream's deprecation warning when eventlet was selected."""
    if _selected == 'eventlet':
        log.warning(EVENTLET_WARNING)


select()
