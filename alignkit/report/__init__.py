"""Floor 6: the course's method table, measured, and choosing a method from it."""
