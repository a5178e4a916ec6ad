"""Adapters that turn plain data into bytes: PDF (WeasyPrint) and XLSX (openpyxl). No Flask, no ORM objects."""
