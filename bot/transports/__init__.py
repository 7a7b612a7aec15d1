"""Outbound transports: one per platform, each sends one outbox message and classifies the outcome."""
