"""The desk's routes: thin handlers over the OUTBOX read model (packager.outbox).

A case in a URL is a key that `outbox.find_case` looks up among the OUTBOX's entries; it is
never joined onto a path. Only files the case's manifest lists are served, opened without
following links (desk.files). Every POST checks the CSRF token before it changes anything.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from packager import outbox
from packager.desk import bundle, newcase, thumbs, views
from packager.desk.config import DeskConfig
from packager.desk.files import media_type_for, open_below, stream_fd
from packager.desk.guard import CSRF_FIELD, Guard, csrf_field, csrf_ok
from packager.errors import PackagerError
from packager.outputs import MANIFEST

HERE = Path(__file__).parent
ORIGINALS = "originals"  # where the watcher keeps a case's inputs beside its result (docs/watch.md)
_stamp_lock = threading.Lock()


def _cfg(request: Request) -> DeskConfig:
    return request.app.state.cfg  # type: ignore[no-any-return]


def _render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    cfg = _cfg(request)
    context = {
        **context,
        "csrf": csrf_field(request, cfg.secret),
        "csrf_field": CSRF_FIELD,
        "inbox": cfg.inbox is not None,
    }
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, name, context, status_code=status_code)


class _Memo:
    """The read model, remembered briefly: one case page asks for 100+ thumbnails at once, and
    each must not list the OUTBOX and parse the manifest again. Lookups stay among the entries
    the read model listed; a manifest is re-read as soon as its size or mtime changes."""

    LIST_SECONDS = 1.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listed: tuple[float, dict[str, outbox.CaseEntry]] = (-1e9, {})
        self._results: dict[Path, tuple[tuple[int, int, int], outbox.BuildRecord]] = {}

    def find(self, root: Path, key: str) -> outbox.CaseEntry | None:
        return self._entries(root, fresh_unless=key).get(key)

    def listed(self, root: Path) -> list[outbox.CaseEntry]:
        """The list as of at most a second ago: every open tab polls it."""
        return list(self._entries(root).values())

    def _entries(self, root: Path, fresh_unless: str | None = None) -> dict[str, outbox.CaseEntry]:
        with self._lock:
            at, entries = self._listed
            if time.monotonic() - at > self.LIST_SECONDS or (fresh_unless is not None and fresh_unless not in entries):
                entries = {e.key: e for e in outbox.list_cases(root)}
                self._listed = (time.monotonic(), entries)
            return entries

    def forget(self) -> None:
        with self._lock:
            self._listed = (-1e9, {})

    def result(self, entry: outbox.CaseEntry) -> outbox.BuildRecord:
        try:
            st = os.stat(entry.path / MANIFEST, follow_symlinks=False)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = (0, 0, 0)
        with self._lock:
            known = self._results.get(entry.path)
        if known is not None and known[0] == stamp:
            return known[1]
        record = outbox.read_result(entry.path)
        with self._lock:
            if len(self._results) > 16:
                self._results.clear()
            self._results[entry.path] = (stamp, record)
        return record


def _case(request: Request) -> outbox.CaseEntry:
    entry = request.app.state.memo.find(_cfg(request).outbox, request.path_params["key"])
    if entry is None:
        raise HTTPException(404, "no such case in this OUTBOX")
    return entry


def _built(request: Request, entry: outbox.CaseEntry) -> outbox.BuildRecord:
    if entry.state in (outbox.CaseState.FAILED, outbox.CaseState.IN_PROGRESS):
        raise HTTPException(404, "this case has no build")
    try:
        return request.app.state.memo.result(entry)  # type: ignore[no-any-return]
    except PackagerError as e:
        raise HTTPException(404, f"the case's manifest cannot be read: {e}") from e


# ---------------------------------------------------------------------------- pages


def case_list(request: Request) -> Response:
    cases = outbox.list_cases(_cfg(request).outbox)
    return _render(request, "cases.html", {"cases": [views.case_row(c) for c in cases], "digest": _digest(cases)})


def _digest(cases: list[outbox.CaseEntry]) -> str:
    h = hashlib.sha256()
    for c in cases:
        h.update(f"{c.key}\0{c.state}\0{c.updated.isoformat()}\0".encode())
    return h.hexdigest()[:16]


def cases_state(request: Request) -> Response:
    return JSONResponse({"digest": _digest(request.app.state.memo.listed(_cfg(request).outbox))})


def case_page(request: Request, *, error: str = "", receipt: str = "", filing_date: str = "",
              status_code: int = 200) -> Response:
    entry = _case(request)
    record = None
    if entry.state not in (outbox.CaseState.FAILED, outbox.CaseState.IN_PROGRESS):
        try:
            record = request.app.state.memo.result(entry)
        except PackagerError as e:  # a damaged manifest: say so on the page, as for a failed case
            error = error or str(e)
    context = views.case_view(entry, record, views.case_url(entry.key))
    stamped = record.stamp if record else None
    context.update(error=error, receipt=receipt or (stamped.receipt if stamped else ""),
                   filing_date=filing_date or (str(stamped.filing_date) if stamped and stamped.filing_date else ""),
                   stamped=request.query_params.get("stamped") == "1")
    return _render(request, "case.html", context, status_code)


def case_state(request: Request) -> Response:
    entry = _case(request)
    return JSONResponse({"state": str(entry.state), "updated": entry.updated.isoformat()})


# ---------------------------------------------------------------------------- files


def case_file(request: Request) -> Response:
    entry = _case(request)
    record = _built(request, entry)
    rel = request.path_params["rel"]
    listed = next((o for o in record.outputs if o.path == rel), None)
    if listed is None:
        raise HTTPException(404, "not a file of this case's manifest")
    try:
        fd = open_below(entry.path, listed.path)
    except FileNotFoundError as e:
        raise HTTPException(404, "the file is missing from the case folder") from e
    name = Path(listed.path).name
    return stream_fd(fd, media_type_for(name), name, inline=True)


def _jpeg(data: bytes | None) -> Response:
    if data is None:
        raise HTTPException(404, "no thumbnail for this page")
    return Response(data, media_type="image/jpeg")


def page_thumb(request: Request) -> Response:
    entry = _case(request)
    record = _built(request, entry)
    index, page = request.path_params["index"], request.path_params["page"]
    if not 0 <= index < len(record.outputs):
        raise HTTPException(404, "no such document")
    out = record.outputs[index]
    pages = len(out.pages) or thumbs.page_count(entry.path, out.path)
    if out.destination != "upload" or not 0 <= page < pages:
        raise HTTPException(404, "no such page")
    return _jpeg(thumbs.thumbnail(entry.path, out.path, out.sha256, page, range(pages)))


def dropped_thumb(request: Request) -> Response:
    entry = _case(request)
    record = _built(request, entry)
    index = request.path_params["index"]
    if not 0 <= index < len(record.dropped_pages):
        raise HTTPException(404, "no such dropped page")
    dropped = record.dropped_pages[index]
    if not any(i.path == dropped.source for i in record.inputs):
        raise HTTPException(404, "the dropped page's source is not an input of this case")
    rel = f"{ORIGINALS}/{dropped.source}"
    return _jpeg(thumbs.thumbnail(entry.path, rel, f"dropped\0{dropped.source}", dropped.source_page))


def _temp_download(write: Any, entry: outbox.CaseEntry, files: list[tuple[str, str]], media_type: str,
                   filename: str, inline: bool) -> Response:
    tmp = tempfile.NamedTemporaryFile(prefix="packager-desk-", delete=False)  # noqa: SIM115 (deleted after sending)
    try:
        with tmp:
            write(entry.path, files, tmp)
    except bundle.ChangedSinceBuild as e:
        os.unlink(tmp.name)
        raise HTTPException(409, f"{e}: rebuild the case before downloading") from e
    except BaseException:
        os.unlink(tmp.name)
        raise
    return FileResponse(
        tmp.name, media_type=media_type, filename=filename,
        content_disposition_type="inline" if inline else "attachment", background=BackgroundTask(os.unlink, tmp.name),
    )


def upload_zip(request: Request) -> Response:
    entry = _case(request)
    record = _built(request, entry)
    files = [(o.path, o.sha256) for o in views.upload_in_form_order(record)]
    return _temp_download(bundle.write_zip, entry, files, "application/zip", f"{entry.name}-upload.zip", False)


def print_kit(request: Request) -> Response:
    entry = _case(request)
    record = _built(request, entry)
    files = [(o.path, o.sha256) for o in views.mail_in_print_order(record)]
    if not files:
        raise HTTPException(404, "nothing is mailed in this case")
    return _temp_download(bundle.write_print_kit, entry, files, "application/pdf", f"{entry.name}-print-kit.pdf",
                          True)


# ---------------------------------------------------------------------------- actions


async def _form_checked(request: Request, **limits: Any) -> Any:
    form = await request.form(**limits)
    if not csrf_ok(request, _cfg(request).secret, form.get(CSRF_FIELD)):
        await form.close()
        raise HTTPException(403, "the form has expired or did not come from this desk: reload the page and retry")
    return form


def _stamp_locked(out_dir: Path, receipt: str, filing_date: dt.date | None) -> None:
    # One stamp at a time: two clicks (or two staff) must not interleave writes to one mailed set.
    with _stamp_lock:
        outbox.stamp(out_dir, receipt, filing_date)


async def stamp(request: Request) -> Response:
    form = await _form_checked(request, max_files=0, max_fields=10)
    entry = _case(request)
    receipt = str(form.get("receipt", ""))
    date_text = str(form.get("filing_date", "")).strip()
    try:
        filing_date = dt.date.fromisoformat(date_text) if date_text else None
    except ValueError:
        return await run_in_threadpool(case_page, request, error=f"filing date {date_text!r} is not a date "
                                       "(YYYY-MM-DD)", receipt=receipt, filing_date=date_text, status_code=422)
    _built(request, entry)
    try:
        await run_in_threadpool(_stamp_locked, entry.path, receipt, filing_date)
        request.app.state.memo.forget()  # the case's state changed: the next page must say so
    except PackagerError as e:
        return await run_in_threadpool(case_page, request, error=str(e), receipt=receipt, filing_date=date_text,
                                       status_code=422)
    return RedirectResponse(views.case_url(entry.key) + "?stamped=1", status_code=303)


def new_case_form(request: Request) -> Response:
    if _cfg(request).inbox is None:
        raise HTTPException(404, "start the desk with --inbox INBOX to add cases from the browser")
    return _render(request, "new.html", views.new_case_context(_cfg(request)))


async def new_case(request: Request) -> Response:
    cfg = _cfg(request)
    if cfg.inbox is None:
        raise HTTPException(404, "start the desk with --inbox INBOX to add cases from the browser")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cfg.max_upload_bytes:
        return _new_case_refused(request, views.too_large(int(declared), cfg.max_upload_bytes), 413)
    try:
        form = await _form_checked(request, max_files=cfg.max_upload_files, max_fields=50)
    except HTTPException as e:
        if e.status_code == 400:  # the multipart parser's own limits (file count, field size)
            return _new_case_refused(request, f"{e.detail}: at most {cfg.max_upload_files} files in one case", 413)
        raise
    try:
        fields, name = views.case_fields(form)
        # An empty file input still sends one part with no file name: not a file.
        uploads = [(f.filename, f.file) for f in form.getlist("files") if hasattr(f, "file") and f.filename]
        assert cfg.inbox is not None
        made = await run_in_threadpool(newcase.write_case, cfg.inbox, name, fields, uploads)
    except PackagerError as e:
        return _new_case_refused(request, str(e), 422, form)
    finally:
        await form.close()
    return _render(request, "created.html", {"made": made, "inbox_path": str(cfg.inbox)}, 201)


def _new_case_refused(request: Request, message: str, status: int, form: Any = None) -> Response:
    context = views.new_case_context(_cfg(request), form)
    context["error"] = message
    return _render(request, "new.html", context, status)


# ---------------------------------------------------------------------------- the application


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code in (401, 421):
        return Response(str(exc.detail), status_code=exc.status_code)
    return _render(request, "error.html", {"status": exc.status_code, "detail": exc.detail}, exc.status_code)


def create_app(cfg: DeskConfig) -> Guard:
    """The desk as an ASGI application; the guard is outermost, so even a 500 carries its headers."""
    key = "{key:path}"
    routes = [
        Route("/", case_list, name="cases"),
        Route("/cases/state", cases_state),
        Route("/new", new_case_form, methods=["GET"]),
        # Starlette's own cap backs up the Content-Length check in new_case (chunked bodies).
        Route("/new", new_case, methods=["POST"], max_body_size=cfg.max_upload_bytes + 1_000_000),
        Route(f"/case/{key}/-/state", case_state),
        Route(f"/case/{key}/-/file/{{rel:path}}", case_file),
        Route(f"/case/{key}/-/thumb/{{index:int}}/{{page:int}}.jpg", page_thumb),
        Route(f"/case/{key}/-/dropped/{{index:int}}.jpg", dropped_thumb),
        Route(f"/case/{key}/-/upload.zip", upload_zip),
        Route(f"/case/{key}/-/print-kit.pdf", print_kit),
        Route(f"/case/{key}/-/stamp", stamp, methods=["POST"], max_body_size=64_000),
        Route(f"/case/{key}", case_page),
        Mount("/static", StaticFiles(directory=HERE / "static", follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.cfg = cfg
    app.state.memo = _Memo()
    templates = Jinja2Templates(directory=HERE / "templates")
    views.register_filters(templates.env)
    app.state.templates = templates
    return Guard(app, cfg)
