"""The localfs reference driver: shares are directories of local pools, exported over NFS and CIFS (see driver.py)."""

from manila_lite.share.drivers.localfs.driver import LocalFSDriver  # noqa
