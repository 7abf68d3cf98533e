"""Household Assistant: private, local chat with a family's house notes."""

__version__ = "0.1.0"
