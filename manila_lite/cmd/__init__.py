"""Entry-point package: the concurrency backend is selected before anything else is imported.

Selecting it (:mod:`manila_lite.concurrency`) imports oslo.service,
oslo.config and oslo.log: long-lived objects only, so no cyclic collection
meanwhile (see manila_lite.cmd.share._start_up_gc).
"""

import gc as _gc

_gc_enabled = _gc.isenabled()
_gc.disable()
try:
    import manila_lite.concurrency  # noqa: F401
finally:
    if _gc_enabled:
        _gc.enable()
