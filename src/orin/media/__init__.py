"""Where media objects live in object storage, and removing them with their owners."""
