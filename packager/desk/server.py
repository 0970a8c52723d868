"""Run the desk: check the configuration, bind, print the address, serve until Ctrl-C.

The socket is bound here, before uvicorn starts, so a port in use is one line (exit 12)
instead of a server log. uvicorn's access log is off: the guard logs each request without
its query string (which may hold the token).
"""

from __future__ import annotations

import signal
import socket
import sys
from typing import TextIO

from packager.desk.config import DeskConfig, check_config, is_loopback
from packager.errors import DeskError, ExitCode


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        raise DeskError(f"cannot listen on {host}:{port} ({e.strerror}): is another desk running? pick --port") from e
    sock.listen(128)
    return sock


def address(cfg: DeskConfig, port: int) -> str:
    host = cfg.host if not (":" in cfg.host and not cfg.host.startswith("[")) else f"[{cfg.host}]"
    if host in ("0.0.0.0", "[::]"):
        host = socket.gethostname()
    return f"http://{host}:{port}/"


def serve(cfg: DeskConfig, *, out: TextIO | None = None) -> int:
    check_config(cfg)
    import uvicorn

    from packager.desk.app import create_app
    from packager.desk.newcase import remove_stale_temporaries

    out = out or sys.stdout
    if cfg.inbox is not None:
        remove_stale_temporaries(cfg.inbox)
    app = create_app(cfg)
    sock = _bind(cfg.host, cfg.port)
    url = address(cfg, sock.getsockname()[1])
    # The token is shown only on a terminal: under a service manager stdout is a log file.
    shown = f"{url}?token={cfg.token}" if cfg.token and out.isatty() else url
    print(f"packager desk: {shown}  (OUTBOX {cfg.outbox}"
          f"{f', INBOX {cfg.inbox}' if cfg.inbox else ''}; Ctrl-C stops)", file=out, flush=True)
    if cfg.token and not out.isatty():
        print("packager desk: open it with ?token=<the token> once; a cookie keeps it", file=out, flush=True)
    if not is_loopback(cfg.host):
        print("packager desk: plain HTTP beyond this machine: put it behind TLS (docs/desk.md)", file=out, flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           server_header=False, timeout_graceful_shutdown=5))
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the handlers
    # it found: these, which only note it, so Ctrl-C ends in "stopped" and exit 0 as the watcher does.
    stops: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: stops.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("packager desk: stopped", file=out, flush=True)
    return int(ExitCode.OK)
