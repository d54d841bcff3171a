"""Floor 1: what everything stands on: errors, crash-safe storage, the runtime probe, library versions and renames, paths, YAML files."""
