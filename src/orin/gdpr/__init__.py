"""GDPR: a user's data exported as an archive, and erased on request."""
