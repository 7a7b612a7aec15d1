"""tocns.features.tasks."""
