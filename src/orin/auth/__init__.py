"""Accounts and security: passwords, tokens, sessions, MFA, sign-in providers."""
