"""ORIN: AI video surveillance that turns IP cameras into alerts people can trust."""

__version__ = "0.1.0"
