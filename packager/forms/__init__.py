"""Forms for mailed supplements: the declaration, the cover sheet, the receipt stamp.

Public API (imported from the submodules, so importing this package stays cheap):
- declaration.render_declaration(case, uploaded, mailed, on_date) -> bytes
- cover.render_cover_sheet(case, mailed, receipt, filing_date, on_date) -> bytes
- receipt.validate_receipt(text) -> str
- stamp.stamp_case(out_dir, receipt, filing_date, *, on_date=None) -> stamp.StampResult
- stamp.copy_pristine(out_dir, mailed_rel) -> str
All texts come from profiles/forms/*.toml; see docs/mailing.md.
"""
