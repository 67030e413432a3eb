"""Probes of a video benchmark's validity, on its node features (train split fitted, test split scored).

- ``family``: the scene family from the structure predictor's input, the mean background node (V, C), by a
  standardised logistic regression: must be high, or no predictor can route by family;
- ``label | family``: the label within each family from the same descriptor: should be near chance, or the
  classifier could read the label off the background and need no routing;
- ``nodes``: the label within each family from the object nodes alone, by the same linear probe on
  permutation-invariant pools (mean and max over the valid nodes of each half of the clip): what the node
  features carry before any graph operation (if this is at chance, no operation can help);
- ``boxes``: a box-only oracle per family: gradient-boosted trees on permutation-invariant trajectory
  features of the object boxes (layout vectors linked into tracks frame to frame by optimal assignment of
  box centres), which shows what the boxes alone carry (nothing, by design, in ``place``);
- ``key object``: the label from the features of the object the label is about, picked with the generator's
  ground truth (``place``: the 3 × 3 background cells around A's box at the last time step; ``crowd``: the odd
  object's node, averaged over time; ``motion``: a relation of two tracks, none): what a network that finds
  that object could read; far above ``nodes``, it says the task is selecting the object, not seeing it.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ..errors import InputError
from .features import FeatureSet
from .synthetic import SyntheticConfig, render


def descriptor(fs: FeatureSet) -> np.ndarray:
    """(V, C) mean background node of every video (what the structure predictor reads, before its Linear)."""
    return fs.background.float().mean(dim=(1, 2)).numpy()


def linear_probe(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Test accuracy of a standardised logistic regression fitted on ``train`` rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(y[train])) < 2:
        return float(np.mean(y[test] == y[train][0]))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    model.fit(x[train], y[train])
    return float(model.score(x[test], y[test]))


def node_pools(fs: FeatureSet) -> np.ndarray:
    """(V, 4C) mean and max of the valid object nodes over the first and the second half of each clip."""
    x, m = fs.objects.float(), fs.mask[..., None]
    half = x.shape[1] // 2 or 1
    parts = []
    for sl in (slice(0, half), slice(half, None)):
        xs, ms = x[:, sl], m[:, sl]
        parts.append((xs * ms).sum(dim=(1, 2)) / ms.sum(dim=(1, 2)).clamp_min(1))
        parts.append(xs.masked_fill(~ms, float("-inf")).amax(dim=(1, 2)).clamp_min(-1e4))
    return torch.cat(parts, dim=-1).numpy()


def tracks(layout: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Link boxes into tracks: (T, N, 9) layout, (T, N) mask -> (T, K, 4) centre x, y, width, height of the K
    boxes of the first frame, each followed frame to frame by minimum-distance assignment (a box that
    disappears keeps its last place)."""
    first = np.nonzero(mask[0])[0]
    out = np.zeros((layout.shape[0], len(first), 4))
    out[0] = layout[0, first][:, [4, 5, 6, 7]]
    for t in range(1, layout.shape[0]):
        here = np.nonzero(mask[t])[0]
        out[t] = out[t - 1]
        if len(here):
            cost = np.linalg.norm(out[t - 1][:, None, :2] - layout[t, here][None, :, 4:6], axis=-1)
            rows, cols = linear_sum_assignment(cost)
            out[t, rows] = layout[t, here[cols]][:, [4, 5, 6, 7]]
    return out


