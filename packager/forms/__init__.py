"""Forms for mailed supplements: the declaration, the cover sheet, the receipt stamp.

Public API (imported from the submodules, so importing this package stays cheap):
- declaration.render_declaration(case, uploaded, mailed, on_date) -> bytes
- cover.render_cover_sheet(case, mailed, receipt, filing_date, on_date) -> bytes
- receipt.validate_receipt(text) -> str
- stamp.check_receipt(text) -> str; stamp.stamp_pdf(pristine, line_for, cfg, dest) -> [PageStamp]
  (the case-level call, with the manifest, is packager.outbox.stamp)
All texts come from profiles/forms/*.toml; see docs/mailing.md.
"""
