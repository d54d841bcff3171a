"""Floor 5: the evaluation harness, best-of-n, trivial baselines, memorised demonstrations and the statistics every chapter reports."""
