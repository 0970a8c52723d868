"""packager: fit scanned documents into the Online Residence Application System's upload.

Public API — three faces (the `packager` CLI, the drop-folder watcher, the desk in the
browser) call only these:

* packager.api:    package(case_dir, out_dir, options) -> BuildResult; check(case_dir) -> CheckReport
* packager.outbox: list_cases / find_case (an OUTBOX's cases and their state), read_result
                   (a build's manifest as records), stamp (the mailed set with the receipt number)

Errors are packager.errors.PackagerError subclasses, each carrying its exit code.
"""

__version__ = "0.1.0"
