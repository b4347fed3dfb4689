"""A real, throw-away PostgreSQL server for tests.

    with postgres_server() as url:          # 'postgresql://postgres@127.0.0.1:PORT/arena'
        psycopg.connect(url) ...

The cluster is made by ``initdb`` in a fresh temporary directory, listens on 127.0.0.1 only (a free
port, plus a Unix socket inside that directory), trusts every local connection, and is stopped and
deleted on exit.  PostgreSQL refuses to run as root, so under root the server programs run as the
``postgres`` system user (``runuser``, else ``su``), which owns the temporary directory.

``postgres_available()`` says why not (a reason for ``pytest.skip``) or returns None.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_USER = "postgres"  # the superuser made by initdb, and the system user the server runs as under root
_START_TRIES = 3  # a free port can be taken between choosing it and binding it: try again with another


def _version_key(path: str) -> tuple[int, ...]:
    """Sort key for '/usr/lib/postgresql/<version>/bin' (highest version last)."""
    return tuple(int(n) for n in re.findall(r"\d+", Path(path).parent.name)) or (0,)


def pg_bindir() -> Path | None:
    """The directory holding initdb/pg_ctl/postgres: ``pg_config --bindir``, else the highest
    /usr/lib/postgresql/*/bin, else the one on PATH; None if none has them."""
    needed = ("initdb", "pg_ctl", "postgres")

    def ok(d: str | Path | None) -> bool:
        return bool(d) and all(os.access(Path(d) / n, os.X_OK) for n in needed)  # type: ignore[arg-type]

    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and ok(out.stdout.strip()):
                return Path(out.stdout.strip())
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        if ok(d):
            return Path(d)
    initdb = shutil.which("initdb")
    if initdb and ok(Path(initdb).parent):
        return Path(initdb).parent
    return None


def _is_root() -> bool:
    return os.geteuid() == 0


def _runas_prefix() -> list[str] | None:
    """How to run a server program as PG_USER under root ('{cmd}' stands for the quoted command with su)."""
    if shutil.which("runuser"):
        return ["runuser", "-u", PG_USER, "--"]
    if shutil.which("su"):
        return ["su", PG_USER, "-s", "/bin/sh", "-c", "{cmd}"]
    return None


def postgres_available() -> str | None:
    """None when a server can be started here, else why not (for ``pytest.skip``)."""
    if pg_bindir() is None:
        return (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: "
            "apt-get install postgresql (or put its bin dir on PATH)"
        )
    if _is_root():
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            return f"running as root and there is no {PG_USER!r} system user to run PostgreSQL as"
        if _runas_prefix() is None:
            return f"running as root and neither runuser nor su is available to become {PG_USER!r}"
    return None


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _clean_env() -> dict[str, str]:
    """This environment without PG* variables (which would redirect clients) and with a C-ish locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C.UTF-8")
    return env


def _run(cmd: list[str], *, as_pg: bool, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` (as PG_USER when ``as_pg`` and root), capturing its output; never raises on failure."""
    if as_pg and _is_root():
        prefix = _runas_prefix()
        assert prefix is not None
        if "{cmd}" in prefix:
            cmd = [shlex.join(cmd) if p == "{cmd}" else p for p in prefix]
        else:
            cmd = [*prefix, *cmd]
    try:
        return subprocess.run(cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        return subprocess.CompletedProcess(cmd, 124, out, f"timed out after {timeout}s")


def _tail(path: Path, n: int = 40) -> str:
    """The last ``n`` lines of a log file (or a note that there is none)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no server log)"


def _base_tempdir() -> str | None:
    """Where to make the temporary directory: the default, unless root and PG_USER cannot traverse it."""
    if not _is_root():
        return None
    d = Path(tempfile.gettempdir()).resolve()
    for p in (d, *d.parents):
        if not p.stat().st_mode & 0o001:  # others lack search permission
            return "/tmp"
    return None


def _fail(what: str, proc: subprocess.CompletedProcess[str], log: Path | None = None) -> RuntimeError:
    msg = (
        f"{what} failed (exit {proc.returncode}): {' '.join(map(str, proc.args))}\n{proc.stdout}{proc.stderr}"
    )
    if log is not None:
        msg += f"\n--- server log ({log}) ---\n{_tail(log)}"
    return RuntimeError(msg)


def _create_database(bindir: Path, port: int, dbname: str, cwd: Path, log: Path) -> None:
    """CREATE DATABASE ``dbname`` on the server: with ``createdb`` if it is there, else through psycopg."""
    createdb = bindir / "createdb"
    if os.access(createdb, os.X_OK):
        proc = _run(
            [str(createdb), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, dbname],
            as_pg=False, cwd=cwd, timeout=60,
        )  # fmt: skip
        if proc.returncode != 0:
            raise _fail("createdb", proc, log)
        return
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(f"postgresql://{PG_USER}@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))
    except psycopg.Error as e:
        raise RuntimeError(f"CREATE DATABASE {dbname} failed: {e}\n--- server log ---\n{_tail(log)}") from e


@contextlib.contextmanager
def postgres_server(dbname: str = "arena") -> Iterator[str]:
    """Start a temporary PostgreSQL cluster on 127.0.0.1:<free port>; yield
    ``'postgresql://postgres@127.0.0.1:PORT/dbname'``; stop and delete it afterwards.

    Raises RuntimeError (with the tail of the server log) if the cluster cannot be made or started.
    """
    reason = postgres_available()
    if reason is not None:
        raise RuntimeError(reason)
    bindir = pg_bindir()
    assert bindir is not None
    base = Path(tempfile.mkdtemp(prefix="referee-pg-", dir=_base_tempdir()))
    data, sock, log = base / "data", base / "sock", base / "postgres.log"
    started = False
    try:
        os.chmod(base, 0o755)
        data.mkdir(mode=0o700)
        sock.mkdir(mode=0o700)
        if _is_root():
            pw = pwd.getpwnam(PG_USER)
            for p in (base, data, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)

        proc = _run(
            [str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
             "--no-instructions", "--no-sync"],
            as_pg=True, cwd=base,
        )  # fmt: skip
        if proc.returncode != 0:
            raise _fail("initdb", proc)

        for attempt in range(_START_TRIES):
            port = _free_port()
            opts = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={shlex.quote(str(sock))} "
                "-c fsync=off -c full_page_writes=off -c synchronous_commit=off"
            )
            proc = _run(
                [str(bindir / "pg_ctl"), "start", "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts],
                as_pg=True, cwd=base, timeout=90,
            )  # fmt: skip
            started = True  # a failed start may still leave a postmaster behind: always try to stop it
            if proc.returncode == 0:
                break
            port_taken = "could not bind" in _tail(log, 200) or "Address already in use" in _tail(log, 200)
            if not port_taken or attempt == _START_TRIES - 1:
                raise _fail("pg_ctl start", proc, log)
            _run([str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"], as_pg=True, cwd=base)

        if dbname != "postgres":
            _create_database(bindir, port, dbname, base, log)
        yield f"postgresql://{PG_USER}@127.0.0.1:{port}/{dbname}"
    finally:
        if started:
            stop = _run(
                [str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w", "-t", "30"],
                as_pg=True, cwd=base, timeout=60,
            )  # fmt: skip
            if stop.returncode != 0 and (data / "postmaster.pid").exists():
                _run(
                    [str(bindir / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate"], as_pg=True, cwd=base
                )
        shutil.rmtree(base, ignore_errors=True)
