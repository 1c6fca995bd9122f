"""Filesystem work of the localfs driver: usage walks, reflink-or-copy of trees, atomic swaps, removal and OS-error translation.

Copies clone file extents with the FICLONE ioctl (what ``cp
--reflink=always`` does, without a process per file) where the filesystem
supports it (XFS with reflink, Btrfs, ...), fall back to
``os.copy_file_range`` (in-kernel copy, server-side on some filesystems) and
finally to a plain read/write copy. Symlinks are copied as symlinks, never
followed; hard links inside a tree stay hard links.
"""

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import stat
import threading
import uuid

from oslo_log import log

from manila_lite import exception

LOG = log.getLogger(__name__)

GiB = 1024 ** 3
MiB = 1024 ** 2

FICLONE = 0x40049409
_RENAME_EXCHANGE = 2
_NO_CLONE = (errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL,
             errno.ENOSYS, errno.EBADF, errno.EPERM)
_NO_COPY_RANGE = (errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP,
                  errno.EINVAL, errno.EBADF, errno.EPERM)
_CHUNK = 64 * MiB


class CopyCancelled(Exception):
    """A background copy was asked to stop."""


class ReflinkUnavailable(exception.ShareBackendException):
    """localfs_reflink = always, but the filesystem cannot clone extents."""


def backend_error(operation, exc, path=None):
    """Turn an OSError into a ShareBackendException with a sentence an operator can act on."""
    where = ' (%s)' % path if path else ''
    code = getattr(exc, 'errno', None)
    if code in (errno.EACCES, errno.EPERM):
        hint = ('permission denied%s: check the owner, mode and attributes '
                '(chattr) of the pool directories, or set '
                'localfs_root_helper' % where)
    elif code in (errno.ENOSPC, errno.EDQUOT):
        hint = 'no space left on the pool%s (disk or quota full)' % where
    elif code == errno.EROFS:
        hint = 'the pool filesystem is read-only%s' % where
    elif code == errno.ENOTDIR:
        hint = 'a path component is not a directory%s' % where
    else:
        hint = '%s%s' % (getattr(exc, 'strerror', None) or exc, where)
    return exception.ShareBackendException(
        msg='localfs could not %s: %s' % (operation, hint))


@contextlib.contextmanager
def translated(operation, path=None):
    """Re-raise OSError inside the block as a clear ShareBackendException."""
    try:
        yield
    except OSError as exc:
        LOG.debug('localfs %s failed.', operation, exc_info=True)
        raise backend_error(operation, exc,
                            getattr(exc, 'filename', None) or path) from exc


def tree_usage(path):
    """Return ``(used_bytes, apparent_bytes)`` of a tree, like ``du`` but in-process.

    Walks with ``os.scandir`` (no symlink is followed), counts allocated
    blocks (``st_blocks * 512``) and file sizes, and counts a hard-linked
    inode once.
    """
    used = apparent = 0
    seen = set()
    stack = [path]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except FileNotFoundError:
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
            used += st.st_blocks * 512
            if stat.S_ISREG(st.st_mode):
                apparent += st.st_size
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
    return used, apparent


