"""Build small random-weight Qwen3 models with the real Qwen3 tokenizer.

Real Qwen3 weights are gigabytes; tests, benchmarks and offscreen screenshots use
these instead. They are saved in exactly the layout `mlx_lm.load` reads from the
Hub (config.json, model.safetensors, tokenizer files), so every code path that
loads a real model loads them too, with real token ids.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import mlx.core as mx
from mlx.utils import tree_flatten

logger = logging.getLogger(__name__)

# The real Qwen3 embedding table is padded past the tokenizer's 151,669 ids.
QWEN3_VOCAB_SIZE = 151936


@dataclass
class TinyQwen3Config:
    """Shape of a random Qwen3; the defaults build a ~10M parameter model."""

    hidden_size: int = 64
    num_hidden_layers: int = 2
    intermediate_size: int = 128
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    max_position_embeddings: int = 4096
    rope_theta: float = 1_000_000.0
    rms_norm_eps: float = 1e-6
    tie_word_embeddings: bool = True
    vocab_size: int = QWEN3_VOCAB_SIZE


def make_tiny_qwen3(
    path: Path,
    tokenizer_dir: Path,
    config: TinyQwen3Config | None = None,
    bits: int | None = None,
    seed: int = 0,
    dtype: str = "float32",
) -> Path:
    """Write a random-weight Qwen3 model folder that `mlx_lm.load` can open.

    Args:
        path: Folder to create (replaced if it exists).
        tokenizer_dir: Folder with the real Qwen3 tokenizer.json and
            tokenizer_config.json.
        config: Model shape; defaults to a tiny model.
        bits: Quantize to this many bits (4 for QLoRA-style tests), or keep
            float16 weights when None.
        seed: Random seed, so the same call builds the same weights.
        dtype: Weight dtype before quantizing. float32 is the default because
            MLX's CPU kernels are much slower with float16 scales.

    Returns:
        The model folder.
    """
    from mlx_lm.models import qwen3
    from mlx_lm.utils import quantize_model, save_config, save_model

    config = config or TinyQwen3Config()
    model_config = {"model_type": "qwen3", **asdict(config)}
    model_config["architectures"] = ["Qwen3ForCausalLM"]
    model_config["eos_token_id"] = 151645

    mx.random.seed(seed)
    model = qwen3.Model(qwen3.ModelArgs.from_dict(model_config))
    model.set_dtype(getattr(mx, dtype))
    mx.eval(model.parameters())

    if bits is not None:
        model, model_config = quantize_model(model, model_config, 64, bits)

    path = Path(path)
    if path.exists():
        shutil.rmtree(path)
    save_model(path, model)
    save_config(model_config, config_path=path / "config.json")
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(Path(tokenizer_dir) / name, path / name)

    count = sum(v.size for _, v in tree_flatten(model.parameters()))
    logger.info("Built a random Qwen3 (%d weights, bits=%s) in %s", count, bits, path)
    return path
