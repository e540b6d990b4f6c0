"""All chain I/O of the keeper lives in this package."""
