"""Random video graphs for operation and model tests."""
import torch

from intergraph.video.graph import VideoGraph


def random_graph(b=2, t=4, n=3, m=5, c=8, seed=0, pad=True) -> VideoGraph:
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(b, t, n, dtype=torch.bool)
    if pad:
        mask[0, :, -1] = False  # video 0 has one box fewer per frame
        if b > 1 and t > 1:
            mask[1, 1, 0] = False  # video 1 misses one box in frame 1
    return VideoGraph(torch.randn(b, t, n, c, generator=g), torch.randn(b, t, m, c, generator=g),
                      torch.rand(b, t, n, 9, generator=g), mask)


def random_features(n=24, t=4, k=3, m=4, c=16, classes=3, seed=0):
    """A FeatureSet whose label is readable from the features (class c shifts channel c of object 0)."""
    from intergraph.video.features import FeatureSet

    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % classes
    objects = torch.randn(n, t, k, c, generator=g)
    objects[torch.arange(n), :, 0, labels] += 3.0
    mask = torch.ones(n, t, k, dtype=torch.bool)
    mask[::4, :, -1] = False
    objects = objects * mask[..., None]
    return FeatureSet(objects.half(), torch.randn(n, t, m, c, generator=g).half(), torch.rand(n, t, k, 9, generator=g),
                      mask, labels, [f"v{i}" for i in range(n)], {"classes": [f"c{i}" for i in range(classes)]})


def tiny_run(structure="adaptive", mode="alternate", epochs=2):
    from intergraph.train.config import TrainConfig
    from intergraph.train.search import SearchConfig
    from intergraph.video.experiment import VideoSearchRun
    from intergraph.video.model import VideoModelConfig

    return VideoSearchRun(model=VideoModelConfig(width=16, structure=structure, kernel=3),
                          train=TrainConfig(max_epochs=epochs, batch_size=8, monitor="val/top1", mode="max",
                                            accelerator="cpu", early_stop_patience=50),
                          search=SearchConfig(mode=mode, weight_optimizer="adam", weight_lr=1e-2, structure_lr=3e-2))
