"""Fixtures of the interop tests: the upstream manila venv and a runner for the helper scripts in this directory."""

import json
import os
import subprocess

import pytest

import upstream_venv

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope='session')
def upstream_python():
    """Python of the upstream manila venv (built on first use, ~1 min)."""
    if os.environ.get('MANILA_LITE_SKIP_INTEROP'):
        pytest.skip('MANILA_LITE_SKIP_INTEROP is set')
    return upstream_venv.ensure_upstream_venv()


def make_runner(python, default_transport_url):
    """``run(script, *args)``: run a helper script in the upstream venv.

    Scripts other than db_sync.py get ``--transport-url`` (default:
    ``default_transport_url``); pass ``--connection``. Returns the JSON the
    script printed.
    """
    def run(script, *args, transport_url=None, timeout=300):
        cmd = [python, os.path.join(HERE, script)]
        if script != 'db_sync.py':
            cmd += ['--transport-url', transport_url or default_transport_url]
        cmd += list(args)
        env = dict(os.environ, PYTHONWARNINGS='ignore::DeprecationWarning')
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, env=env)
        if res.returncode != 0:
            raise AssertionError('%s exited %d\nstdout:\n%s\nstderr:\n%s'
                                 % (' '.join(cmd), res.returncode,
                                    res.stdout, res.stderr[-6000:]))
        return json.loads(res.stdout.strip().splitlines()[-1])
    return run


@pytest.fixture
def upstream(upstream_python, rabbitmq):
    """``upstream(script, *args)`` runs a helper script (see make_runner)."""
    return make_runner(upstream_python, rabbitmq.url)


@pytest.fixture(scope='module')
def upstream_module(upstream_python, rabbitmq):
    """``upstream`` for module-scoped fixtures."""
    return make_runner(upstream_python, rabbitmq.url)


def upstream_schema_daemon(upstream_module, module_db, rabbitmq, workdir,
                           options):
    """Module fixture body: a schema by upstream's ``db sync``, then our daemon with ``options`` on it; fails on daemon errors."""
    from tests.functional import fixtures
    upstream_module('db_sync.py', '--connection', module_db)
    factory = fixtures.DaemonFactory(workdir, rabbitmq.url,
                                     amqp_url=rabbitmq.amqp_url)
    try:
        yield factory(module_db, db_sync=False, options=options)
    finally:
        errors = factory.cleanup()
    if errors:
        pytest.fail('\n\n'.join(errors), pytrace=False)
