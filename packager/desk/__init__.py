"""packager desk: a staff desk in the browser over a watcher's OUTBOX (a thin face).

`packager desk OUTBOX [--inbox INBOX]` serves, on 127.0.0.1 by default, the cases of an OUTBOX
(read through packager.outbox), each case's checklist and pages, stamping, print kit and
downloads, and new cases into INBOX. Modules, one job each:

    config    DeskConfig and the checks before starting (exit 12)
    guard     token, Host, CSRF and headers: ASGI middleware around everything
    app       routes: thin handlers over the read model
    views     what the templates show, from the read model's records
    files     open a manifest-listed file without following links; stream it
    thumbs    page thumbnails, cached in the case's .packager/thumbs/
    bundle    the upload set as a deterministic zip, the mail print kit as one PDF
    newcase   a case from the browser into INBOX/<case>/ with READY
    server    bind, print the address, run uvicorn until Ctrl-C
"""

from packager.desk.config import DeskConfig

__all__ = ["DeskConfig"]
