"""The clinic's rules in plain Python: no Flask, no SQLAlchemy, no models.

Everything here takes and returns dataclasses, enums, dates and Decimals, so the rules can be read and
tested on their own.
"""
