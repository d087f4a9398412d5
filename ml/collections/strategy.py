"""The dunning strategy (``collections_strategy.yaml`` at the repository root), loaded and checked.

A mistake in the file fails loudly with the file, the key path and the rule: a strategy that silently
falls back to defaults would send the wrong letters.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_STRATEGY = REPO_ROOT / "collections_strategy.yaml"
ACTIONS = ("call", "reminder_email", "statement", "escalation", "pre_legal", "dispute_follow_up")
WORKLIST_ACTIONS = ACTIONS + ("postpone", "wait")
CHANNELS = ("email", "phone", "letter")
TIERS = ("critical", "high", "normal")
TONES = ("friendly", "firm")
PLACEHOLDERS = (
    "customer_name",
    "contact_greeting",
    "collector_name",
    "total",
    "currency",
    "invoice_table",
    "as_of",
)


class StrategyError(ValueError):
    pass


@dataclass(frozen=True)
class Level:
    min_days_overdue: int
    action: str
    channel: str
    template: str | None


@dataclass(frozen=True)
class Strategy:
    postpone_within_days: int
    postpone_min_share: float
    promise_grace_days: int
    min_days_between_contacts: int
    dispute_follow_up_after_days: int
    dispute_min_share: float
    first_reminder_days_overdue: int
    unanswered_reminders: int
    broken_promise_within_days: int
    urgency: dict[str, float]
    action_effect: dict[str, float]
    firm_tiers: tuple[str, ...]
    firm_days_overdue: int
    firm_after_broken_promises: int
    default_daily_capacity: int
    segments: dict[str, tuple[Level, ...]]
    templates: dict[str, dict[str, dict[str, str]]]  # template -> tone -> {subject, body}
    source: str = ""

    def levels(self, segment: str | None) -> tuple[Level, ...]:
        return self.segments.get(segment or "", self.segments["default"])

    def level_for(self, segment: str | None, days_overdue: int) -> Level | None:
        """The last level whose threshold ``days_overdue`` has reached (None: not yet the first)."""
        found = None
        for lv in self.levels(segment):
            if days_overdue >= lv.min_days_overdue:
                found = lv
        return found


def _get(d: dict, path: str, kind, src: str, *, minimum=None, maximum=None):
    cur = d
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            raise StrategyError(f"{src}: missing key '{path}'")
        cur = cur[part]
    if kind is float and isinstance(cur, int) and not isinstance(cur, bool):
        cur = float(cur)
    if not isinstance(cur, kind) or isinstance(cur, bool):
        raise StrategyError(f"{src}: '{path}' must be {kind.__name__}, got {cur!r}")
    if minimum is not None and cur < minimum:
        raise StrategyError(f"{src}: '{path}' must be >= {minimum}, got {cur!r}")
    if maximum is not None and cur > maximum:
        raise StrategyError(f"{src}: '{path}' must be <= {maximum}, got {cur!r}")
    return cur


def parse_strategy(doc: dict, src: str = "<strategy>") -> Strategy:
    if not isinstance(doc, dict):
        raise StrategyError(f"{src}: expected a mapping at the top level")
    if doc.get("version") != 1:
        raise StrategyError(f"{src}: 'version' must be 1, got {doc.get('version')!r}")
    urgency = _get(doc, "urgency", dict, src)
    for t in TIERS:
        _get(doc, f"urgency.{t}", float, src, minimum=0)
    effect = _get(doc, "action_effect", dict, src)
    for a in ACTIONS:
        _get(doc, f"action_effect.{a}", float, src, minimum=0, maximum=1)
    templates = _get(doc, "templates", dict, src)
    for name in templates:
        for tone in TONES:
            for part in ("subject", "body"):
                text = _get(doc, f"templates.{name}.{tone}.{part}", str, src)
                try:
                    text.format(**{p: "" for p in PLACEHOLDERS})
                except (KeyError, IndexError, ValueError) as e:
                    raise StrategyError(
                        f"{src}: 'templates.{name}.{tone}.{part}' uses an unknown placeholder {e}; "
                        f"allowed: {', '.join(PLACEHOLDERS)}"
                    ) from None
    segments_doc = _get(doc, "segments", dict, src)
    if "default" not in segments_doc:
        raise StrategyError(f"{src}: 'segments' needs a 'default' list")
    segments = {}
    for seg, levels in segments_doc.items():
        if not isinstance(levels, list) or not levels:
            raise StrategyError(f"{src}: 'segments.{seg}' must be a non-empty list of levels")
        out, last = [], -1
        for i, lv in enumerate(levels):
            where = f"segments.{seg}[{i}]"
            if not isinstance(lv, dict):
                raise StrategyError(f"{src}: '{where}' must be a mapping")
            days = lv.get("min_days_overdue")
            if not isinstance(days, int) or days <= last:
                raise StrategyError(
                    f"{src}: '{where}.min_days_overdue' must be an integer above the previous level's"
                )
            if lv.get("action") not in ACTIONS:
                raise StrategyError(
                    f"{src}: '{where}.action' must be one of {ACTIONS}, got {lv.get('action')!r}"
                )
            if lv.get("channel") not in CHANNELS:
                raise StrategyError(
                    f"{src}: '{where}.channel' must be one of {CHANNELS}, got {lv.get('channel')!r}"
                )
            tpl = lv.get("template")
            if tpl is not None and tpl not in templates:
                raise StrategyError(f"{src}: '{where}.template' names no template: {tpl!r}")
            out.append(Level(days, lv["action"], lv["channel"], tpl))
            last = days
        segments[seg] = tuple(out)
    firm_tiers = tuple(_get(doc, "tone.firm_tiers", list, src))
    bad = sorted(set(firm_tiers) - set(TIERS))
    if bad:
        raise StrategyError(f"{src}: 'tone.firm_tiers' has unknown tiers {bad}")
    return Strategy(
        postpone_within_days=_get(doc, "postpone.predicted_within_days", int, src, minimum=0),
        postpone_min_share=_get(doc, "postpone.predicted_min_share", float, src, minimum=0, maximum=1),
        promise_grace_days=_get(doc, "postpone.promise_grace_days", int, src, minimum=0),
        min_days_between_contacts=_get(doc, "min_days_between_contacts", int, src, minimum=0),
        dispute_follow_up_after_days=_get(doc, "dispute.follow_up_after_days", int, src, minimum=0),
        dispute_min_share=_get(doc, "dispute.min_share_of_overdue", float, src, minimum=0, maximum=1),
        first_reminder_days_overdue=_get(doc, "triggers.first_reminder_days_overdue", int, src, minimum=0),
        unanswered_reminders=_get(doc, "triggers.unanswered_reminders", int, src, minimum=1),
        broken_promise_within_days=_get(doc, "triggers.broken_promise_within_days", int, src, minimum=0),
        urgency={t: float(urgency[t]) for t in TIERS},
        action_effect={a: float(effect[a]) for a in ACTIONS},
        firm_tiers=firm_tiers,
        firm_days_overdue=_get(doc, "tone.firm_days_overdue", int, src, minimum=0),
        firm_after_broken_promises=_get(doc, "tone.firm_after_broken_promises", int, src, minimum=1),
        default_daily_capacity=_get(doc, "default_daily_capacity", int, src, minimum=1),
        segments=segments,
        templates={k: {t: dict(v[t]) for t in TONES} for k, v in templates.items()},
        source=src,
    )


def load_strategy(path: Path | None = None) -> Strategy:
    path = Path(path or DEFAULT_STRATEGY)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise StrategyError(f"{path}: not valid YAML: {e}") from None
    return parse_strategy(doc, str(path))
