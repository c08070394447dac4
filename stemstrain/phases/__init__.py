"""Phase maps."""
