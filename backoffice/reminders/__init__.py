"""Payment reminders: the friendly reminder and the 14-day letter for overdue invoices (issue 14, part 5)."""
