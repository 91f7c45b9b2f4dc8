"""Finding the t2m filters and running them as a pipeline.

The filters are looked for in this order: the directory $T2M_BIN, the
directories on $PATH, then bin/ inside this package (where a wheel built
with the programs copied into torch2mlx/bin/ puts them).
"""
import errno
import os
import shutil
import subprocess
import warnings

PKG_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bin")


class Error(RuntimeError):
    """Base class of torch2mlx's errors."""


class FilterNotFoundError(Error):
    """A t2m filter is not installed where torch2mlx looks for it.
    .program is its name."""

    def __init__(self, program):
        self.program = program
        where = []
        if os.environ.get("T2M_BIN"):
            where.append(f"$T2M_BIN ({os.environ['T2M_BIN']})")
        where += ["$PATH", PKG_BIN]
        super().__init__(
            f"{program} not found (looked in {', '.join(where)}): build t2m "
            "with 'make' and put its build/bin on PATH, install it with "
            "'make install', or set T2M_BIN to the directory holding the "
            "t2m-* programs")


class ConversionError(Error):
    """A t2m filter failed.  str() is the failing program's message, as
    it printed it on its standard error; .program is its name, .status
    its exit status (negative: killed by that signal), .stderr what every
    program of the pipeline printed."""

    def __init__(self, program, status, message, stderr):
        self.program, self.status, self.stderr = program, status, stderr
        super().__init__(message)


class ConversionWarning(UserWarning):
    """A warning a t2m filter printed (a guess its heuristics made)."""


def find(program):
    """The path of a t2m filter, or FilterNotFoundError."""
    d = os.environ.get("T2M_BIN")
    if d:
        p = os.path.join(d, program)
        if os.path.isfile(p) and os.access(p, os.X_OK):
            return p
    p = shutil.which(program)
    if p:
        return p
    p = os.path.join(PKG_BIN, program)
    if os.path.isfile(p) and os.access(p, os.X_OK):
        return p
    raise FilterNotFoundError(program)


def _big_pipe(fd):
    """Ask Linux for a 1 MiB pipe buffer: fewer wake-ups per record."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass


class Pipeline:
    """argvs run as a pipe: the first reads what feed(write) writes (or
    nothing, feed None), the last writes to the file stdout (or nowhere).
    Each program's standard error goes to a file in tmpdir.  cwd is the
    directory they run in, or a list of one per program."""

    def __init__(self, argvs, tmpdir, cwd=None, stdout=None):
        self.argvs = [[find(a[0])] + list(a[1:]) for a in argvs]
        self.names = [a[0] for a in argvs]
        self.tmpdir, self.cwd, self.stdout = tmpdir, cwd, stdout

    def run(self, feed=None):
        procs, errs, prev = [], [], None
        try:
            for k, argv in enumerate(self.argvs):
                err = open(os.path.join(self.tmpdir, f"stderr.{k}"), "w+b")
                errs.append(err)
                last = k == len(self.argvs) - 1
                cwd = self.cwd[k] if isinstance(self.cwd, list) \
                    else self.cwd
                p = subprocess.Popen(
                    argv, cwd=cwd, stderr=err,
                    stdin=(subprocess.PIPE if k == 0 and feed
                           else prev if k else subprocess.DEVNULL),
                    stdout=(self.stdout or subprocess.DEVNULL) if last
                    else subprocess.PIPE)
                if prev is not None:
                    prev.close()
                prev = p.stdout
                procs.append(p)
                if p.stdout is not None:
                    _big_pipe(p.stdout.fileno())
            feed_error = None
            if feed:
                fd = procs[0].stdin.fileno()
                _big_pipe(fd)
                try:
                    feed(lambda b: _write_all(fd, b))
                except BrokenPipeError:
                    pass        # a filter stopped reading: it says why
                except BaseException as e:
                    feed_error = e
                finally:
                    procs[0].stdin.close()
            for p in procs:
                p.wait()
            if feed_error is not None:
                # stdin is closed without an end record: the filters
                # fail on the truncated stream and t2m-pack removes its
                # temporary file; the cause is Python's.
                raise feed_error
        except BaseException:
            for p in procs:
                if p.poll() is None:
                    p.terminate()   # t2m-pack removes its temporary file
            for p in procs:
                p.wait()
            for e in errs:
                e.close()
            raise
        texts = []
        for e in errs:
            e.seek(0)
            texts.append(e.read().decode("utf-8", "replace"))
            e.close()
        return self._check(procs, texts)

    def _check(self, procs, texts):
        """Raise for the first program, in pipeline order, that failed
        by itself (exit status > 0): the ones after it fail only because
        their input stopped short, the ones before it die of SIGPIPE."""
        allerr = "".join(texts)
        failed = [k for k, p in enumerate(procs) if p.returncode > 0] or \
            [k for k, p in enumerate(procs) if p.returncode != 0]
        if failed:
            k = failed[0]
            lines = texts[k].strip().splitlines()
            # Its warnings come first; the fault is its last line.
            msg = lines[-1] if lines else (
                f"{self.names[k]} exited with status {procs[k].returncode}"
                if procs[k].returncode > 0 else
                f"{self.names[k]} was killed by signal {-procs[k].returncode}")
            raise ConversionError(self.names[k], procs[k].returncode, msg,
                                  allerr)
        seen, said = set(), []
        for line in allerr.splitlines():
            # The same guess reported by t2m-analyze and t2m-transpose.
            key = line.split(": ", 1)[-1]
            if line.strip() and key not in seen:
                seen.add(key)
                said.append(line)
                warnings.warn(line, ConversionWarning, stacklevel=4)
        return said


def _write_all(fd, b):
    mv = memoryview(b)
    while mv:
        try:
            n = os.write(fd, mv)
        except InterruptedError:
            continue
        except OSError as e:
            if e.errno == errno.EPIPE:
                raise BrokenPipeError(*e.args) from None
            raise
        mv = mv[n:]
