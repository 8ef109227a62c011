"""Crops anywhere, pastes, the same object from another angle (`make bench-crops`,
`python -m bench.crops`; tables for docs/crops-and-views.md).

- `queries`: the gallery and the queries, from the prepared data (`bench.data`);
- `measure`: both stores indexed, every query searched without and with the keypoint stage;
- `report`: the tables, from the results alone; `benchmark`: the command.
"""
