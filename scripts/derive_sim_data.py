"""Derive the simulator's compact data files from the public traces and prompt sets.

Run once against a checkout of the shared data (``python scripts/derive_sim_data.py
[../shared/data]``); the outputs in ``detector/simulate/data/`` are committed so that the
simulator and its tests never need the raw data (70 MB of traces) at run time.

Why derive instead of shipping samples: the simulator needs *shapes* (how often a real client
calls, how bursty, how long its prompts and answers are, how often a chat continues), not rows.
Hourly rate series, quantile tables and a prompt sample capture those shapes in about 1 MB.

The script is deterministic: the only randomness (which instruction prompts are sampled) uses a
fixed seed, JSON is written with sorted keys, and gzip headers carry no timestamp or file name, so
rerunning it on the same inputs gives byte-identical files.
"""

from __future__ import annotations

import argparse
import ast
import csv
import gzip
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

SEED = 20261102
"""Fixed seed of the instruction-prompt sample (the date of the default scenario's start)."""

QUANTILE_PROBS: list[float] = [
    0.0,
    0.01,
    0.025,
    0.05,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.35,
    0.4,
    0.45,
    0.5,
    0.55,
    0.6,
    0.65,
    0.7,
    0.75,
    0.8,
    0.85,
    0.9,
    0.925,
    0.95,
    0.975,
    0.99,
    0.995,
    0.999,
    1.0,
]
"""Probability grid of every stored quantile table; denser in the tails where lengths spread."""

INSTRUCTION_SAMPLE: dict[str, int] = {
    "gpteacher_codegen": 350,
    "gpteacher_roleplay": 250,
    "gpteacher_toolformer": 250,
    "gsm8k_train": 600,
    "self_instruct_seed_tasks": 175,
}
"""How many prompts of each instruction set go into the sample (the seed tasks: all 175)."""

MAX_INSTRUCTION_CHARS = 600
SERVEGEN_CATEGORIES = ("language/m-large", "language/m-mid", "language/m-small", "reason/deepseek-r1")
WINDOW_S = 600
"""ServeGen trace rows are 10-minute windows."""

OUT_DIR = Path(__file__).resolve().parent.parent / "detector" / "simulate" / "data"


def _sig(x: float, digits: int = 4) -> float:
    """Round to significant digits: keeps the JSON small without flattening small rates to 0."""
    if x == 0 or not np.isfinite(x):
        return 0.0
    return float(f"{x:.{digits}g}")


def _quantiles(values: np.ndarray, weights: np.ndarray | None = None) -> list[float]:
    """Weighted quantiles on QUANTILE_PROBS (step CDF inverse, so integer lengths stay exact)."""
    order = np.argsort(values, kind="stable")
    v = values[order].astype(float)
    w = np.ones_like(v) if weights is None else weights[order].astype(float)
    cdf = np.cumsum(w)
    cdf /= cdf[-1]
    idx = np.searchsorted(cdf, np.asarray(QUANTILE_PROBS) - 1e-12, side="left")
    idx = np.clip(idx, 0, len(v) - 1)
    out = v[idx]
    out[0] = v[0]
    out[-1] = v[-1]
    return [_sig(float(x), 5) for x in out]


def _chunk_key(path: Path) -> int:
    return int(path.name.split("-")[1])


def _parse_pmf(text: str) -> dict[float, float]:
    """ServeGen stores PMFs as Python-dict strings (``{163: 0.25, ...}``), hence literal_eval."""
    parsed = ast.literal_eval(text)
    if not isinstance(parsed, dict):
        raise TypeError("PMF is not a dict")
    return {float(k): float(v) for k, v in parsed.items()}


