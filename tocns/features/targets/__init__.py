"""Yearly plans and targets: goals per unit, indicator and year, and how far each unit is from them."""
