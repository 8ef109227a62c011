"""Learning from the user's own images (`lookalike train`), and measuring what it changed.

    data.py         a folder -> decoded images with labels; the deterministic held-out split
    augment.py      random edits that make training views (rotation by any angle, crops, ...)
    backbone.py     frozen pretrained embeddings of those views (onnxruntime, once)
    pairs.py        positives, hard negatives, training batches, held-out pairs
    losses.py       infonce, triplet, contrastive
    modules.py      shared torch blocks and their translation to plain layers
    loop.py         the one training loop
    onnx_graph.py   plain layers -> ONNX, written by hand with onnx.helper
    calibration.py  anchors, P(same), invariance: measured on held-out pairs
    heldout.py      before/after with `lookalike evaluate`'s own code
    modelfile.py    measured graph -> versioned model file (features/learned.py format)
    siamese.py      the siamese head on the pretrained embedding
    autoencoder.py  the convolutional autoencoder
    texture.py      the texture re-ranker's classifier (no torch needed)
    report.py       before/after tables
    cli.py          `lookalike train siamese | autoencoder | texture`

Only the siamese and autoencoder trainers need torch (pip install 'lookalike[train]');
importing this package, its CLI or the texture trainer does not import it.
"""
