"""Entry-point package: selects the concurrency backend before anything else is imported.

Native threads are the default. Upstream's opt-in switch is honoured: setting
OS_MANILA_DISABLE_EVENTLET_PATCHING to anything but 1/true/yes (for example
"0") selects the deprecated eventlet backend with upstream's warning.
"""

import gc as _gc

from manila_lite.cmd import backend as _backend

# Selecting the backend imports oslo.service, oslo.config and oslo.log:
# long-lived objects only, so no cyclic collection meanwhile (see
# manila_lite.cmd.share._start_up_gc).
_gc_enabled = _gc.isenabled()
_gc.disable()
try:
    _backend.select()
finally:
    if _gc_enabled:
        _gc.enable()
