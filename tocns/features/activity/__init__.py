"""tocns.features.activity."""
