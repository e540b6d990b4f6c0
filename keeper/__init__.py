"""Keel keeper: the off-chain risk keeper of the Keel delta-neutral vault."""

__version__ = "0.1.0"
