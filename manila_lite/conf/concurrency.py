"""[oslo_concurrency] default: external lock files under state_path, so locks work without extra config."""

from oslo_concurrency import lockutils

DEFAULT_LOCK_PATH = '$state_path/locks'


def register_opts(conf):
    lockutils.set_defaults(lock_path=DEFAULT_LOCK_PATH)
