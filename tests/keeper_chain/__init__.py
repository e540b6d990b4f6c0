"""Keeper chain I/O against anvil: the transaction sender."""
