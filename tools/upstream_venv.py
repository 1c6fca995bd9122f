"""Create, or reuse when already complete, the virtualenv that holds upstream manila for the interop tests.

    python tools/upstream_venv.py             # prints the venv's python
    python tools/upstream_venv.py --recreate

The venv lives in ``$MANILA_LITE_UPSTREAM_VENV`` (default
``~/.cache/manila-lite/upstream-venv``) and is installed from the package
index only; all wheels exist for CPython 3.11 on x86_64, so no compiler or
system library is needed. A marker file written last makes a half-built venv
(an interrupted install) get rebuilt; a lock serialises concurrent builders.
"""

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
import time

REQUIREMENTS = ('manila==23.0.1', 'psycopg2-binary')
# Installed on top of a complete venv, with a marker of their own, so that
# a venv built before they were listed is completed, not rebuilt.
EXTRA_REQUIREMENTS = ('PyMySQL',)
DEFAULT_PATH = os.path.join('~', '.cache', 'manila-lite', 'upstream-venv')
MARKER = '.manila-lite-ready'
EXTRA_MARKER = '.manila-lite-extras'


def venv_path():
    """Where the upstream venv lives (env override first)."""
    return os.path.abspath(os.path.expanduser(
        os.environ.get('MANILA_LITE_UPSTREAM_VENV') or DEFAULT_PATH))


def _python(path):
    return os.path.join(path, 'bin', 'python')


def _is_complete(path):
    try:
        with open(os.path.join(path, MARKER)) as f:
            return f.read().split() == list(REQUIREMENTS)
    except OSError:
        return False


def _pip_install(path, requirements):
    cmd = [_python(path), '-m', 'pip', 'install', '-q',
           '--disable-pip-version-check', *requirements]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError('%s failed:\n%s%s' % (' '.join(cmd),
                                                 res.stdout[-4000:],
                                                 res.stderr[-4000:]))


def _ensure_extras(path):
    marker = os.path.join(path, EXTRA_MARKER)
    try:
        with open(marker) as f:
            if f.read().split() == list(EXTRA_REQUIREMENTS):
                return
    except OSError:
        pass
    _pip_install(path, EXTRA_REQUIREMENTS)
    with open(marker, 'w') as f:
        f.write('\n'.join(EXTRA_REQUIREMENTS) + '\n')


def ensure_upstream_venv(path=None, recreate=False, python=None, log=None):
    """Return the python of a complete upstream venv, building it if needed.

    ``python`` is the interpreter that creates the venv (default: this one's
    base interpreter); ``log`` receives progress lines (default: stderr).
    """
    path = os.path.abspath(path or venv_path())
    log = log or (lambda line: print(line, file=sys.stderr))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _is_complete(path) and not recreate:
            _ensure_extras(path)
            return _python(path)
        shutil.rmtree(path, ignore_errors=True)
        began = time.monotonic()
        base = python or getattr(sys, '_base_executable', sys.executable)
        subprocess.run([base, '-m', 'venv', path], check=True)
        _pip_install(path, REQUIREMENTS)
        with open(os.path.join(path, MARKER), 'w') as f:
            f.write('\n'.join(REQUIREMENTS) + '\n')
        _ensure_extras(path)
        log('upstream venv %s built in %.0f s' % (path,
                                                  time.monotonic() - began))
    return _python(path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--path', help='venv directory (default: %s)'
                        % venv_path())
    parser.add_argument('--recreate', action='store_true',
                        help='rebuild even if complete')
    args = parser.parse_args(argv)
    print(ensure_upstream_venv(args.path, recreate=args.recreate))
    return 0


if __name__ == '__main__':
    sys.exit(main())
