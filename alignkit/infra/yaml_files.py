"""YAML files a person edits (the constitution, the quiz banks), read safely: no Python objects are built, and a
repeated key is refused instead of silently replacing the first (a second `principles:` block, a second `salt:`)."""
from __future__ import annotations

import yaml

__all__ = ["UniqueKeyLoader"]


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that raises a ConstructorError on a key repeated in one mapping."""


def _unique_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicated key {key!r}: it appears twice, and the later one would silently replace the "
                "earlier; merge the two into one", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)
