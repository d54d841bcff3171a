"""The toy world: what the models learn about, what they are asked, and how answers are judged."""
from alignkit.world.tasks import CATEGORIES, Splits, Task, find_task, ideal_response, splits
from alignkit.world.world import Entity, World, WorldSettings, build_world, cloze, load_world, statement

__all__ = [
    "CATEGORIES", "Entity", "Splits", "Task", "World", "WorldSettings", "build_world", "cloze",
    "find_task", "ideal_response", "load_world", "splits", "statement",
]
