"""Batch printing of a period's invoices or declarations: one merged PDF and a ZIP, from the web (a background
job on the Huey queue) and the command line (`flask documents print`)."""
