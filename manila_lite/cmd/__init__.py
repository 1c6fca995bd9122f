"""Entry-point package: selects the concurrency backend before anything else is imported.

Native threads are the default. Upstream's opt-in switch is honoured: setting
OS_MANILA_DISABLE_EVENTLET_PATCHING to anything but 1/true/yes (for example
"0") selects the deprecated eventlet backend with upstream's warning.
"""

from manila_lite.cmd import backend as _backend

_backend.select()
