"""Chroma's ONNX all-MiniLM-L6-v2 embedder, reading a folder we control.

Chroma's own class downloads into ~/.cache on first use. This subclass reads
the folder the model manager resolved and never reaches for the network.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

import numpy as np
from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

from .errors import ModelNotAvailable

logger = logging.getLogger(__name__)

DIMENSIONS = 384
MAX_TOKENS = 256  # as sentence-transformers and Chroma truncate


class LocalMiniLM(ONNXMiniLM_L6_V2):
    """MiniLM sentence embeddings (384 floats, unit length) from a local folder.

    Args:
        folder: A folder holding `onnx/model.onnx` and the tokenizer files.
    """

    def __init__(self, folder: Path):
        super().__init__(preferred_providers=["CPUExecutionProvider"])
        self.DOWNLOAD_PATH = Path(folder)

    @cached_property
    def tokenizer(self):
        tokenizer = self.Tokenizer.from_file(
            str(
                Path(self.DOWNLOAD_PATH) / self.EXTRACTED_FOLDER_NAME / "tokenizer.json"
            )
        )
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        return tokenizer

    def _forward(self, documents: list[str], batch_size: int = 8) -> np.ndarray:
        # Chroma pads every text to 256 tokens. Padding each batch only to its
        # longest text gives the same vectors (padding is masked out) several
        # times faster for short questions; sorting by length keeps batches tight.
        # Batches of 8 measured fastest on CPU (benchmarks/bench_import.py).
        order = sorted(range(len(documents)), key=lambda i: len(documents[i]))
        vectors = np.zeros((len(documents), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([documents[i] for i in batch])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feeds = {
                "input_ids": ids,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(ids),
            }
            hidden = self.model.run(None, feeds)[0]  # (B, T, 384)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(1) / np.clip(weights.sum(1), 1e-9, None)
            vectors[batch] = self._normalize(pooled)
        return vectors

    def _download_model_if_not_exists(self) -> None:
        onnx = Path(self.DOWNLOAD_PATH) / self.EXTRACTED_FOLDER_NAME
        if not (onnx / "model.onnx").exists():
            raise ModelNotAvailable(
                f"The embedding model is missing from {onnx}. Run "
                "`household-assistant models download`."
            )

    def embed(self, texts: list[str]) -> np.ndarray:
        """A (len(texts), 384) float32 array of unit vectors."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        self._download_model_if_not_exists()
        return self._forward(list(texts))
