"""Resident memory of the idle share daemon (whole process tree), read from /proc.

Usage: python benchmarks/memory.py [--settle SECONDS]
"""

import argparse
import time

import common


def run(settle):
    with common.Environment() as env:
        env.start_daemon()
        env.wait_consuming()
        time.sleep(settle)
        pid = env.daemon.pid
        print('idle daemon, 1 backend: %.1f MiB RSS (%d processes)' % (
            common.rss_mib(pid), len(common.tree_pids(pid))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--settle', type=float, default=5.0)
    args = parser.parse_args()
    run(args.settle)


if __name__ == '__main__':
    main()
