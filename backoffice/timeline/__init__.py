"""The patient timeline: everything that happened in one patient's record, newest first, in one list."""
