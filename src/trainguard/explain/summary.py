"""A public summary of a model's training content, in the structure of the EU AI
Office's template (July 2025) for the summary that Article 53(1)(d) of the AI Act
asks of providers of general-purpose AI models.

Its three sections follow the template's: 1. general information (provider,
model, modalities, size), 2. data sources by type (publicly available datasets,
private and licensed data, data crawled from the web, user data, synthetic
data, other), 3. data processing (how opt-outs were respected, what was
removed). Every number is counted from the manifests the model was registered
with — each manifest's Merkle root checked against the one recorded at
registration — never typed in. What trainguard does not record (tokens,
machine-readable reservations of web content, removal of illegal content) is
said to be not recorded, not guessed.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from ..decision.decide import REASON_TEXT
from ..errors import IntegrityError
from ..gate.decisions import REGISTERED_CUSTOMER_CONTENT
from ..gate.manifest import manifest_tree, read_manifest
from ..lineage import Model, get_model
from ..timeutil import format_instant, now_utc

if TYPE_CHECKING:
    from ..store import Store

SUMMARY_FORMAT = "trainguard.training-summary/1"
TEMPLATE = (
    "EU AI Office, Template for the Public Summary of Training Content for "
    "general-purpose AI models (Article 53(1)(d) of Regulation (EU) 2024/1689), July 2025"
)
NOT_STATED = "not stated"

# The template's source types, in its order, with the section numbers it gives them.
SOURCE_TYPES: dict[str, tuple[str, str]] = {
    "publicly_available_datasets": ("2.1", "Publicly available datasets"),
    "private_and_licensed_data": (
        "2.2",
        "Private non-publicly available datasets obtained from third parties",
    ),
    "web_crawled_data": ("2.3", "Data crawled and scraped from online sources"),
    "user_data": ("2.4", "User data"),
    "synthetic_data": ("2.5", "Synthetic data"),
    "other": ("2.6", "Other sources of data"),
}
_SOURCE_OF_CATEGORY = {
    "external.public_web": "web_crawled_data",
    "external.licensed": "private_and_licensed_data",
    "external.synthetic": "synthetic_data",
}
# Content of the provider's customers and data about their use of the service are
# both data of users of the provider's services.
_USER_PREFIXES = ("customer.", "service.")

# Modality as far as a category tells it; anything else is "other".
_MODALITY_OF_CATEGORY = {
    "customer.audio": "audio",
    "customer.video": "video",
    "customer.recording": "video",
    "customer.screen_share": "video",
    "customer.whiteboard": "image",
    "customer.chat": "text",
    "customer.transcript": "text",
    "customer.poll_result": "text",
    "customer.reaction": "text",
    "customer.ai_output": "text",
    "external.public_web": "text",
}
MODALITIES = ("text", "image", "audio", "video", "other")

_EXTRA_REASONS = {
    REGISTERED_CUSTOMER_CONTENT: "its content matched the registry of customer content",
}


def source_type(category: str) -> str:
    if category in _SOURCE_OF_CATEGORY:
        return _SOURCE_OF_CATEGORY[category]
    if category.startswith(_USER_PREFIXES):
        return "user_data"
    return "other"


def reason_text(reason: str) -> str:
    return REASON_TEXT.get(reason) or _EXTRA_REASONS.get(reason) or reason


@dataclass
class ManifestCounts:
    """What the manifests of one model hold, counted from their rows."""

    records: int = 0
    admitted: Counter[str] = field(default_factory=Counter)  # category set -> records
    kept_out: Counter[str] = field(default_factory=Counter)  # category set -> records
    kept_out_reasons: Counter[str] = field(default_factory=Counter)  # reason -> records
    latest_collected: datetime | None = None
    scanned: bool = False


def count_manifests(model: Model, tenant: str | None = None) -> ManifestCounts:
    """Count the rows of every manifest of ``model``, after checking each root; with
    ``tenant``, only that tenant's rows."""
    out = ManifestCounts()
    for part in model.manifests:
        meta, table = read_manifest(part.path)
        if manifest_tree(table).root().hex() != part.root:
            raise IntegrityError(
                f"model {model.name!r}: manifest {part.path} changed since it was registered"
            )
        out.scanned = out.scanned or bool(meta.get("scan"))
        if tenant is not None:
            table = table.filter(pc.field("tenant") == tenant)
        out.records += table.num_rows
        labels = pc.binary_join(table.column("categories"), "+")
        allowed = table.column("allowed")
        out.admitted.update(_value_counts(labels.filter(allowed)))
        denied = pc.invert(allowed)
        out.kept_out.update(_value_counts(labels.filter(denied)))
        reasons = pc.list_flatten(table.column("reasons").filter(denied))
        out.kept_out_reasons.update(_value_counts(reasons))
        latest = pc.max(table.column("collected_at").filter(allowed)).as_py()
        if latest is not None and (out.latest_collected is None or latest > out.latest_collected):
            out.latest_collected = latest
    return out


