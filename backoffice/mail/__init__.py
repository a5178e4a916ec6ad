"""E-mail to patients: documents sent with the practice's Dutch message templates (services.py), delivered by
SMTP or written to the outbox folder (transport.py), the templates themselves (templates.py) and their pages."""
