"""Copy detection with hard negatives (`make bench-copies`, `python -m bench.copies`;
docs/copies.md):

- `edits`: the edit kinds (lookalike's EDITS and issue 15's additions);
- `galleries`: the galleries (every distractor of the sources' kind) and their queries;
- `systems`: lookalike as shipped, and any `Descriptor` (images -> L2-normalised vectors);
- `measure`: recall@1 and the copy verdict over positive and hardest-negative pairs;
- `report`: the Markdown; `benchmark`: the command.
"""

from .galleries import Gallery, Item, Query, build, build_gallery
from .systems import Descriptor, DescriptorSystem, EmbeddingDescriptor, LookalikeSystem

__all__ = ["Descriptor", "DescriptorSystem", "EmbeddingDescriptor", "Gallery", "Item", "LookalikeSystem", "Query",
           "build", "build_gallery"]
