"""The manager's monthly report: figures (SQL), workbook, month-end pack, dashboard and command line."""
