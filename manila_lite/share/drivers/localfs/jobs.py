"""Background copies of the localfs driver (large shares created from snapshots), with progress and cancellation."""

import threading

from oslo_log import log

from manila_lite.share.drivers.localfs import fsops

LOG = log.getLogger(__name__)


class CopyJob(object):
    """One copy running in its own thread; ``work(progress, cancel)`` does it."""

    def __init__(self, key, total_bytes, work):
        self.key = key
        self.total = max(int(total_bytes), 0)
        self.done_bytes = 0
        self.error = None
        self.finished = threading.Event()
        self.cancel = threading.Event()
        self._work = work
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name='localfs-copy-%s' % key[:8])

    def _progress(self, nbytes):
        with self._lock:
            self.done_bytes += nbytes

    def _run(self):
        try:
            self._work(self._progress, self.cancel)
        except fsops.CopyCancelled:
            LOG.info('localfs copy %s cancelled.', self.key)
            self.error = 'cancelled'
        except Exception as exc:
            LOG.exception('localfs background copy %s failed.', self.key)
            self.error = str(exc) or type(exc).__name__
        finally:
            self.finished.set()

    @property
    def percent(self):
        """Progress as an int 0..100 (99 until the copy is really done)."""
        if self.finished.is_set() and self.error is None:
            return 100
        with self._lock:
            done = self.done_bytes
        if not self.total:
            return 0
        return min(99, int(done * 100 / self.total))


class CopyJobs(object):
    """The running and finished copies of one driver, by share instance id."""

    def __init__(self):
        self._jobs = {}
        self._lock = threading.Lock()

    def start(self, key, total_bytes, work):
        job = CopyJob(key, total_bytes, work)
        with self._lock:
            old = self._jobs.get(key)
            if old is not None and not old.finished.is_set():
                return old
            self._jobs[key] = job
        job.thread.start()
        return job

    def get(self, key):
        with self._lock:
            return self._jobs.get(key)

    def pop(self, key):
        with self._lock:
            return self._jobs.pop(key, None)

    def cancel(self, key, timeout=60):
        """Stop the copy of ``key`` (if any) and wait for its thread."""
        job = self.pop(key)
        if job is not None:
            job.cancel.set()
            job.finished.wait(timeout)
        return job
