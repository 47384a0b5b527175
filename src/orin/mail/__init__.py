"""Outgoing mail: the sender port (SMTP or a folder) and the messages ORIN sends."""

from orin.mail.sender import (
    FolderSender,
    MailError,
    MailRejected,
    MailSender,
    MailUnavailable,
    RecipientRefused,
    SmtpSender,
    create_mail_sender,
    mail_folder,
)

__all__ = [
    "FolderSender",
    "MailError",
    "MailRejected",
    "MailSender",
    "MailUnavailable",
    "RecipientRefused",
    "SmtpSender",
    "create_mail_sender",
    "mail_folder",
]
