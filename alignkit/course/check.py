"""Exercise checkers: run the learner's function and the course's reference on fixed cases.

    check(my_loss, alignkit_loss, cases_for("dpo_loss"))

prints one ✓/✗ line per case with a specific hint — wrong shape (both shapes named), NaN/inf, a sign
error, a mean where a sum belongs (or the reverse, off by a size of the inputs), a scale factor such
as a forgotten `beta`, a wrong type, or the exception the function raised — and returns whether every
case passed. It never raises (except on Ctrl-C), so a notebook with an unfinished exercise still runs
top to bottom in CI.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import torch

__all__ = ["check", "cases_for", "EXERCISES"]

Factor = tuple[str, "float | torch.Tensor"]


def _copy_case(case: dict) -> dict:
    # Fresh copies per call, so a function that edits its inputs in place cannot change the other's.
    return {k: v.detach().clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in case.items()}


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return (text[0][:200] if text else "").strip()


def _as_tensor(value: Any, want_tensor: bool) -> tuple[torch.Tensor | None, str | None]:
    """(float64 tensor, None) or (None, why the type is wrong)."""
    if isinstance(value, torch.Tensor):
        if value.is_complex():
            return None, "wrong type: a complex tensor"
        return value.detach().to(torch.float64).cpu(), None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if want_tensor:
            return None, "wrong type: expected a torch.Tensor, got a Python number (did you call .item()?)"
        return torch.tensor(float(value), dtype=torch.float64), None
    if value is None:
        return None, "your function returned None: did you forget `return`?"
    expected = "a torch.Tensor" if want_tensor else "a number"
    return None, f"wrong type: expected {expected}, got {type(value).__name__}"


def _is_mask(t: torch.Tensor) -> bool:
    return t.dtype == torch.bool or (t.numel() > 0 and bool(((t == 0) | (t == 1)).all()))


def _factors(case: dict) -> list[Factor]:
    """Sizes and counts a mean-vs-sum or scale mistake would multiply or divide by, most telling first."""
    counts: list[Factor] = []
    sizes: list[Factor] = []
    for name, value in case.items():
        if isinstance(value, torch.Tensor):
            if _is_mask(value) and value.numel():
                counts.append((f"{name}.sum(-1)", value.to(torch.float64).sum(-1)))
                if value.dim() >= 2:
                    counts.append((f"{name}[:, 1:].sum()", float(value[:, 1:].sum())))
                counts.append((f"{name}.sum()", float(value.sum())))
            if value.dim() >= 2:
                shifted = value.shape[0] * (value.shape[1] - 1)  # positions that predict a next token
                counts.append((f"the number of predicted positions in {name}", float(shifted)))
                counts.append((f"the number of positions in {name}", float(value.shape[:-1].numel())))
            counts.append((f"{name}.numel()", float(value.numel())))
            sizes += [(f"{name}.shape[{d}]", float(s)) for d, s in enumerate(value.shape)]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            sizes.append((name, float(value)))
    return [(label, f) for label, f in counts + sizes if isinstance(f, torch.Tensor) or abs(f) not in (0.0, 1.0)]


def _close(a: torch.Tensor, b: torch.Tensor, atol: float, rtol: float) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _scale_hint(got: torch.Tensor, exp: torch.Tensor, case: dict, atol: float, rtol: float) -> str | None:
    for label, factor in _factors(case):
        if isinstance(factor, torch.Tensor):
            if factor.shape != exp.shape or not bool((factor != 0).all()):
                continue
        if _close(got, exp / factor, atol, rtol):
            if isinstance(factor, float) and label in case:
                return f"yours is the expected divided by {label} (= {factor:g}): is a `{label}` factor missing?"
            return f"mean vs sum: yours is the expected divided by {label}; a mean where a sum is expected?"
        if _close(got, exp * factor, atol, rtol):
            if isinstance(factor, float) and label in case:
                return f"yours is the expected times {label} (= {factor:g}): is `{label}` applied twice?"
            return f"mean vs sum: yours is the expected times {label}; a sum where a mean is expected?"
    return None


def _compare_tensor(got: Any, expected: Any, case: dict, atol: float, rtol: float) -> tuple[bool, str]:
    exp, _ = _as_tensor(expected, want_tensor=False)
    value, why = _as_tensor(got, want_tensor=isinstance(expected, torch.Tensor))
    if value is None:
        return False, why
    if not isinstance(expected, torch.Tensor) and value.numel() == 1:
        value = value.reshape(())  # a number may come back as a one-element tensor
    if value.shape != exp.shape:
        hint = " (a reduction is missing?)" if value.numel() > exp.numel() else " (reduced too much?)"
        return False, f"shape mismatch: yours {tuple(value.shape)} vs expected {tuple(exp.shape)}{hint}"
    if not bool(torch.isfinite(value).all()) and bool(torch.isfinite(exp).all()):
        kind = "NaN" if bool(torch.isnan(value).any()) else "inf"
        return False, f"your result contains {kind}: look for log(0), division by zero or exp overflow (logsigmoid / log_softmax are stable)"
    if _close(value, exp, atol, rtol):
        return True, "matches"
    if bool((exp.abs() > atol).any()) and _close(value, -exp, atol, rtol):
        return False, "sign error: yours is the negative of the expected value"
    hint = _scale_hint(value, exp, case, atol, rtol)
    if hint:
        return False, hint
    diff = (value - exp).abs()
    wrong = int((diff > atol + rtol * exp.abs()).sum())
    return False, f"values differ: max abs difference {float(diff.max()):.3g} ({wrong} of {exp.numel()} elements off)"


def _compare(got: Any, expected: Any, case: dict, atol: float, rtol: float) -> tuple[bool, str]:
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return False, f"wrong type: expected a tuple of {len(expected)} results, got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            ok, message = _compare(g, e, case, atol, rtol)
            if not ok:
                return False, f"result [{i}]: {message}"
        return True, "matches"
    return _compare_tensor(got, expected, case, atol, rtol)


def _check_case(student_fn: Callable, reference_fn: Callable, case: Any, atol: float, rtol: float) -> tuple[bool, str]:
    if not isinstance(case, dict):
        return False, "a case must be a dict of keyword arguments (a course bug: please report it)"
    try:
        expected = reference_fn(**_copy_case(case))
    except Exception as err:  # noqa: BLE001 - a broken reference is reported as a course bug, not raised
        return False, f"the reference raised {type(err).__name__}: {_first_line(err)} (a course bug: please report it)"
    try:
        got = student_fn(**_copy_case(case))
    except KeyboardInterrupt:
        raise
    except NotImplementedError:
        return False, "not implemented yet: replace `raise NotImplementedError` with your code"
    except BaseException as err:  # noqa: BLE001 - a learner's bug must not stop the notebook
        return False, f"your function raised {type(err).__name__}: {_first_line(err)}"
    return _compare(got, expected, case, atol, rtol)


def check(student_fn: Callable, reference_fn: Callable, cases: Iterable[dict], *, atol: float = 1e-5,
          rtol: float = 1e-4, name: str | None = None) -> bool:
    """Compare `student_fn(**case)` with `reference_fn(**case)` for every case; print ✓/✗ lines.

    Returns True only if every case matches. Never raises (except KeyboardInterrupt).
    """
    title = name or getattr(student_fn, "__name__", "your function")
    try:
        cases = list(cases)
    except Exception as err:  # noqa: BLE001 - check never raises: unreadable cases are reported
        print(f"✗ {title}: the cases could not be read ({type(err).__name__}; a course bug: please report it)")
        return False
    passed = 0
    for number, case in enumerate(cases, 1):
        try:
            ok, message = _check_case(student_fn, reference_fn, case, atol, rtol)
        except KeyboardInterrupt:
            raise
        except Exception as err:  # noqa: BLE001 - e.g. an output whose comparison itself fails
            ok, message = False, f"could not compare the result ({type(err).__name__}: {_first_line(err)})"
        passed += ok
        print(f"{'✓' if ok else '✗'} case {number}: {message}")
    all_ok = bool(cases) and passed == len(cases)
    verdict = "all correct ✓" if all_ok else "not yet ✗ — read the hints above and try again"
    print(f"{title}: {passed}/{len(cases)} cases passed, {verdict}")
    return all_ok


# --- the course's exercises: fixed, deterministic inputs (argument names follow the papers / TRL) ---

def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _next_token_cases() -> list[dict]:
    """logits (B, T, V), input_ids (B, T) → mean cross-entropy of logits[:, t] predicting input_ids[:, t+1]."""
    return [{"logits": torch.randn(b, t, v, generator=_gen(s)), "input_ids": torch.randint(v, (b, t), generator=_gen(s + 1))}
            for s, (b, t, v) in enumerate([(2, 5, 7), (3, 4, 11), (1, 6, 9)])]


def _completion_cases() -> list[dict]:
    """+ completion_mask (B, T), 1 on response tokens → mean loss over predicted response tokens only."""
    cases = _next_token_cases()
    masks = [[[0, 0, 1, 1, 1], [0, 0, 0, 1, 1]], [[0, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 1]], [[0, 0, 0, 1, 1, 1]]]
    for case, mask in zip(cases, masks):
        case["completion_mask"] = torch.tensor(mask)
    return cases


def _bt_cases() -> list[dict]:
    """chosen_rewards (B,), rejected_rewards (B,) → mean of −log σ(r_w − r_l)."""
    return [{"chosen_rewards": torch.randn(n, generator=_gen(10 + n)), "rejected_rewards": torch.randn(n, generator=_gen(20 + n))}
            for n in (4, 7)]


def _gae_cases() -> list[dict]:
    """rewards (B, T), values (B, T), gamma, lam → advantages (B, T); the value after the last token is 0."""
    return [{"rewards": torch.randn(b, t, generator=_gen(30 + t)), "values": torch.randn(b, t, generator=_gen(40 + t)),
             "gamma": 1.0, "lam": lam} for b, t, lam in [(2, 5, 0.95), (3, 4, 0.9)]]


def _kl_cases() -> list[dict]:
    """logprobs (B, T), ref_logprobs (B, T) of sampled tokens → per-token k3 = (r − 1) − log r, r = p_ref/p."""
    return [{"logprobs": -torch.rand(b, t, generator=_gen(50 + t)) * 3, "ref_logprobs": -torch.rand(b, t, generator=_gen(60 + t)) * 3}
            for b, t in [(2, 6), (3, 3)]]


def _dpo_cases() -> list[dict]:
    """policy_/reference_ chosen/rejected logps (B,) summed over completion tokens, beta → DPO loss."""
    names = ("policy_chosen_logps", "policy_rejected_logps", "reference_chosen_logps", "reference_rejected_logps")
    return [{**{k: -torch.rand(n, generator=_gen(70 + 10 * n + i)) * 20 for i, k in enumerate(names)}, "beta": beta}
            for n, beta in [(4, 0.1), (6, 0.5)]]


def _kto_cases() -> list[dict]:
    """policy_logps, reference_logps (B,), labels (B,) bool desirable, kl_policy_logps,
    kl_reference_logps (B,) on mismatched pairs, beta, desirable_weight, undesirable_weight → KTO loss."""
    cases = []
    for n, beta, lam_d in [(4, 0.1, 1.0), (6, 0.5, 1.33)]:
        logps = [-torch.rand(n, generator=_gen(90 + 10 * n + i)) * 20 for i in range(4)]
        labels = torch.arange(n) % 2 == 0
        cases.append({"policy_logps": logps[0], "reference_logps": logps[1], "labels": labels,
                      "kl_policy_logps": logps[2], "kl_reference_logps": logps[3], "beta": beta,
                      "desirable_weight": lam_d, "undesirable_weight": 1.0})
    # The policy has moved below the reference on the mismatched pairs (mean KL log-ratio < 0): a z0
    # without the clamp at 0 gives a different loss here.
    policy, reference = -torch.rand(4, generator=_gen(200)) * 20, -torch.rand(4, generator=_gen(201)) * 20
    cases.append({"policy_logps": policy, "reference_logps": reference, "labels": torch.tensor([True, False, False, True]),
                  "kl_policy_logps": reference - 2.0, "kl_reference_logps": reference, "beta": 0.5,
                  "desirable_weight": 1.0, "undesirable_weight": 1.0})
    return cases


def _two_order_cases() -> list[dict]:
    """first_as_a (B, 2), first_as_b (B, 2): log p("(A)"), log p("(B)") with the first response shown as (A),
    then as (B) → P(first better) (B,), each order normalised over its two options, the orders averaged."""
    cases = [{"first_as_a": torch.randn(n, 2, generator=_gen(300 + n)) * 3 - 5,
              "first_as_b": torch.randn(n, 2, generator=_gen(310 + n)) * 3 - 5} for n in (4, 7)]
    # A model that always prefers position (A): the answer must be 0.5, whatever the options say.
    cases.append({"first_as_a": torch.tensor([[-1.0, -3.0]]), "first_as_b": torch.tensor([[-1.0, -3.0]])})
    return cases


EXERCISES: dict[str, Callable[[], list[dict]]] = {
    "next_token_loss": _next_token_cases,  # 01_pretraining
    "completion_only_loss": _completion_cases,  # 02_sft
    "bradley_terry_loss": _bt_cases,  # 03_reward_modeling
    "gae_advantages": _gae_cases,  # 04_ppo_rlhf
    "k3_kl": _kl_cases,  # 04_ppo_rlhf
    "two_order_preference": _two_order_cases,  # 05_constitutional_ai
    "dpo_loss": _dpo_cases,  # 06_dpo
    "kto_loss": _kto_cases,  # 07_kto
}


def cases_for(exercise: str) -> list[dict]:
    """The fixed cases of a course exercise (their keyword arguments are in each builder's docstring)."""
    if exercise not in EXERCISES:
        raise KeyError(f"no exercise {exercise!r}; known: {', '.join(EXERCISES)}")
    return EXERCISES[exercise]()
