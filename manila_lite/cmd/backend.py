"""Selection of oslo.service's concurrency backend (threading by default, eventlet on request)."""

import os

ENV_SWITCH = 'OS_MANILA_DISABLE_EVENTLET_PATCHING'
EVENTLET_WARNING = (
    "Service is starting with the eventlet backend. Eventlet is deprecated "
    "and will be removed in the next release. Unset "
    "OS_MANILA_DISABLE_EVENTLET_PATCHING to use the native threading "
    "backend.")

_selected = None


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
    from oslo_service import backend
    from oslo_service.backend import exceptions
    if wants_eventlet(environ):
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
