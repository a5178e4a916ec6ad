"""Insurer claim batches: the claim workbook (workbook.py). The rules live in backoffice.domain.claims."""
