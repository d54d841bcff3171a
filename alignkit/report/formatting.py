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
