"""tocns.features.reports."""
