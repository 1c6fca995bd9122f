"""Run upstream manila's own ``manila-manage db sync`` on a database and print its alembic head as JSON (runs inside the upstream venv)."""

import argparse
import json
import os
import subprocess
import sys
import tempfile

CONF_TEMPLATE = """[DEFAULT]
state_path = {state}
[database]
connection = {connection}
"""


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('--connection', required=True, help='database URL')
    args = p.parse_args()
    manage = os.path.join(os.path.dirname(sys.executable), 'manila-manage')
    with tempfile.TemporaryDirectory(prefix='upstream-sync-') as tmp:
        conf = os.path.join(tmp, 'manila.conf')
        with open(conf, 'w') as f:
            f.write(CONF_TEMPLATE.format(state=tmp,
                                         connection=args.connection))
        base = [manage, '--config-file', conf, 'db']
        sync = subprocess.run(base + ['sync'], capture_output=True,
                              text=True)
        if sync.returncode != 0:
            sys.stderr.write(sync.stdout + sync.stderr)
            return sync.returncode
        version = subprocess.run(base + ['version'], capture_output=True,
                                 text=True, check=True)
    head = version.stdout.strip().splitlines()[-1].strip()
    print(json.dumps({'version': head}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
