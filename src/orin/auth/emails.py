"""Email addresses: validated and normalised once, so one person has one account."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from orin.errors import BadRequest


class InvalidEmail(BadRequest):
    status_code = 422
    type_slug = "invalid-email"
    title = "Invalid email address"


def normalize_email(raw: str) -> str:
    """The address in canonical form (domain lower-cased and IDNA-decoded, local part NFC).

    Raises `InvalidEmail` with the validator's reason. Deliverability (DNS) is not checked:
    verification by email proves the address instead.
    """
    if len(raw) > 320:
        raise InvalidEmail("the email address is longer than 320 characters")
    try:
        result = validate_email(raw.strip(" "), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"the email address is not valid: {exc}") from None
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}"
