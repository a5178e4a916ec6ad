"""Invoices, credit notes, number series and payments (issue 4). Use cases in services.py; no views yet."""
