"""benchmarks/soak.py runs a short mixed workload end to end.

Every kind of operation happens, no errors, and no row is left in a
transitional state.
"""

import os
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.functional

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir,
                                    os.pardir, os.pardir))


def test_short_soak_leaves_nothing_transitional():
    res = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'benchmarks', 'soak.py'),
         '--duration', '20', '--concurrency', '3', '--settle', '1',
         '--seed', '7'],
        capture_output=True, text=True, cwd=ROOT, timeout=400)
    out = res.stdout
    assert res.returncode == 0, out + res.stderr
    done = dict((k, int(n)) for k, n in re.findall(r'^  (\w+)\s+(\d+)$',
                                                   out, re.M))
    for kind in ('create', 'allow', 'snapshot', 'extend'):
        assert done.get(kind, 0) > 0, out
    assert re.search(r'^errors: 0$', out, re.M), out
    left = out.split('(must be 0):')[1].split('ERROR lines')[0]
    counts = [int(n) for n in re.findall(r'(\d+)\s*$', left, re.M)]
    assert len(counts) == 4 and not any(counts), out
    assert re.search(r'daemon RSS: start \d', out), out
