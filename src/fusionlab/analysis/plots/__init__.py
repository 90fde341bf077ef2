"""Figures written as PNG files (matplotlib, headless)."""
