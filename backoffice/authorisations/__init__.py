"""Prior authorisations (machtigingen) on the patient record: recorded, listed, withdrawn; never edited."""