def box_features(layout: np.ndarray, mask: np.ndarray, slots: int = 4) -> np.ndarray:
    """Permutation-invariant trajectory features of one video: per track (sorted by path length, padded to
    ``slots``) start, end, displacement, path length, mean size, net rotation about the scene centre; per
    pair of tracks (sorted) start, end and minimum distance and the change of distance."""
    tr = tracks(layout, mask)
    k = tr.shape[1]
    step = np.linalg.norm(np.diff(tr[:, :, :2], axis=0), axis=-1).sum(0) if len(tr) > 1 else np.zeros(k)
    rel = tr[:, :, :2] - tr[:, :, :2].mean(axis=1, keepdims=True)
    angle = np.unwrap(np.arctan2(rel[..., 1], rel[..., 0]), axis=0)
    per = np.concatenate([tr[0, :, :2], tr[-1, :, :2], tr[-1, :, :2] - tr[0, :, :2], step[:, None],
                          tr[:, :, 2:].mean(0), (angle[-1] - angle[0])[:, None]], axis=1)
    per = per[np.argsort(-step, kind="stable")][:slots]
    per = np.concatenate([per, np.zeros((slots - len(per), per.shape[1]))]) if len(per) < slots else per
    pairs = []
    for i in range(k):
        for j in range(i + 1, k):
            d = np.linalg.norm(tr[:, i, :2] - tr[:, j, :2], axis=-1)
            pairs.append([d[0], d[-1], d.min(), d[-1] - d[0]])
    pairs = np.array(sorted(pairs, key=lambda p: p[2]) or [[0.0] * 4])[:slots * (slots - 1) // 2]
    pairs = np.concatenate([pairs, np.zeros((slots * (slots - 1) // 2 - len(pairs), 4))])
    return np.concatenate([per.ravel(), pairs.ravel(), [k]])


def box_oracle(fs: FeatureSet, train: np.ndarray, test: np.ndarray, seed: int = 0) -> float:
    """Test accuracy of gradient-boosted trees on :func:`box_features`."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    layout, mask = fs.layout.numpy(), fs.mask.numpy()
    x = np.stack([box_features(layout[v], mask[v]) for v in range(len(fs))])
    y = fs.labels.numpy()
    if len(np.unique(y[train])) < 2:
        return float(np.mean(y[test] == y[train][0]))
    model = HistGradientBoostingClassifier(max_iter=300, learning_rate=0.05, random_state=seed).fit(x[train], y[train])
    return float(model.score(x[test], y[test]))


def key_object(fs: FeatureSet, cfg: SyntheticConfig, rows: np.ndarray) -> np.ndarray | None:
    """Features of the key object of the families videos ``rows`` (all of one family; ids ``synth<seed>_<index>``,
    as :func:`.experiment.synthetic_features` names them), re-rendered with ``cfg`` for their roles: for
    ``crowd`` the odd object's node (mean over time), (len(rows), C); for ``place`` A's affinity map, the cosine
    similarity of A's node to each background cell of its frame, mean over time, (len(rows), M); None for
    ``motion``."""
    from .families import CLASS_FAMILY, FAMILIES

    family = FAMILIES[CLASS_FAMILY[int(fs.labels[rows[0]])]].name
    if family == "motion":
        return None
    t_feat = fs.objects.shape[1]
    out = []
    for v in rows:
        video = render(int(fs.ids[v].rsplit("_", 1)[1]), cfg)
        stride = max(len(video.roles) // t_feat, 1)
        stored = np.sort(fs.layout[v, 0, fs.mask[v, 0], 0].numpy())
        if not np.allclose(stored, np.sort(video.boxes[0, :, 0] / cfg.size), atol=1e-4):
            raise InputError(f"{fs.ids[v]}: its boxes are not those of video {fs.ids[v]} rendered with {cfg}")
        cols = [video.roles[t * stride].index("odd" if family == "crowd" else "A") for t in range(t_feat)]
        node = fs.objects[v, torch.arange(t_feat), cols].float()  # (T, C)
        if family == "crowd":
            out.append(node.mean(0).numpy())
        else:
            out.append(torch.cosine_similarity(node[:, None], fs.background[v].float(), dim=-1).mean(0).numpy())
    return np.stack(out)


def check(fs: FeatureSet, split: dict[str, list[int]], seed: int = 0, cfg: SyntheticConfig | None = None) -> dict:
    """The probes on a feature set with groups (``meta["class_groups"]``): overall and per family, each with its
    chance level (the most frequent training label); the key-object probe too when the videos' generator
    ``cfg`` is given."""
    groups = fs.groups()
    if groups is None:
        raise ValueError("the probes need each video's family (a benchmark with scene families)")
    names, groups, y = fs.group_names, groups.numpy(), fs.labels.numpy()
    train, test = np.array(split["train"]), np.array(split["test"])
    x, nodes = descriptor(fs), node_pools(fs)

    def chance(rows_train, rows_test):
        values, counts = np.unique(y[rows_train], return_counts=True)
        return float(np.mean(y[rows_test] == values[counts.argmax()]))

    out = {"family_from_descriptor": linear_probe(x, groups, train, test),
           "family_chance": float(np.mean(groups[test] == np.bincount(groups[train]).argmax())), "families": {}}
    for g, name in enumerate(names):
        tr, te = train[groups[train] == g], test[groups[test] == g]
        sub = fs.subset(np.concatenate([tr, te]).tolist())
        local_tr, local_te = np.arange(len(tr)), np.arange(len(tr), len(tr) + len(te))
        out["families"][name] = {
            "test_videos": int(len(te)), "classes": int(len(np.unique(y[te]))), "chance": chance(tr, te),
            "label_from_descriptor": linear_probe(x, y, tr, te),
            "label_from_nodes": linear_probe(nodes, y, tr, te),
            "label_from_boxes": box_oracle(sub, local_tr, local_te, seed),
            "label_from_key_object": None}
        key = key_object(fs, cfg, np.concatenate([tr, te])) if cfg is not None and len(tr) and len(te) else None
        if key is not None:
            out["families"][name]["label_from_key_object"] = linear_probe(key, y[np.concatenate([tr, te])],
                                                                          local_tr, local_te)
    return out


def format_check(result: dict) -> str:
    lines = [f"family from the mean background node: {result['family_from_descriptor']:.3f} "
             f"(chance {result['family_chance']:.3f}; needs >= 0.95)",
             "| family | test videos | classes | chance | label from the descriptor | label from the object nodes | "
             "label from the boxes | label from the key object |", "|---|---|---|---|---|---|---|---|"]
    for name, r in result["families"].items():
        key = r.get("label_from_key_object")
        lines.append(f"| {name} | {r['test_videos']} | {r['classes']} | {r['chance']:.3f} | "
                     f"{r['label_from_descriptor']:.3f} | {r['label_from_nodes']:.3f} | {r['label_from_boxes']:.3f} | "
                     f"{'—' if key is None else f'{key:.3f}'} |")
    return "\n".join(lines)

