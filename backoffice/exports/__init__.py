"""Exports of lists: what a list page's filters show, as XLSX or CSV (services.py: the response and the access log;
lists.py: what each list exports). The routes sit beside each list's own route, under its own permission:
`exports.respond(exports.patients(q, user), exports.export_format(request.args))` (?format=xlsx or csv)."""

from .lists import claim_lines, invoices, overdue, patients, payments, treatments
from .services import export_format, respond

__all__ = ["claim_lines", "export_format", "invoices", "overdue", "patients", "payments", "respond", "treatments"]
