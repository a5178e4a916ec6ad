"""Credential expiry watch and the recorded treatments a lapse makes unclaimable (whatever their stored flag)."""
