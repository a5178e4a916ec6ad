"""The care relationship (optional): therapists limited to the patients they treat or are assigned to, with
break-the-glass access for the rest (a reason, logged and shown to admins)."""
