"""Reading options to check them: an unreadable value becomes one ConfigError line naming section and option."""

import re

from oslo_config import cfg

from manila_lite import exception

_LOCATED = re.compile(
    r"^Value for option (?P<name>\S+)(?: from LocationInfo\(.*?detail="
    r"'(?P<file>[^']*)'\))? is not valid: (?P<why>.*)$", re.S)
LOCATION = re.compile(r" from LocationInfo\([^)]*\)\)?")


def one_line(text):
    return ' '.join(str(text).split())


def option_error(section, name, exc):
    """The ConfigError for option ``[section] name`` whose value ``exc`` rejected."""
    text = str(exc)
    match = _LOCATED.match(text)
    if match:
        why = match.group('why')
        if match.group('file'):
            why = '%s (in %s)' % (why, match.group('file'))
    else:
        why = LOCATION.sub('', text)
    return exception.ConfigError(section=section, option=name,
                                 reason=one_line(why))


def read_options(conf, section, names):
    """Read ``names`` of ``section`` ('DEFAULT' or a group); raise ConfigError for the first invalid one."""
    group = conf if section == 'DEFAULT' else conf[section]
    for name in names:
        try:
            getattr(group, name)
        except (cfg.Error, ValueError) as exc:
            raise option_error(section, name, exc) from None
