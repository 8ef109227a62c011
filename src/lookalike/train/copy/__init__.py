"""Training lookalike's copy descriptor: EfficientNet-Lite0's last blocks fine-tuned, with
GeM pooling and a projection, to tell an edited copy from a look-alike (the SSCD recipe:
instance contrast between strongly edited views, and an entropy regulariser that spreads
the descriptors; Pizzi et al., CVPR 2022).

    sources.py   the training pictures: folders and idx files, read once, kept small
    views.py     random edited copies of a picture (every edit kind the benchmarks make)
    model.py     frozen trunk (onnxruntime) -> trained branch, GeM, projection (torch)
    loss.py      InfoNCE over the batch + KoLeo entropy regulariser
    run.py       the resumable run: fixed seed, checkpoints, validation, the weights file
"""
