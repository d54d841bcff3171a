"""Floor 6: what a learner clicks and runs: side-by-side comparisons and votes, the arena, the exercise checkers."""
