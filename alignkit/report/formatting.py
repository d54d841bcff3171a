"""One formatting rule for every table and number the package prints as text, Markdown or HTML.

    number(14343.0)               # '14,343'
    number(0.2065493117918027)    # '0.207'
    number(2634.000318, "s")      # '2,634 s'
    number(0.5354, se=0.0284)     # '0.535 ± 0.028'
    money_markdown("$14,343")     # '<span>&#36;</span>14,343': a dollar, never the start of LaTeX

Rule: integers (and floats that are whole and large) get thousands separators; other numbers three
significant digits, never scientific notation below a million; a standard error is shown to the
same decimal places as its value; units follow a space. NaN reads "not measured".

JupyterLab, the classic notebook and GitHub read `$…$` in Markdown (and MathJax in HTML outputs) as LaTeX.
money_markdown writes each dollar as an HTML entity inside its own span: no `$` reaches the Markdown parser
(so no math span opens), and no two dollars share a text node (so MathJax cannot pair them).
"""
from __future__ import annotations

import math

__all__ = ["number", "money_markdown", "money_text", "NOT_MEASURED"]

NOT_MEASURED = "not measured"
DOLLAR_MARKDOWN = "<span>&#36;</span>"


def _decimals(value: float, digits: int = 3) -> int:
    if value == 0 or not math.isfinite(value):
        return 0
    return max(0, digits - 1 - math.floor(math.log10(abs(value))))


def number(value, unit: str = "", *, se=None, digits: int = 3) -> str:
    """`value` rounded by the rule above, with `unit` after a space and `± se` when given."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NOT_MEASURED
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 100):
        text = f"{int(value):,}"
        places = 0
    else:
        value = float(value)
        places = _decimals(value, digits) if abs(value) < 1000 else 0
        text = f"{value:,.{places}f}"
    if se is not None and not (isinstance(se, float) and math.isnan(se)):
        se_places = max(places, _decimals(float(se), 2)) if abs(float(value)) < 1000 else 0
        text = f"{float(value):,.{se_places}f} ± {float(se):,.{se_places}f}"
    return f"{text} {unit}" if unit else text


def money_text(amount: float) -> str:
    """A dollar amount as plain text: "$14,343"."""
    return f"${amount:,.0f}" if abs(amount) >= 10 else f"${amount:.2g}"


def money_markdown(text: str) -> str:
    """`text` with every "$" written so that Markdown and MathJax show it as a dollar sign."""
    return text.replace("$", DOLLAR_MARKDOWN)


def words(name: str) -> str:
    """A column or row identifier in words: "label_cost_low_usd" -> "Label cost low (USD)"."""
    text = str(name)
    unit = ""
    for suffix, said in (("_usd", "USD"), ("_bytes", "bytes"), ("_seconds", "s"), ("_se", "SE")):
        if text.endswith(suffix):
            text, unit = text[: -len(suffix)], said
            break
    acronyms = {"ai": "AI", "kl": "KL", "rm": "RM", "sft": "SFT", "ppo": "PPO", "dpo": "DPO", "kto": "KTO",
                "lr": "learning-rate", "usd": "USD", "se": "SE"}
    text = " ".join(acronyms.get(w, w) for w in text.replace("_", " ").split())
    text = text[:1].upper() + text[1:]
    return f"{text} ({unit})" if unit else text


def readable(frame, units: dict | None = None, *, rename: bool = True):
    """A copy of a DataFrame for reading: every number by `number` (with its unit from `units`, e.g.
    {"train_seconds": "s"}), a column `x_se` folded into `x` as "value ± se", and names in words.

    Markdown-safe: dollar amounts are written "USD", never "$" (which JupyterLab and GitHub read as LaTeX).
    """
    import pandas as pd

    units = units or {}
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if str(column).endswith("_se") and str(column)[:-3] in frame.columns:
            continue
        se = frame[f"{column}_se"] if f"{column}_se" in frame.columns else None
        unit = units.get(column, "")  # a name ending _usd, _bytes or _seconds carries its unit in the header
        values = []
        for key, value in frame[column].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                err = None if se is None else se[key]
                values.append(number(value, unit, se=err))
            else:
                values.append(value)
        out[words(column) if rename else column] = values
    if rename and out.index.name:
        out.index.name = words(out.index.name)
    return out