def gib_ceil(nbytes, minimum=1):
    """Whole GiB needed for ``nbytes`` (at least ``minimum``)."""
    return max(minimum, -(-int(nbytes) // GiB))


def make_directory(path, mode, owner=None):
    """Create ``path`` (parent must exist) with exactly ``mode`` and ``owner`` (uid, gid) or None."""
    os.mkdir(path, 0o700)
    apply_attributes(path, mode, owner)


def apply_attributes(path, mode, owner=None):
    if owner is not None:
        os.chown(path, owner[0], owner[1], follow_symlinks=False)
    os.chmod(path, mode)


def ensure_dir(path, mode=0o755):
    os.makedirs(path, mode=mode, exist_ok=True)


class _Copier(object):
    """One tree copy; remembers whether cloning works so it stops retrying."""

    def __init__(self, reflink, progress=None, cancel=None):
        self.reflink = reflink
        self.clone_ok = reflink != 'never'
        self.copy_range_ok = reflink != 'always'
        self.progress = progress
        self.cancel = cancel
        self.cloned = 0
        self.copied = 0
        self.links = {}
        self.copied_files = 0
        self.can_chown = os.geteuid() == 0

    def _check_cancel(self):
        if self.cancel is not None and self.cancel.is_set():
            raise CopyCancelled()

    def _advance(self, nbytes):
        if self.progress is not None and nbytes:
            self.progress(nbytes)

    def copy_file(self, src, dst, st):
        with open(src, 'rb') as fsrc:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'wb') as fdst:
                if st.st_size and not self._clone(fsrc, fdst, st.st_size):
                    self._copy_data(fsrc, fdst, st.st_size)
        self._finish(dst, st)

    def _clone(self, fsrc, fdst, size):
        if not self.clone_ok:
            return False
        try:
            fcntl.ioctl(fdst.fileno(), FICLONE, fsrc.fileno())
        except OSError as exc:
            if exc.errno not in _NO_CLONE:
                raise
            if self.reflink == 'always':
                raise ReflinkUnavailable(
                    msg='localfs_reflink is "always" but the pool '
                        'filesystem cannot clone file extents (%s)'
                        % os.strerror(exc.errno))
            self.clone_ok = False
            LOG.debug('Reflink not available here (%s); copying data.',
                      os.strerror(exc.errno))
            return False
        self.cloned += size
        self._advance(size)
        return True

    def _copy_data(self, fsrc, fdst, size):
        offset = 0
        if self.copy_range_ok:
            try:
                while offset < size:
                    self._check_cancel()
                    n = os.copy_file_range(fsrc.fileno(), fdst.fileno(),
                                           min(_CHUNK, size - offset))
                    if n == 0:
                        break
                    offset += n
                    self._advance(n)
            except OSError as exc:
                if exc.errno not in _NO_COPY_RANGE or offset:
                    raise
                self.copy_range_ok = False
        fsrc.seek(offset)
        fdst.seek(offset)
        while True:
            self._check_cancel()
            block = fsrc.read(8 * MiB)
            if not block:
                break
            fdst.write(block)
            offset += len(block)
            self._advance(len(block))
        self.copied += offset

    def _finish(self, dst, st):
        if self.can_chown:
            os.lchown(dst, st.st_uid, st.st_gid)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(dst, stat.S_IMODE(st.st_mode))
        os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns),
                 follow_symlinks=False)

    def copy_entry(self, src, dst, st):
        self._check_cancel()
        self.copied_files += 1
        if st.st_nlink > 1 and not stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if key in self.links:
                os.link(self.links[key], dst, follow_symlinks=False)
                return
            self.links[key] = dst
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), dst)
            self._finish(dst, st)
        elif stat.S_ISREG(st.st_mode):
            self.copy_file(src, dst, st)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(dst, stat.S_IMODE(st.st_mode))
            self._finish(dst, st)
        else:
            LOG.warning('Not copying special file %s.', src)

    def copy_tree(self, src, dst):
        """Copy directory ``src`` to the new directory ``dst``."""
        top = os.stat(src, follow_symlinks=False)
        os.mkdir(dst, 0o700)
        pending = [(src, dst, top)]
        dirs = []
        while pending:
            s_dir, d_dir, s_st = pending.pop()
            dirs.append((d_dir, s_st))
            for entry in sorted(os.scandir(s_dir), key=lambda e: e.name):
                st = entry.stat(follow_symlinks=False)
                target = os.path.join(d_dir, entry.name)
                if stat.S_ISDIR(st.st_mode):
                    os.mkdir(target, 0o700)
                    pending.append((entry.path, target, st))
                else:
                    self.copy_entry(entry.path, target, st)
        for d_dir, s_st in reversed(dirs):
            self._finish(d_dir, s_st)


class _Syncer(_Copier):
    """Brings an existing tree up to date with another; copies only what changed."""

    def __init__(self, reflink):
        super().__init__(reflink)
        self.kept = 0
        self.removed = 0

    @staticmethod
    def _same(a, b):
        return (stat.S_IFMT(a.st_mode) == stat.S_IFMT(b.st_mode)
                and a.st_size == b.st_size
                and a.st_mtime_ns == b.st_mtime_ns)

    def _remove(self, path, st):
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(path)
        else:
            os.unlink(path)
        self.removed += 1

    def _sync_entry(self, entry, target, old_st, pending):
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            if old_st is not None and not stat.S_ISDIR(old_st.st_mode):
                self._remove(target, old_st)
                old_st = None
            if old_st is None:
                os.mkdir(target, 0o700)
            pending.append((entry.path, target, st))
            return
        if old_st is not None and self._same(st, old_st):
            self.kept += 1
            return
        if old_st is not None:
            self._remove(target, old_st)
        self.copy_entry(entry.path, target, st)

    def sync_tree(self, src, dst):
        pending = [(src, dst, os.stat(src, follow_symlinks=False))]
        dirs = []
        while pending:
            s_dir, d_dir, s_st = pending.pop()
            dirs.append((d_dir, s_st))
            have = {e.name: e.stat(follow_symlinks=False)
                    for e in os.scandir(d_dir)}
            for entry in sorted(os.scandir(s_dir), key=lambda e: e.name):
                self._sync_entry(entry, os.path.join(d_dir, entry.name),
                                 have.pop(entry.name, None), pending)
            for name, old_st in have.items():
                self._remove(os.path.join(d_dir, name), old_st)
        for d_dir, s_st in reversed(dirs):
            self._finish(d_dir, s_st)


