"""Which rows describe the same comparison, in which orientation, and which prompt cluster.

*Item* = one comparison of two responses to one prompt, whatever the presentation order.
Items are keyed by ``pair_id`` when gold and verdicts both carry it, else by a content
hash of (prompt, {side a, side b}) that ignores the order: the prompt is its text when
every table has it (else ``prompt_id``); a side is its response text when every table has
both responses — together with its model name when the tables name models alike, so two
models that happened to write the same text stay apart — else the model name.  Each item has a *reference orientation*: that of
its first gold row (else its first verdict row); every outcome is also expressed in that
frame (``yr``), so a verdict shown in the swapped order is mapped into the gold frame.

*Cluster* = the prompt, for the bootstrap: ``prompt_id`` where present, else a hash of the
prompt text, else the item itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from referee.auditing.agreement import SWAP
from referee.schema import outcome_codes


def _present(df: pd.DataFrame, *cols: str) -> bool:
    return all(c in df.columns and bool(df[c].notna().all()) for c in cols)


def hash_strings(values: pd.Series | np.ndarray) -> np.ndarray:
    """uint64 content hash of each value's text (missing values hash as the empty string)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    arr = s.to_numpy(dtype=object, na_value="")
    try:
        return pd.util.hash_array(arr, categorize=False)
    except TypeError:  # non-string values: hash their text
        return pd.util.hash_array(np.array([str(x) for x in arr], dtype=object), categorize=False)


@dataclass
class KeyFields:
    """How items are keyed (the same choice for every table of one audit)."""

    by_pair_id: bool
    prompt: str | None  # "prompt", "prompt_id" or None
    side: str  # "response+model", "response" or "model"

    def key_text(self) -> str:
        """The alignment key in words, for the report's meta and error messages."""
        if self.by_pair_id:
            return "pair_id"
        sides = {
            "response+model": "{(model_a, response_a), (model_b, response_b)}",
            "response": "{response_a, response_b}",
            "model": "{model_a, model_b}",
        }[self.side]
        return f"content hash of ({self.prompt or 'no prompt'}, {sides}), presentation order ignored"


def choose_fields(tables: list[pd.DataFrame], *, pair_id: bool) -> KeyFields:
    """The strongest key every table supports."""
    prompt = "prompt" if all(_present(t, "prompt") for t in tables) else None
    if prompt is None and all(_present(t, "prompt_id") for t in tables):
        prompt = "prompt_id"
    side = "response" if all(_present(t, "response_a", "response_b") for t in tables) else "model"
    if side == "response" and _shared_models(tables):
        side = "response+model"
    by_pair = pair_id and len(tables) > 1 and all(_present(t, "pair_id") for t in tables)
    if by_pair and _shared_models(tables):
        side = "model"  # within one pair_id the model names tell the orientation
    return KeyFields(by_pair, prompt, side)


def _shared_models(tables: list[pd.DataFrame]) -> bool:
    """Do the tables name their responses' models alike (so names can tell identical texts apart)?"""
    names = [set(pd.unique(t["model_a"])) | set(pd.unique(t["model_b"])) for t in tables]
    return all(n & names[0] for n in names[1:])


@dataclass
class Keyed:
    """Per-row keys of the concatenated rows (gold rows first, then verdict rows)."""

    item: np.ndarray  # item id per row
    in_ref: np.ndarray  # row is shown in its item's reference orientation
    y: np.ndarray  # outcome in the shown frame: 0 = a wins, 1 = b wins, 2 = tie
    yr: np.ndarray  # outcome in the item's reference frame
    cluster: np.ndarray  # cluster id per row
    cluster_labels: np.ndarray  # label of each cluster ("i:<prompt_id>", "t:<hash>", "k:<item>")
    n_items: int
    fields: KeyFields


def side_hashes(df: pd.DataFrame, side: str) -> tuple[np.ndarray, np.ndarray]:
    if side == "response+model":
        ma, mb = hash_strings(df["model_a"]), hash_strings(df["model_b"])
        ra, rb = hash_strings(df["response_a"]), hash_strings(df["response_b"])
        return pd.util.hash_array(ma) ^ ra, pd.util.hash_array(mb) ^ rb
    if side == "response":
        return hash_strings(df["response_a"]), hash_strings(df["response_b"])
    return hash_strings(df["model_a"]), hash_strings(df["model_b"])


def key_rows(df: pd.DataFrame, fields: KeyFields) -> Keyed:
    """Items, orientations, outcomes and clusters of the rows of ``df`` (in row order)."""
    n = len(df)
    ha, hb = side_hashes(df, fields.side)
    canon = ha <= hb
    item: np.ndarray
    if fields.by_pair_id:
        item = pd.factorize(df["pair_id"].astype(str))[0].astype(np.int64)
    else:
        hp = hash_strings(df[fields.prompt]) if fields.prompt else np.zeros(n, dtype=np.uint64)
        lo, hi = np.minimum(ha, hb), np.maximum(ha, hb)
        groups = pd.DataFrame({"p": hp, "lo": lo, "hi": hi}).groupby(["p", "lo", "hi"], sort=False)
        item = groups.ngroup().to_numpy().astype(np.int64)
    n_items = int(item.max()) + 1 if n else 0
    first = _first_index(item, n_items)
    in_ref = canon == canon[first][item]
    y = np.minimum(outcome_codes(df["winner"]), 2).astype(np.int8)
    yr = np.where(in_ref, y, SWAP[y]).astype(np.int8)
    label = np.full(n, "", dtype=object)
    missing = np.ones(n, dtype=bool)
    if "prompt_id" in df.columns:
        pid = df["prompt_id"]
        ok = pid.notna().to_numpy()
        label[ok] = "i:" + pid[ok].astype(str).to_numpy(dtype=object)
        missing &= ~ok
    if "prompt" in df.columns and missing.any():
        ok = missing & df["prompt"].notna().to_numpy()
        label[ok] = "t:" + pd.Series(hash_strings(df["prompt"][ok])).astype(str).to_numpy(dtype=object)
        missing &= ~ok
    label[missing] = "k:" + pd.Series(item[missing]).astype(str).to_numpy(dtype=object)
    item_label = label[first]
    cl_of_item, labels = pd.factorize(item_label)
    return Keyed(item, in_ref, y, yr, cl_of_item[item].astype(np.int64), np.asarray(labels, dtype=object),
                 n_items, fields)


def _first_index(codes: np.ndarray, n: int) -> np.ndarray:
    """Index of the first row of each code 0..n−1."""
    first = np.full(n, codes.size, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(codes.size))
    return first


def gold_votes(item: np.ndarray, yr: np.ndarray, weight: np.ndarray, n_items: int) -> np.ndarray:
    """(items × 3) weighted gold votes per outcome in the reference frame."""
    g = np.zeros((n_items, 3))
    np.add.at(g, (item, yr.astype(np.int64)), weight)
    return g
