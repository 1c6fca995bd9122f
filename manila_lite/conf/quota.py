"""[quota] options the share service reads when it changes quota usage."""

from oslo_config import cfg

quota_opts = [
    cfg.IntOpt('reservation_expire', default=86400,
               help='Seconds until a quota reservation expires.'),
    cfg.IntOpt('until_refresh', default=0,
               help='Count of reservations until usage is refreshed.'),
    cfg.IntOpt('max_age', default=0,
               help='Seconds between usage refreshes.'),
    cfg.StrOpt('driver', default='manila.quota.DbQuotaDriver',
               help='Accepted for compatibility; usage is kept in the '
                    'database.'),
]


def register_opts(conf):
    conf.register_opts(quota_opts, group='quota')


def list_opts():
    return [('quota', quota_opts)]
