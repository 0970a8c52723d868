"""packager: fit scanned documents into the Online Residence Application System's upload.

Public API (see packager.api): package, check, stamp. The CLI and the watcher are thin
faces over these calls.
"""

__version__ = "0.1.0"
