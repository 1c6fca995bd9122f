"""SIGTERM handling of manila-lite-share's serve loop.

A clean stop exits 0; a stop that hangs past graceful_shutdown_timeout exits 1
with one log line.
"""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

# A service whose stop() returns or hangs, served by the real _serve().
SCRIPT = textwrap.dedent('''
    import manila_lite.cmd
    import sys, threading
    from oslo_config import cfg
    from oslo_service import opts, service
    from manila_lite.cmd import share
    from manila_lite import conf  # registers options before parsing

    HANG = sys.argv[1] == 'hang'
    TIMEOUT = int(sys.argv[2])

    class Svc(service.ServiceBase):
        def start(self):
            print('ready', flush=True)
        def stop(self, graceful=False):
            print('stopping', flush=True)
            if HANG:
                threading.Event().wait()
        def wait(self):
            pass
        def reset(self):
            pass

    opts.register_service_opts(cfg.CONF)
    cfg.CONF([], project='manila')
    cfg.CONF.set_override('graceful_shutdown_timeout', TIMEOUT)
    sys.exit(share._serve([Svc()]))
''')


# A stop that returns exits 0 well within its (generous) bound, however
# loaded the machine; one that hangs is cut at its (short) bound.
@pytest.mark.parametrize('mode, timeout, code', [('return', 60, 0),
                                                 ('hang', 1, 1)])
def test_sigterm_exit_is_bounded(tmp_path, mode, timeout, code):
    proc = subprocess.Popen([sys.executable, '-c', SCRIPT, mode,
                             str(timeout)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == 'ready'
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=120)   # liveness bound only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, err
    assert out.split() == ['stopping'], (out, err)
    timed_out = [line for line in err.splitlines()
                 if 'graceful_shutdown_timeout' in line]
    assert len(timed_out) == (1 if mode == 'hang' else 0), err
