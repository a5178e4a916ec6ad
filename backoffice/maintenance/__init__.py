"""Keeping the practice's data safe over time: encrypted backups and their restore, removing old print and claim
files, the legal retention periods that refuse deleting a patient too early, and a patient's own data export
(inzage, AVG article 15)."""
