"""``hf:PATH``: a Hugging Face sequence-classification reward model on local disk.

Any ``AutoModelForSequenceClassification`` folder with its tokenizer works (e.g.
OpenAssistant's deberta reward model, Skywork / ArmoRM-style single-logit RMs saved locally):
``load_scorer("hf:/models/reward-model-deberta-v3-large-v2")``.  Nothing is downloaded
(``local_files_only``, ``HF_HUB_OFFLINE=1``).  Runs on the GPU when torch sees one, else CPU.

Input: when the tokenizer has a chat template, the (prompt, response) pair is rendered as a
user turn and an assistant turn with it; otherwise the prompt and response are passed as a
text pair (the OpenAssistant convention).  Over-long inputs are truncated from the left (the
response, at the end, is kept) and counted in :attr:`HFScorer.truncated`.

Reward: the single logit of a one-label head; for two labels, logit[1] − logit[0] (the
log-odds of the "good" class); for more, the first logit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from referee.errors import InputError
from referee.scoring.encoder import load_torch

BATCH = 16


class HFScorer:
    def __init__(self, path: str | Path, *, batch_size: int = BATCH, device: str | None = None,
                 max_length: int | None = None) -> None:
        path = Path(path).expanduser()
        if not (path / "config.json").is_file():
            raise InputError("not a Hugging Face model folder (no config.json)", path=str(path))
        _, self.device = load_torch("hf:", "scorer", device)
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.path = path
        self.name = f"hf:{path.name}"
        self.batch_size = batch_size
        try:
            self.tok: Any = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            self.model: Any = AutoModelForSequenceClassification.from_pretrained(
                str(path), local_files_only=True).to(self.device).eval()
        except (OSError, ValueError) as err:
            raise InputError(f"cannot load a sequence-classification model here: {err}", path=str(path)) from None
        self.tok.truncation_side = "left"
        limit = getattr(self.tok, "model_max_length", None) or 512
        pos = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = max_length or int(min(limit, pos or limit, 100_000))
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token or self.tok.unk_token
            self.model.config.pad_token_id = self.tok.pad_token_id
        self.chat = bool(getattr(self.tok, "chat_template", None))
        self.truncated = 0

    def _encode(self, prompts: Sequence[str], responses: Sequence[str]) -> dict[str, Any]:
        if self.chat:
            texts = [self.tok.apply_chat_template([{"role": "user", "content": p},
                                                   {"role": "assistant", "content": r}], tokenize=False)
                     for p, r in zip(prompts, responses, strict=True)]
            full = self.tok(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
            enc = self.tok(texts, add_special_tokens=False, truncation=True, max_length=self.max_length,
                           padding=True, return_tensors="pt")
        else:
            full = self.tok(list(prompts), list(responses), truncation=False, verbose=False)["input_ids"]
            enc = self.tok(list(prompts), list(responses), truncation=True, max_length=self.max_length,
                           padding=True, return_tensors="pt")
        self.truncated += sum(len(f) > self.max_length for f in full)
        return {k: v.to(self.device) for k, v in enc.items()}

    def score(self, prompts: Sequence[str], responses: Sequence[str], *,
              progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        import torch

        prompts = ["" if p is None else str(p) for p in prompts]
        responses = ["" if r is None else str(r) for r in responses]
        n = len(responses)
        self.truncated = 0
        out = np.zeros(n)
        order = np.argsort([-(len(p) + len(r)) for p, r in zip(prompts, responses, strict=True)], kind="stable")
        for start in range(0, n, self.batch_size):
            idx = order[start:start + self.batch_size]
            batch = self._encode([prompts[i] for i in idx], [responses[i] for i in idx])
            with torch.inference_mode():
                logits = self.model(**batch).logits.float().cpu().numpy()
            vals = logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits[:, 0]
            out[idx] = vals
            if progress:
                progress(min(start + self.batch_size, n), n)
        return out
