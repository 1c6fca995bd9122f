"""Backend-section options of the localfs reference driver (local directories exported over NFS and CIFS).

Nothing is registered on import: the driver grafts ``localfs_opts`` into its
backend section (``config_opts=[localfs_opts]``), the start-up check reads
them there, and :func:`list_opts` shows them in the sample under
``[DEFAULT]`` with the other backend options. Example::

    [local1]
    share_driver = localfs
    driver_handles_share_servers = False
    localfs_pools = /srv/manila/pool1,/srv/manila/pool2
    localfs_export_ips = 192.0.2.10,2001:db8::10
    localfs_admin_export_ips = 10.0.0.10
"""

from oslo_config import cfg
from oslo_config import types

PROTOCOLS = ('NFS', 'CIFS')

localfs_opts = [
    cfg.ListOpt('localfs_pools', default=['$state_path/localfs/pool'],
                help='(localfs) Directories holding the shares of this '
                     'backend, one pool each. The pool name is the '
                     "directory's base name, so base names must differ. "
                     'Missing directories are created at start-up; pools '
                     'must not contain each other.'),
    cfg.ListOpt('localfs_export_ips', default=['127.0.0.1'],
                help='(localfs) IPv4 and/or IPv6 addresses clients mount '
                     'shares from. The first one is the preferred export '
                     'location; IPv6 locations are written with brackets '
                     '([2001:db8::1]:/path), as NFS clients expect. The '
                     'versions listed here are reported as ipv4_support / '
                     'ipv6_support.'),
    cfg.ListOpt('localfs_admin_export_ips', default=[],
                help='(localfs) Addresses of an admin network; export '
                     'locations on them are marked admin-only.'),
    cfg.ListOpt('localfs_enabled_share_protocols', default=list(PROTOCOLS),
                item_type=types.String(choices=PROTOCOLS,
                                       ignore_case=True),
                help='(localfs) Share protocols this backend serves. NFS '
                     'access goes to the exports file, CIFS access to the '
                     'Samba include file. Reported as storage_protocol '
                     '(NFS_CIFS when both are enabled).'),
    cfg.StrOpt('localfs_share_mode', default='0777',
               help='(localfs) Octal permission bits of a new share '
                    "directory (chmod is applied after creation, so the "
                    "service's umask does not matter)."),
    cfg.StrOpt('localfs_share_owner', default='',
               help='(localfs) Owner of new share directories as user, '
                    'user:group or uid:gid (names or numbers). Empty keeps '
                    'the user running the service.'),
    cfg.StrOpt('localfs_nfs_export_options',
               default='sync,no_subtree_check,no_root_squash',
               help='(localfs) NFS export options written after the access '
                    'level (rw or ro) of every client in the exports '
                    'file.'),
    cfg.StrOpt('localfs_exports_file', default='',
               help='(localfs) Exports file the driver owns and rewrites '
                    '(atomically) on every access change. Empty means '
                    '$state_path/localfs/<backend>.exports. Point it into '
                    '/etc/exports.d/ (the name must end in .exports) and '
                    'set localfs_apply_nfs_exports to have the kernel NFS '
                    'server serve it.'),
    cfg.BoolOpt('localfs_apply_nfs_exports', default=False,
                help='(localfs) Run "exportfs -ra" after writing the '
                     'exports file. Only done when exportfs '
                     '(nfs-kernel-server) is installed; otherwise the file '
                     'is written and nothing else happens.'),
    cfg.StrOpt('localfs_samba_include_file', default='',
               help='(localfs) Samba include file the driver owns, holding '
                    'one section per CIFS share that has access rules. '
                    'Empty means $state_path/localfs/<backend>-smb.conf. '
                    'Add "include = <file>" to smb.conf to serve it.'),
    cfg.BoolOpt('localfs_apply_samba_config', default=True,
                help='(localfs) Run "smbcontrol smbd reload-config" after '
                     'writing the Samba include file, when smbcontrol is '
                     'installed.'),
    cfg.StrOpt('localfs_root_helper', default='',
               help='(localfs) Command prefix for the privileged commands '
                    'of the driver (exportfs, smbcontrol, xfs_quota), e.g. '
                    '"sudo" when the service does not run as root. Empty '
                    'runs them directly.'),
    cfg.StrOpt('localfs_reflink', default='auto',
               choices=[('auto', 'clone file extents where the filesystem '
                                 'supports it, else copy'),
                        ('always', 'fail snapshots and clones that cannot '
                                   'be reflinked'),
                        ('never', 'always copy data')],
               help='(localfs) Copy-on-write copies (reflink, as '
                    '"cp --reflink") for snapshots, clones and reverts.'),
    cfg.StrOpt('localfs_replication_type', default='readable',
               choices=[('readable', 'replicas are exported read-only with '
                                     "the share's rules"),
                        ('dr', 'replicas are not exported until promoted')],
               help='(localfs) Replication type reported when '
                    'replication_domain is set: replicas are directories on '
                    'localfs backends of the same replication_domain on this '
                    'machine, kept in sync from the active one.'),
    cfg.IntOpt('localfs_async_copy_threshold_mb', default=1024, min=0,
               help='(localfs) A share created from a snapshot holding more '
                    'than this many MiB is copied in the background: the '
                    'share reports creating_from_snapshot with progress '
                    'until the copy is done. 0 makes every copy '
                    'asynchronous.'),
    cfg.StrOpt('localfs_quota', default='auto',
               choices=[('auto', 'XFS project quotas where the pool is XFS '
                                 'mounted with prjquota, soft limits '
                                 'elsewhere'),
                        ('xfs', 'require XFS project quotas on every pool'),
                        ('none', 'never set hard limits')],
               help='(localfs) How share sizes are enforced. Without hard '
                    'limits, sizes are checked on shrink only and the pool '
                    'reports localfs_hard_limits = False.'),
]


def list_opts():
    """Return the localfs options for oslo-config-generator."""
    return [('DEFAULT', localfs_opts)]
