"""[database] defaults: oslo.db options, SQLite under state_path unless a connection is set."""

from oslo_db import options as db_options

DEFAULT_CONNECTION = 'sqlite:///$state_path/manila_lite.sqlite'


def register_opts(conf):
    db_options.set_defaults(conf, connection=DEFAULT_CONNECTION)
