"""Credential expiry watch and the reimbursable treatments a lapse makes unclaimable."""