def _value_counts(values: pa.Array | pa.ChunkedArray) -> dict[str, int]:
    counted = pc.value_counts(values)
    return {
        str(v["values"]): int(v["counts"]) for v in counted.to_pylist() if v["values"] is not None
    }


def training_summary(
    store: Store,
    model_name: str,
    provider: str | None = None,
    contact: str | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The public summary of ``model_name``'s training content (JSON-ready). With
    ``tenant``, the part of it that is that tenant's: every number counted over
    that tenant's records only, so it tells nothing of any other tenant's."""
    model = get_model(store, model_name)
    counts = count_manifests(model, tenant)
    taxonomy = store.taxonomy()
    admitted_total = sum(counts.admitted.values())

    def by_category(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {
                "categories": label.split("+"),
                "described": [taxonomy.categories.get(c, c) for c in label.split("+")],
                "records": n,
            }
            for label, n in sorted(counter.items())
        ]

    modalities: Counter[str] = Counter()
    for label, n in counts.admitted.items():
        for m in {_MODALITY_OF_CATEGORY.get(c, "other") for c in label.split("+")}:
            modalities[m] += n
    sources = {key: _source(key, counts, taxonomy.categories) for key in SOURCE_TYPES}
    return {
        "format": SUMMARY_FORMAT,
        "template": TEMPLATE,
        "generated_at": format_instant(now_utc()),
        "tenant": tenant,
        "general_information": {
            "provider": {"name": provider or NOT_STATED, "contact": contact or NOT_STATED},
            "model": {
                "name": model.name,
                "trained_at": format_instant(model.trained_at) if model.trained_at else None,
                "registered_at": format_instant(model.registered_at),
                "manifests": [
                    {"root": m.root, "use": m.use, "gated_at": format_instant(m.at)}
                    for m in model.manifests
                ],
            },
            "modalities": {m: modalities[m] for m in MODALITIES if modalities[m]},
            "training_data_size": {
                "unit": "records",
                "records_trained_on": admitted_total,
                "records_considered": counts.records,
                "records_kept_out": counts.records - admitted_total,
                "tokens": "not recorded by trainguard",
            },
            "latest_collection": (
                format_instant(counts.latest_collected) if counts.latest_collected else None
            ),
            "categories_trained_on": by_category(counts.admitted),
        },
        "data_sources": {
            **sources,
            "user_data": {**sources["user_data"], "answer": _user_data_answer(sources)},
        },
        "data_processing": _processing(counts, by_category(counts.kept_out)),
    }


def _source(key: str, counts: ManifestCounts, described: Mapping[str, str]) -> dict[str, Any]:
    def of_type(counter: Counter[str]) -> dict[str, int]:
        return {
            label: n
            for label, n in sorted(counter.items())
            if any(source_type(c) == key for c in label.split("+"))
        }

    used, kept = of_type(counts.admitted), of_type(counts.kept_out)
    number, title = SOURCE_TYPES[key]
    return {
        "section": number,
        "title": title,
        "used": bool(used),
        "records": sum(used.values()),
        "records_kept_out": sum(kept.values()),
        "categories": sorted(
            {
                described.get(c, c)
                for label in used
                for c in label.split("+")
                if source_type(c) == key
            }
        ),
    }


def _user_data_answer(sources: dict[str, Any]) -> str:
    user = sources["user_data"]
    if user["used"]:
        return (
            f"Yes: {user['records']:,} of the records the model was trained on are data of "
            f"users of the provider's services ({', '.join(user['categories'])}); each was "
            "admitted by the gate under the terms and consent on record for that use; "
            f"{user['records_kept_out']:,} such records were kept out."
        )
    return (
        "No: none of the records the model was trained on is data of users of the "
        f"provider's services; {user['records_kept_out']:,} such records were considered "
        "and kept out."
    )


def _processing(counts: ManifestCounts, kept_out: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(counts.kept_out.values())
    reasons = [
        {"reason": r, "means": reason_text(r), "records": n}
        for r, n in sorted(counts.kept_out_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    respected = (
        "Every record was decided before training under the terms in force when it was "
        "collected and when it was used, and the consent on record, withdrawals included; "
        f"{total:,} records were kept out (reasons below; a record kept out for two reasons "
        "counts under both)."
    )
    if counts.scanned:
        respected += (
            " Records whose content matched the registry of customer content were kept out too."
        )
    return {
        "opt_outs_respected": respected,
        "records_kept_out": total,
        "kept_out_by_reason": reasons,
        "kept_out_by_category": kept_out,
        "registry_scan": counts.scanned,
        "text_and_data_mining_reservations": "not recorded by trainguard",
        "illegal_content_removal": "not recorded by trainguard",
    }


# --- HTML -----------------------------------------------------------------------------------


def summary_html(summary: dict[str, Any]) -> str:
    """The summary as one self-contained HTML page."""
    e = html.escape
    g = summary["general_information"]
    size = g["training_data_size"]
    model = g["model"]
    tenant = summary.get("tenant")
    scope = (
        f'<p class="meta">Counted over the records of tenant {e(tenant)} only.</p>'
        if tenant
        else ""
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Training content of {e(model['name'])}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Public summary of the training content of {e(model['name'])}</h1>",
        f'<p class="meta">In the structure of the {e(summary["template"])}. Generated '
        f"{e(summary['generated_at'])} by trainguard from the model's gate manifests.</p>",
        scope,
        "<h2>1. General information</h2>",
        "<h3>1.1 Provider</h3>",
        _table([("Name", g["provider"]["name"]), ("Contact", g["provider"]["contact"])], head=None),
        "<h3>1.2 Model</h3>",
        _table(
            [
                ("Model", model["name"]),
                ("Trained at", model["trained_at"] or NOT_STATED),
                ("Manifests (Merkle roots)", ", ".join(m["root"][:16] for m in model["manifests"])),
            ],
            head=None,
        ),
        "<h3>1.3 Modalities, size and other characteristics</h3>",
        _table(
            [(m, f"{n:,} records") for m, n in g["modalities"].items()], head=("Modality", "Size")
        ),
        _table(
            [
                ("Records trained on", f"{size['records_trained_on']:,}"),
                ("Records considered", f"{size['records_considered']:,}"),
                ("Records kept out", f"{size['records_kept_out']:,}"),
                ("Size in tokens", size["tokens"]),
                ("Latest collection", g["latest_collection"] or NOT_STATED),
            ],
            head=None,
        ),
        _table(
            [(", ".join(c["described"]), f"{c['records']:,}") for c in g["categories_trained_on"]],
            head=("Kind of content trained on", "Records"),
        ),
        "<h2>2. List of data sources</h2>",
    ]
    for s in summary["data_sources"].values():
        used = f"Yes: {s['records']:,} records" if s["used"] else "No"
        out.append(f"<h3>{e(s['section'])} {e(s['title'])}</h3><p>Used: {e(used)}")
        if s["categories"]:
            out.append(f" ({e(', '.join(s['categories']))})")
        out.append("</p>")
        if "answer" in s:
            out.append(f"<p><strong>Data of users of the provider's services:</strong> "
                       f"{e(s['answer'])}</p>")  # fmt: skip
    p = summary["data_processing"]
    out += [
        "<h2>3. Data processing aspects</h2>",
        "<h3>3.1 Opt-outs and reservations</h3>",
        f"<p>{e(p['opt_outs_respected'])}</p>",
        _table(
            [
                (f"{r['reason']}: {r['means']}", f"{r['records']:,}")
                for r in p["kept_out_by_reason"]
            ],
            head=("Kept out because", "Records"),
        ),
        _table(
            [(", ".join(c["described"]), f"{c['records']:,}") for c in p["kept_out_by_category"]],
            head=("Kind of content kept out", "Records"),
        ),
        f"<p>Reservations of rights in web content (text and data mining): "
        f"{e(p['text_and_data_mining_reservations'])}.</p>",
        "<h3>3.2 Removal of illegal content</h3>",
        f"<p>{e(p['illegal_content_removal'].capitalize())}.</p>",
        "</main></body></html>",
    ]
    return "\n".join(out) + "\n"


def _table(rows: list[tuple[str, str]], head: tuple[str, str] | None) -> str:
    e = html.escape
    if not rows:
        return "<p>None.</p>"
    parts = ["<table>"]
    if head:
        parts.append(f"<tr><th>{e(head[0])}</th><th>{e(head[1])}</th></tr>")
    parts += [f"<tr><td>{e(a)}</td><td>{e(b)}</td></tr>" for a, b in rows]
    parts.append("</table>")
    return "".join(parts)


_CSS = (
    "body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}"
    "main{max-width:52rem;margin:2rem auto;padding:0 1rem}h2{margin-top:2rem;"
    "border-bottom:2px solid #dde1e8}h3{margin-bottom:.3rem}table{border-collapse:collapse;"
    "margin:.5rem 0;background:#fff}td,th{border:1px solid #dde1e8;padding:.3rem .7rem;"
    "text-align:left}th{background:#eef1f5}.meta{color:#4a5263;font-size:.9rem}"
)
