"""Retrieval latency at 10,000 chunks: one category, two categories, or all.

Retrieval searches only the routed category's chunks (a metadata filter on the
code), widening to a few categories when the router is unsure. This measures
what the filter costs against an unfiltered search, on a persistent Chroma
store, both through `NoteStore.query` (query embedding included) and through
Chroma alone with the query already embedded.

The store is filled quickly: a few hundred distinct note chunks are embedded
for real, and the rest are copies with small random noise (re-normalised).

    python benchmarks/bench_query.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import benchkit
import numpy as np
import synthetic_notes

BATCH = 1000  # chunks per upsert while filling the store
NOISE = 0.015  # per dimension; copies keep a cosine of about 0.95 to their base
K = 5
INCLUDE = ["metadatas", "documents", "distances"]  # what NoteStore.query asks for


@dataclass
class Latencies:
    """Milliseconds per query for each way of searching."""

    ms: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.ms.setdefault(name, []).append(value)

    def p(self, name: str, q: float) -> float:
        return benchkit.percentile(self.ms[name], q)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 chunks, 30 q.")
    parser.add_argument("--chunks", type=int, help="chunks in the store (10,000)")
    parser.add_argument("--queries", type=int, help="held-out questions (100)")
    parser.add_argument("--distinct", type=int, help="chunks embedded for real (300)")
    args = parser.parse_args()
    args.chunks = args.chunks or (3000 if args.quick else 10_000)
    args.queries = args.queries or (30 if args.quick else 100)
    args.distinct = args.distinct or (120 if args.quick else 300)
    return args


def open_store(home: Path):
    from household_assistant.embeddings import LocalMiniLM
    from household_assistant.store import NoteStore, open_client

    embedder = LocalMiniLM(benchkit.MINILM_DIR)
    return NoteStore(open_client(home), embedder.embed)


def base_chunks(count: int) -> list[tuple[str, str, str]]:
    """(text, category, heading) of `count` distinct chunks of synthetic notes,
    taking one category after another so that every category is as common."""
    from household_assistant.chunking import chunk_text

    by_category: dict[str, list[tuple[str, str, str]]] = {}
    for note in synthetic_notes.make_notes(count, seed=1):
        for chunk in chunk_text(note.text):
            entry = (chunk.text, note.category, chunk.heading)
            by_category.setdefault(note.category, []).append(entry)

    rounds = itertools.zip_longest(*by_category.values())
    return [c for chunks in rounds for c in chunks if c is not None][:count]


def fill(store, total: int, distinct: int, codes: dict[str, str]) -> dict:
    """Put `total` chunks in the store; returns how long the two steps took."""
    bases = base_chunks(distinct)
    embed_ms, vectors = benchkit.timed(store.embed, [b[0] for b in bases])
    rng = np.random.default_rng(0)

    started = time.perf_counter()
    for start in range(0, total, BATCH):
        index = list(range(start, min(start + BATCH, total)))
        picked = [i % len(bases) for i in index]
        noisy = vectors[picked] + rng.normal(0, NOISE, (len(index), vectors.shape[1]))
        noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
        store.collection.upsert(
            ids=[f"bench{i // 3:06d}:{i % 3}" for i in index],
            documents=[bases[b][0] for b in picked],
            embeddings=noisy.astype(np.float32),
            metadatas=[_metadata(i, *bases[i % len(bases)], codes) for i in index],
        )
    insert_ms = (time.perf_counter() - started) * 1000
    return {"distinct": len(bases), "embed_ms": embed_ms, "insert_ms": insert_ms}


def _metadata(i: int, _text: str, category: str, heading: str, codes) -> dict:
    # The fields NoteStore.upsert_note writes; three chunks to a note.
    return {
        "note_id": f"bench{i // 3:06d}",
        "source": f"/bench/notes/{i // 3:06d}.md",
        "title": heading or category,
        "code": codes[category],
        "category": category,
        "chunk_index": i % 3,
        "heading": heading,
        "content_hash": f"{i // 3:064d}",
        "imported_at": 1_700_000_000.0 + i,
    }


def searches(store, question: str, code: str, wider: str):
    """The six timed calls for one question: name -> zero-argument call."""
    vector = np.asarray(store.embed([question]), dtype=np.float32)

    def chroma(where):
        return lambda: store.collection.query(
            query_embeddings=vector, n_results=K, where=where, include=INCLUDE
        )

    return {
        "store, 1 category": lambda: store.query(question, [code], K),
        "store, 2 categories": lambda: store.query(question, [code, wider], K),
        "store, unfiltered": lambda: store.query(question, None, K),
        "chroma, 1 category": chroma({"code": code}),
        "chroma, 2 categories": chroma({"code": {"$in": [code, wider]}}),
        "chroma, unfiltered": chroma(None),
    }


def run_queries(store, questions, codes: list[str], seed: int = 0):
    """Each question through all six searches, in a shuffled order each time.

    Returns:
        The latencies, and the share of filtered hits inside their filter.
    """
    rng, latencies = random.Random(seed), Latencies()
    inside = total = 0
    for row in questions:
        wider = codes[(codes.index(row.code) + 1) % len(codes)]
        calls = list(searches(store, row.question, row.code, wider).items())
        rng.shuffle(calls)
        for name, call in calls:
            ms, result = benchkit.timed(call)
            latencies.add(name, ms)
            if name == "store, 1 category":
                inside += sum(hit.code == row.code for hit in result)
                total += K
    return latencies, 100 * inside / total


ORDER = (
    "store, 1 category",
    "store, 2 categories",
    "store, unfiltered",
    "chroma, 1 category",
    "chroma, 2 categories",
    "chroma, unfiltered",
)


def summarize(lat: Latencies, info: dict, inside_pct: float, quick: bool) -> dict:
    summary = {"bench": "query", "quick": quick, **info, "k": K}
    for name in ORDER:
        key = name.replace(", ", "_").replace(" ", "_")
        summary[f"{key}_p50_ms"] = lat.p(name, 50)
        summary[f"{key}_p95_ms"] = lat.p(name, 95)
    for layer in ("store", "chroma"):
        for scope, label in (("1 category", "1cat"), ("2 categories", "2cat")):
            for q in (50, 95):
                summary[f"{layer}_{label}_vs_unfiltered_p{q}"] = benchkit.ratio(
                    lat.p(f"{layer}, {scope}", q), lat.p(f"{layer}, unfiltered", q)
                )
    summary["query_embed_p50_ms"] = lat.p("store, unfiltered", 50) - lat.p(
        "chroma, unfiltered", 50
    )
    summary["filter_respected_pct"] = inside_pct
    return summary


def print_report(lat: Latencies, s: dict) -> None:
    print(
        f"{s['chunks']:,} chunks ({s['distinct']} embedded for real, in "
        f"{s['embed_ms'] / 1000:.1f} s; upserted in {s['insert_ms'] / 1000:.1f} s), "
        f"{s['queries']} held-out questions, k={K}; one category holds ~1/18 "
        f"of the chunks\n"
    )
    rows = []
    for name in ORDER:
        unfiltered = name.split(",")[0] + ", unfiltered"
        p50, p95 = lat.p(name, 50), lat.p(name, 95)
        ratios = [
            benchkit.ratio(v, lat.p(unfiltered, q)) for v, q in ((p50, 50), (p95, 95))
        ]
        rows.append((name, p50, p95, *ratios))
    headers = ["search", "p50 ms", "p95 ms", "p50 / unfilt.", "p95 / unfilt."]
    benchkit.print_table(headers, rows)

    embed = s["query_embed_p50_ms"]
    print(
        f"\nquery embedding (store p50 - chroma p50, unfiltered): {embed:.1f} ms, "
        f"{100 * embed / lat.p('store, unfiltered', 50):.0f}% of a store query"
    )
    inside = s["filter_respected_pct"]
    print(f"filtered hits (k per question) inside their category: {inside:.0f}%")


def main() -> None:
    from household_assistant.categories import CategoryBook

    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        book = CategoryBook.load(home)
        store = open_store(home)
        codes = {c.name: c.code for c in book}
        info = fill(store, args.chunks, args.distinct, codes)
        info.update(chunks=store.count(), queries=args.queries)

        questions = benchkit.heldout_questions(home, args.queries)
        run_queries(store, questions[:5], book.codes, seed=1)  # warm up
        latencies, inside_pct = run_queries(store, questions, book.codes)

    summary = summarize(latencies, info, inside_pct, args.quick)
    print_report(latencies, summary)
    print()
    benchkit.print_summary(summary)


if __name__ == "__main__":
    main()
