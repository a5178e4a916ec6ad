"""Insurer claims, one module per use case: settings.py (insurers and their claim settings), batches.py (build,
submit, cancel, resubmit, read), validation.py (gather the facts and judge them), export.py (freeze the lines and
write the workbook, workbook.py), outcomes.py (what the insurer paid; statistics), patient_claims.py (declarations
the patient sends), remittance.py (the insurer's reply file); common.py holds what they share. The rules live in
backoffice.domain.claims."""
