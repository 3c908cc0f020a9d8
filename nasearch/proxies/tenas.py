"""TE-NAS (placeholder: being written)."""
