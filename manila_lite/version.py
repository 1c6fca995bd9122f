"""Version of manila_lite, as oslo.reports and --version show it."""

VERSION = '0.1.0'


def version_string():
    return VERSION


def version_string_with_package():
    return VERSION