def _merge_pmfs(pmfs: list[tuple[dict[float, float], float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mix per-window PMFs, each weighted by the number of requests of its window."""
    acc: dict[float, float] = {}
    for pmf, weight in pmfs:
        for k, p in pmf.items():
            acc[k] = acc.get(k, 0.0) + p * weight
    keys = np.array(sorted(acc), dtype=float)
    probs = np.array([acc[k] for k in sorted(acc)], dtype=float)
    return keys, probs


def derive_servegen(root: Path) -> dict[str, Any]:
    """Per client: hourly mean rate series, burstiness summary and (where known) token lengths."""
    clients: list[dict[str, Any]] = []
    for category in SERVEGEN_CATEGORIES:
        folder = root / "traces" / "servegen" / category
        for trace in sorted(folder.glob("chunk-*-trace.csv"), key=_chunk_key):
            chunk = _chunk_key(trace)
            with trace.open(newline="") as fh:
                rows = list(csv.reader(fh))
            start = np.array([float(r[0]) for r in rows])
            rate = np.array([float(r[1]) for r in rows])
            cv = np.array([float(r[2]) for r in rows])
            family = [r[3] for r in rows]
            shape = np.array([float(r[4]) for r in rows])
            active = rate > 0
            if not active.any():
                continue  # a client that never called says nothing about arrival shapes
            hours = len(rows) * WINDOW_S // 3600
            hourly = rate[: hours * 6].reshape(hours, 6).mean(axis=1)
            active_cv = cv[active]
            fam = [f for f, a in zip(family, active, strict=True) if a]
            client: dict[str, Any] = {
                "id": f"{category}/chunk-{chunk}",
                "category": category.split("/")[1],
                "mean_rate": _sig(float(rate.mean())),
                "active_share": _sig(float(active.mean()), 3),
                "cv_median": _sig(float(np.median(active_cv)), 3),
                "cv_p90": _sig(float(np.quantile(active_cv, 0.9)), 3),
                "gamma_share": _sig(fam.count("Gamma") / len(fam), 3),
                "shape_median": _sig(float(np.median(shape[active])), 3),
                "hourly_rate": [_sig(float(x)) for x in hourly],
            }
            dataset = folder / f"chunk-{chunk}-dataset.json"
            if dataset.exists():
                client.update(_derive_lengths(dataset, start, rate))
            clients.append(client)
    return {"window_s": WINDOW_S, "quantile_probs": QUANTILE_PROBS, "clients": clients}


def _derive_lengths(dataset: Path, start: np.ndarray, rate: np.ndarray) -> dict[str, Any]:
    """Token-length quantiles of one client, windows weighted by how many requests they hold."""
    data: dict[str, dict[str, str]] = json.loads(dataset.read_text())
    inputs: list[tuple[dict[float, float], float]] = []
    outputs: list[tuple[dict[float, float], float]] = []
    ratios: list[tuple[dict[float, float], float]] = []
    for key, window in data.items():
        begin = float(key)
        in_window = (start >= begin) & (start < begin + 6 * 3600)
        weight = float(rate[in_window].sum())
        pin = _parse_pmf(window["input_tokens"])
        pout = _parse_pmf(window["output_tokens"])
        if not pin or not pout or weight <= 0:
            continue
        inputs.append((pin, weight))
        outputs.append((pout, weight))
        if "reason_ratio" in window:
            ratio = _parse_pmf(window["reason_ratio"])
            if ratio and sum(ratio.values()) > 0:
                ratios.append((ratio, weight))
    if not inputs:
        return {}
    out: dict[str, Any] = {}
    for name, pmfs in (("input_q", inputs), ("output_q", outputs), ("reason_ratio_q", ratios)):
        if pmfs:
            keys, probs = _merge_pmfs(pmfs)
            out[name] = _quantiles(keys, probs)
    return out


def derive_mooncake(root: Path) -> dict[str, Any]:
    """Multi-turn share and prefix-sharing facts of a real chat service.

    A request continues a conversation when the complete blocks of an earlier request (all but
    its last, partial block, whose hash changes once more text follows) are a prefix of its own:
    the earlier turn, its answer and the new user message are re-sent. Block 0 is shared by every
    request (a common system prompt), so sharing *only* block 0 does not make a conversation.
    """
    path = root / "traces" / "mooncake" / "mooncake_conversation_trace.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    full_seen: dict[tuple[int, ...], int] = {}
    prefix_seen: set[tuple[int, ...]] = set()
    turn_of: list[int] = []
    shared_blocks: list[int] = []
    for row in rows:
        ids = tuple(row["hash_ids"])
        turn = 1
        for k in range(len(ids), 1, -1):  # longest earlier request whose complete blocks prefix ours
            if ids[:k] in full_seen:
                turn = full_seen[ids[:k]] + 1
                break
        best = 0
        for k in range(len(ids), 0, -1):
            if ids[:k] in prefix_seen:
                best = k
                break
        turn_of.append(turn)
        shared_blocks.append(best)
        if len(ids) >= 2:
            full_seen.setdefault(ids[:-1], turn)
        for k in range(1, len(ids) + 1):
            prefix_seen.add(ids[:k])
    turns = np.array(turn_of)
    shared = np.array(shared_blocks)
    counts = Counter(int(min(t, 12)) for t in turns)
    inl = np.array([r["input_length"] for r in rows], dtype=float)
    outl = np.array([r["output_length"] for r in rows], dtype=float)
    first_block = Counter(r["hash_ids"][0] for r in rows).most_common(1)[0][1] / len(rows)
    return {
        "requests": len(rows),
        "block_tokens": 512,
        "multi_turn_share": _sig(float((turns > 1).mean()), 4),
        "shared_prefix_share": _sig(float((shared >= 2).mean()), 4),
        "common_first_block_share": _sig(first_block, 4),
        "turn_pmf": {str(k): _sig(v / len(rows), 4) for k, v in sorted(counts.items())},
        "input_q": _quantiles(inl),
        "output_q": _quantiles(outl),
        "quantile_probs": QUANTILE_PROBS,
    }


def derive_azure(root: Path) -> dict[str, Any]:
    """Token shapes of conversational and coding production traffic (Azure, 2023)."""
    out: dict[str, Any] = {"quantile_probs": QUANTILE_PROBS}
    for kind in ("conv", "code"):
        path = root / "traces" / "azure_llm_2023" / f"AzureLLMInferenceTrace2023_{kind}.csv"
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        ctx = np.array([float(r["ContextTokens"]) for r in rows])
        gen = np.array([float(r["GeneratedTokens"]) for r in rows])
        out[kind] = {"requests": len(rows), "input_q": _quantiles(ctx), "output_q": _quantiles(gen)}
    return out


def _truncate(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def derive_prompts(root: Path) -> dict[str, Any]:
    """All organic prompts, and a fixed-seed sample of instruction-dataset prompts."""
    organic: list[dict[str, str]] = []
    arena = root / "prompts" / "organic" / "arena_hard_v0.1.jsonl"
    for line in arena.read_text().splitlines():
        row = json.loads(line)
        organic.append({"source": "arena_hard", "topic": row["cluster"], "text": row["prompt"].strip()})
    user = root / "prompts" / "organic" / "self_instruct_user_oriented.jsonl"
    for line in user.read_text().splitlines():
        row = json.loads(line)
        text = row["instruction"].strip()
        instances = row.get("instances") or []
        if instances and instances[0].get("input", "").strip():
            text = f"{text}\n\n{instances[0]['input'].strip()}"
        organic.append({"source": "self_instruct_user", "topic": row["motivation_app"], "text": text})

    pools: dict[str, list[str]] = {}
    base = root / "prompts" / "instruction"
    for name in ("gpteacher_codegen", "gpteacher_roleplay", "gpteacher_toolformer"):
        rows = json.loads((base / f"{name}.json").read_text())
        pools[name] = [
            f"{r['instruction'].strip()}\n\n{r['input'].strip()}"
            if r["input"].strip()
            else r["instruction"].strip()
            for r in rows
        ]
    pools["gsm8k_train"] = [
        json.loads(line)["question"].strip() for line in (base / "gsm8k_train.jsonl").read_text().splitlines()
    ]
    seed_tasks = []
    for line in (base / "self_instruct_seed_tasks.jsonl").read_text().splitlines():
        row = json.loads(line)
        text = row["instruction"].strip()
        inst = row.get("instances") or []
        if inst and inst[0].get("input", "").strip():
            text = f"{text}\n\n{inst[0]['input'].strip()}"
        seed_tasks.append(text)
    pools["self_instruct_seed_tasks"] = seed_tasks

    rng = random.Random(SEED)
    instruction: list[dict[str, str]] = []
    for name, count in INSTRUCTION_SAMPLE.items():
        pool = pools[name]
        picked = sorted(rng.sample(range(len(pool)), min(count, len(pool))))
        instruction.extend(
            {"source": name, "text": _truncate(pool[i], MAX_INSTRUCTION_CHARS)} for i in picked
        )
    return {"organic": organic, "instruction": instruction}


WIDE_SAMPLE = 260
"""Items kept per source in ``prompts_wide.json.gz``: enough for a few campaigns' crawls a run."""
MAX_PASSAGE_CHARS = 480

WIDE_SOURCES: dict[str, tuple[str, str, str]] = {
    # name: (group, file under prompts/, field holding the text)
    "arena_hard": ("organic", "organic/arena_hard_v0.1.jsonl", "prompt"),
    "sharegpt_first": ("organic", "organic/sharegpt_first_prompts.jsonl", "text"),
    "awesome_prompts": ("organic", "organic/awesome_chatgpt_prompts.jsonl", "text"),
    "self_instruct_user": ("organic", "organic/self_instruct_user_oriented.jsonl", "instruction"),
    "sharegpt_multiturn": ("organic", "organic/sharegpt_multiturn_user_turns.jsonl", "text"),
    "sharegpt_zh": ("organic", "organic/sharegpt_zh_multiturn_user_turns.jsonl", "text"),
    "instructionwild": ("organic", "organic/instructionwild_v2.jsonl", "text"),
    "nq_open": ("queryset", "organic/nq_open_questions.jsonl", "text"),
    "webquestions": ("queryset", "organic/webquestions.jsonl", "text"),
    "gpteacher_codegen": ("instruction", "instruction/gpteacher_codegen.json", "instruction"),
    "gpteacher_roleplay": ("instruction", "instruction/gpteacher_roleplay.json", "instruction"),
    "gpteacher_toolformer": ("instruction", "instruction/gpteacher_toolformer.json", "instruction"),
    "gsm8k_train": ("instruction", "instruction/gsm8k_train.jsonl", "question"),
    "self_instruct_seed_tasks": ("instruction", "instruction/self_instruct_seed_tasks.jsonl", "instruction"),
    "bbh": ("instruction", "instruction/bbh.jsonl", "text"),
    "svamp": ("instruction", "instruction/svamp.jsonl", "text"),
    "theoremqa": ("instruction", "instruction/theoremqa.jsonl", "text"),
    "folio": ("instruction", "instruction/folio.jsonl", "text"),
    "nl2bash": ("instruction", "instruction/nl2bash.jsonl", "text"),
    "odex": ("instruction", "instruction/odex.jsonl", "text"),
    "exercism": ("instruction", "instruction/exercism.jsonl", "text"),
    "xquad": ("multilingual", "instruction/xquad_questions.jsonl", "text"),
    "truthfulqa_multi": ("multilingual", "instruction/truthfulqa_multi.jsonl", "text"),
    "bfcl_live": ("agent", "agent/bfcl_live.jsonl", "text"),
    "webarena": ("agent", "agent/webarena_intents.jsonl", "text"),
    "tau_bench": ("agent", "agent/tau_bench_airline_trajectories.jsonl", "text"),
    "react_fewshot": ("agent", "agent/react_fewshot_prompts.jsonl", "text"),
    "rag_rgb": ("queryset", "agent/rag_rgb.jsonl", "text"),
    "rag_tatqa": ("queryset", "agent/rag_tatqa_dev.jsonl", "text"),
}
"""Every source of the wide prompt file; which split may use which is fixed in the simulator
(``detector/simulate/splits.py``). Reserved benchmark sets are never read here."""


def _rows(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    if path.suffix == ".json":
        loaded: list[dict[str, Any]] = json.loads(text)
        return loaded
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def _row_text(name: str, row: dict[str, Any], field: str) -> str:
    text = str(row.get(field) or "").strip()
    if name.startswith("gpteacher") and str(row.get("input", "")).strip():
        text = f"{text}\n\n{row['input'].strip()}"
    if name.startswith("self_instruct"):
        inst = row.get("instances") or []
        if inst and str(inst[0].get("input", "")).strip():
            text = f"{text}\n\n{inst[0]['input'].strip()}"
    return text


def _sentences(passages: list[str]) -> list[str]:
    out: list[str] = []
    for passage in passages:
        for piece in passage.replace("...", ".").split(". "):
            part = piece.strip().rstrip(".")
            if 40 <= len(part) <= 240:
                out.append(part + ".")
    return out


def derive_wide_prompts(root: Path) -> dict[str, Any]:
    """A fixed-seed sample of every allowed prompt source, with language and (agents) tool counts.

    Besides prompts, the query-set attack needs task inputs: the retrieved passages of RGB and
    TAT-QA, encyclopedia-like sentences cut from them and FOLIO's premises, kept as their own pools.
    """
    rng = random.Random(SEED + 1)
    pools: dict[str, Any] = {}
    for name, (group, rel, field) in WIDE_SOURCES.items():
        rows = [r for r in _rows(root / "prompts" / rel) if _row_text(name, r, field)]
        if name in {"xquad", "truthfulqa_multi"}:
            rows = [r for r in rows if r.get("language", "en") != "en"]
        picked = sorted(rng.sample(range(len(rows)), min(WIDE_SAMPLE, len(rows))))
        chosen = [rows[i] for i in picked]
        pools[name] = {
            "group": group,
            "provenance": sorted({str(r.get("source", rel)).split(":")[0] for r in chosen})
            if "source" in chosen[0]
            else [rel],
            "texts": [_truncate(_row_text(name, r, field), MAX_INSTRUCTION_CHARS) for r in chosen],
            "languages": [
                str(r.get("language") or ("zh" if name == "sharegpt_zh" else "en")) for r in chosen
            ],
            "tools": [len(r.get("functions") or []) for r in chosen],
        }
    rgb = _rows(root / "prompts" / "agent" / "rag_rgb.jsonl")
    rgb_passages = [p for r in rgb if r.get("language", "en") == "en" for p in r["passages"]]
    tat = _rows(root / "prompts" / "agent" / "rag_tatqa_dev.jsonl")
    tat_paragraphs = list(dict.fromkeys(p for r in tat for p in r["paragraphs"]))
    folio = _rows(root / "prompts" / "instruction" / "folio.jsonl")
    derived = {
        "rgb_passages": rgb_passages,
        "rgb_sentences": _sentences(rgb_passages),
        "tatqa_paragraphs": tat_paragraphs,
        "folio_premises": list(dict.fromkeys(p for r in folio for p in r["premises"])),
    }
    for name, found in derived.items():
        items = [t for t in found if len(t.strip()) >= 20]
        picked = sorted(rng.sample(range(len(items)), min(WIDE_SAMPLE, len(items))))
        pools[name] = {
            "group": "queryset",
            "provenance": [
                pools["rag_rgb" if name.startswith("rgb") else ("rag_tatqa" if "tatqa" in name else "folio")][
                    "provenance"
                ][0]
            ],
            "texts": [_truncate(items[i], MAX_PASSAGE_CHARS) for i in picked],
            "languages": ["en"] * len(picked),
            "tools": [0] * len(picked),
        }
    return {"pools": pools}


def _write_gz_json(path: Path, payload: dict[str, Any]) -> None:
    """gzip with mtime 0 and no file name in the header: identical bytes on every rerun."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    with (
        path.open("wb") as fh,
        gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz,
    ):
        gz.write(raw)


ATTRIBUTION = """\
# Attribution of the simulator's derived data

The files in this folder are derived (aggregated, quantised or sampled) from public data sets by
`scripts/derive_sim_data.py`. The sources, copied unchanged into the shared data folder, are:

| source (repository @ commit : path) | licence | used in |
|---|---|---|
| alibaba/ServeGen @ f891d118 : data/language/{m-large,m-mid,m-small}/chunk-N-trace.csv | Apache-2.0 | `servegen_profiles.json.gz` (hourly rate series, CV and inter-arrival family summary per client) |
| alibaba/ServeGen @ f891d118 : data/language/m-small/chunk-N-dataset.json | Apache-2.0 | `servegen_profiles.json.gz` (input/output token quantiles of m-small clients) |
| alibaba/ServeGen @ f891d118 : data/reason/deepseek-r1/chunk-N-{trace.csv,dataset.json} | Apache-2.0 | `servegen_profiles.json.gz` (rates, token quantiles and reason_ratio quantiles of reasoning clients) |
| Azure/AzurePublicDataset @ b469a113 : data/AzureLLMInferenceTrace_{conv,code}.csv | CC-BY-4.0 | `token_shapes.json.gz` (`azure`: context/generated token quantiles) |
| kvcache-ai/Mooncake @ 3b5a5941 : FAST25-release/traces/conversation_trace.jsonl | Apache-2.0 | `token_shapes.json.gz` (`mooncake`: multi-turn share, turn distribution, prefix sharing, token quantiles) |
| lmarena/arena-hard-auto @ 196f6b82 : data/arena-hard-v0.1/question.jsonl | Apache-2.0 | `prompts.json.gz` (`organic`, source `arena_hard`: all 500 prompts with their topic cluster) |
| yizhongw/self-instruct @ 0b26ccaa : human_eval/user_oriented_instructions.jsonl | Apache-2.0 | `prompts.json.gz` (`organic`, source `self_instruct_user`: all 252 instructions with their first instance input) |
| teknium1/GPTeacher @ 48107512 : Codegen/codegen-instruct.json, Roleplay/roleplay-simple-deduped-roleplay-instruct.json, Toolformer/toolformer-dedupe-only-dataset.json | MIT | `prompts.json.gz` (`instruction`, sources `gpteacher_*`: sampled instruction + input, truncated to 600 characters) |
| openai/grade-school-math @ 3101c7d5 : grade_school_math/data/train.jsonl | MIT | `prompts.json.gz` (`instruction`, source `gsm8k_train`: sampled questions) |
| yizhongw/self-instruct @ 0b26ccaa : data/seed_tasks.jsonl | Apache-2.0 | `prompts.json.gz` (`instruction`, source `self_instruct_seed_tasks`: all 175 tasks, instruction + first input) |

`prompts_wide.json.gz` holds a fixed-seed sample (at most 260 items per source, texts truncated to
600 characters, passages to 480) of every source below, for the evaluation splits
(`detector/simulate/splits.py` says which split reads which source; no source is in both). The
files were copied unchanged into the shared data folder from these repositories:

| source name | source (repository @ commit : path) | licence |
|---|---|---|
| arena_hard | lmarena/arena-hard-auto @ 196f6b82 : data/arena-hard-v0.1/question.jsonl | Apache-2.0 |
| sharegpt_first | ml-energy/leaderboard-v2 @ 4afc88da, 30c001fb : sharegpt/*.json (first user turns) | Apache-2.0 (repository); conversations published by their authors on sharegpt.com |
| sharegpt_multiturn | Marugannwg/ShareGPT92k_user_linguistic_mining @ 8186064b : sampled_enriched_data/*.json | MIT (repository); ShareGPT conversations |
| sharegpt_zh | shibing624/MedicalGPT @ 2f1008cf : data/sft/sharegpt_zh_1K_format.jsonl | Apache-2.0 |
| awesome_prompts | f/awesome-chatgpt-prompts @ 2ecbfc60 : prompts.csv; PlexPt/awesome-chatgpt-prompts-zh @ 367ed18b : prompts-zh.json | CC0-1.0; MIT |
| self_instruct_user | yizhongw/self-instruct @ 0b26ccaa : human_eval/user_oriented_instructions.jsonl | Apache-2.0 |
| instructionwild | XueFuzhao/InstructionWild @ 047fa6b9 : data_v2/user_*.jsonl, data/seed_prompts_ch.jsonl | non-commercial research only: internal simulation, not a product |
| nq_open | google-research-datasets/natural-questions @ fb26a307 : nq_open/*.jsonl (questions only) | CC BY-SA 3.0 |
| webquestions | brmson/dataset-factoid-webquestions @ 66889085 : main/*.json (questions only) | CC BY 4.0 |
| gpteacher_codegen, gpteacher_roleplay, gpteacher_toolformer | teknium1/GPTeacher @ 48107512 | MIT |
| gsm8k_train | openai/grade-school-math @ 3101c7d5 : grade_school_math/data/train.jsonl (train split only) | MIT |
| self_instruct_seed_tasks | yizhongw/self-instruct @ 0b26ccaa : data/seed_tasks.jsonl | Apache-2.0 |
| bbh | suzgunmirac/BIG-Bench-Hard @ 9ee07bd4 : bbh/*.json (inputs only) | MIT |
| svamp | arkilpatel/SVAMP @ 689d7cca : SVAMP.json | MIT |
| theoremqa | TIGER-AI-Lab/TheoremQA @ acfc9686 : theoremqa_test.json | MIT |
| folio, folio_premises | Yale-LILY/FOLIO @ 5d7bb84c : data/v0.0/folio-{train,validation}.jsonl | CC BY-SA 4.0 |
| nl2bash | TellinaTool/nl2bash @ 466c5fe8 : data/bash/all.nl | MIT |
| odex | zorazrw/odex @ 21308ea6 : data/{en,es,ja,ru}_test.jsonl | CC BY-SA 4.0 |
| exercism | exercism/problem-specifications @ 03f83310 : exercises/*/description.md | MIT |
| xquad | google-deepmind/xquad @ 7d30520c : xquad.*.json (non-English questions only) | CC BY-SA 4.0 |
| truthfulqa_multi | hitz-zentroa/truthfulqa-multi @ 11fe7473 : data/{es,ca,eu,gl}/validation.json | Apache-2.0 |
| bfcl_live | ShishirPatil/gorilla @ 6ea57973 : berkeley-function-call-leaderboard/bfcl_eval/data/BFCL_v4_live_*.json | Apache-2.0 |
| webarena | web-arena-x/webarena @ f62e0b99 : config_files/test.raw.json | Apache-2.0 |
| tau_bench | sierra-research/tau-bench @ 59a200c6 : historical_trajectories/gpt-4o-airline.json (first user turns) | MIT |
| react_fewshot | ysymyth/ReAct @ 6bdb3a1f : prompts/*.json | MIT |
| rag_rgb, rgb_passages, rgb_sentences | chen700564/RGB @ 65ec39e4 : data/{en,zh}_fact.json | CC BY-NC-SA 4.0: internal simulation only |
| rag_tatqa, tatqa_paragraphs | NExTplusplus/TAT-QA @ 870accc4 : dataset_raw/tatqa_dataset_dev.json | CC BY 4.0 |

Reserved evaluation sets (listed in `tests/unit/simulate/test_sim_data_sources.py`) are never read.

Copyright of the prompt texts stays with their authors; they are redistributed under the licences
above. The Azure trace is licensed under the Creative Commons Attribution 4.0 International licence
(CC-BY-4.0), © Microsoft Corporation. The sample sizes and the fixed seed are in the script.
"""


def main(argv: list[str] | None = None) -> None:
    """Read the shared data folder and write the derived files next to the simulator."""
    default = Path(__file__).resolve().parent.parent / ".." / "shared" / "data"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("data", nargs="?", type=Path, default=default, help="shared data folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")
    args = parser.parse_args(argv)
    root: Path = args.data.resolve()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    _write_gz_json(out / "servegen_profiles.json.gz", derive_servegen(root))
    _write_gz_json(
        out / "token_shapes.json.gz", {"mooncake": derive_mooncake(root), "azure": derive_azure(root)}
    )
    _write_gz_json(out / "prompts.json.gz", derive_prompts(root))
    _write_gz_json(out / "prompts_wide.json.gz", derive_wide_prompts(root))
    (out / "ATTRIBUTION.md").write_text(ATTRIBUTION)
    for path in sorted(out.iterdir()):
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
