"""tocns.channels."""