def sync_tree(src, dst, reflink='auto'):
    """Make the existing directory ``dst`` equal to ``src``; return ``(files copied, files kept, entries removed)``.

    A file is copied again (reflinked where possible) when its type, size
    or mtime differs, kept otherwise; entries ``src`` no longer has are
    removed. Not atomic: an error leaves ``dst`` partly updated.
    """
    syncer = _Syncer(reflink)
    syncer.sync_tree(src, dst)
    return syncer.copied_files, syncer.kept, syncer.removed


def copy_tree(src, dst, reflink='auto', progress=None, cancel=None):
    """Copy the tree ``src`` into the new directory ``dst``; return ``(cloned, copied)`` bytes.

    ``progress(nbytes)`` is called as data lands; ``cancel`` (an Event)
    stops the copy with CopyCancelled. The partial ``dst`` is left for the
    caller to remove.
    """
    copier = _Copier(reflink, progress=progress, cancel=cancel)
    copier.copy_tree(src, dst)
    return copier.cloned, copier.copied


def probe_reflink(directory):
    """True when files in ``directory`` can be cloned (FICLONE works there)."""
    name = os.path.join(directory, '.reflink-probe-%s' % uuid.uuid4().hex)
    try:
        with open(name, 'w+b') as a, open(name + '.clone', 'wb') as b:
            a.write(b'x' * 4096)
            a.flush()
            fcntl.ioctl(b.fileno(), FICLONE, a.fileno())
        return True
    except OSError:
        return False
    finally:
        for path in (name, name + '.clone'):
            with contextlib.suppress(OSError):
                os.unlink(path)


_libc_lock = threading.Lock()
_renameat2 = None


def _get_renameat2():
    global _renameat2
    with _libc_lock:
        if _renameat2 is None:
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                func = libc.renameat2
                func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                 ctypes.c_char_p, ctypes.c_uint]
                _renameat2 = func
            except (AttributeError, OSError):
                _renameat2 = False
        return _renameat2


def exchange(a, b):
    """Swap the directories ``a`` and ``b`` atomically (renameat2 RENAME_EXCHANGE).

    Where the kernel or libc cannot exchange, falls back to two renames
    through a temporary name, undoing the first if the second fails.
    """
    func = _get_renameat2()
    if func:
        at_fdcwd = -100
        if func(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(code, os.strerror(code), a)
    aside = '%s.swap-%s' % (b, uuid.uuid4().hex[:8])
    os.rename(b, aside)
    try:
        os.rename(a, b)
    except OSError:
        os.rename(aside, b)
        raise
    os.rename(aside, a)


def remove_tree(path, trash_dir):
    """Delete the directory ``path``: move it into ``trash_dir`` first, then remove it.

    The rename makes the directory disappear from its place at once; the
    removal never follows symlinks. Returns False if ``path`` did not exist.
    """
    if not os.path.lexists(path):
        return False
    if os.path.islink(path) or not os.path.isdir(path):
        os.unlink(path)
        return True
    ensure_dir(trash_dir, 0o700)
    doomed = os.path.join(trash_dir, '%s-%s' % (os.path.basename(path),
                                                uuid.uuid4().hex[:8]))
    os.rename(path, doomed)
    shutil.rmtree(doomed)
    return True


def empty_trash(trash_dir):
    """Remove what an interrupted deletion left in ``trash_dir``."""
    if not os.path.isdir(trash_dir):
        return
    for entry in os.scandir(trash_dir):
        with contextlib.suppress(OSError):
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)


def atomic_write(path, text, mode=0o644):
    """Replace ``path`` with ``text``: temp file in the same directory, fsync, os.replace."""
    directory = os.path.dirname(path) or '.'
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, '.%s.%s.tmp' % (os.path.basename(path),
                                                  uuid.uuid4().hex[:8]))
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, 'w', encoding='utf-8') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def statvfs_gib(path):
    """Return ``(total_gib, free_gib)`` of the filesystem holding ``path``."""
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize / GiB
    free = st.f_bavail * st.f_frsize / GiB
    return round(total, 2), round(free, 2)
