"""`alignkit eval MODEL [--ref MODEL] [--rm MODEL] [--best-of N] [--compare MODEL] [--samples N] [--split test|validation]
[--json]`.

The harness from the command line: every metric with its standard error; with --compare, the paired
difference MODEL minus the other on the same prompts for every metric, with its verdict; with --best-of N,
the harness measures best-of-N under --rm (N responses drawn per prompt, the highest-scored one kept), whose KL
to MODEL is log N - (N - 1)/N.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace

from alignkit.infra.errors import AlignkitError
from alignkit.measure.best_of_n import best_of, kl_best_of_n
from alignkit.measure.evaluate import METRICS, REPORTING, EvalSettings, evaluate, paired_difference, summarise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a zoo name (base, sft, ...) or a directory saved with save_pretrained")
    parser.add_argument("--ref", help="reference model for kl_to_ref (zoo name or directory)")
    parser.add_argument("--rm", help="reward model for rm_score (zoo name or directory)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--format", choices=("auto", "chat", "document"), default="auto",
                        help="how prompts are shown; auto: the zoo manifest's format, else chat")
    parser.add_argument("--max-prompts", type=int, default=None, help="only the first N held-out prompts")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed")
    parser.add_argument("--temperature", type=float, default=None, help="sampling temperature (0: greedy)")
    parser.add_argument("--samples", type=int, default=REPORTING.samples_per_prompt,
                        help=f"responses per prompt (default {REPORTING.samples_per_prompt}: what the course reports)")
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="test: the prompts the course reports on; validation: where settings are chosen")
    parser.add_argument("--compare", help="a second model: paired differences MODEL minus it on the same prompts")
    parser.add_argument("--best-of", type=int, default=None, metavar="N",
                        help="best-of-N under --rm: draw N responses per prompt, measure the one the RM scores highest")


def prompt_format(name: str, requested: str) -> str:
    from alignkit import zoo

    if requested != "auto":
        return requested
    return zoo.info(name).get("format", "chat") if name in zoo.names() else "chat"


def _load(name: str, flag: str):
    """zoo.load, with anything a broken directory raises (a garbage config.json, say) turned into one
    AlignkitError line naming the model, instead of a traceback from deep inside transformers."""
    from alignkit import zoo

    try:
        return zoo.load(name)
    except AlignkitError:
        raise
    except Exception as err:  # noqa: BLE001 - transformers raises many types for a bad checkpoint
        detail = " ".join(str(err).split())[:200] or type(err).__name__
        raise AlignkitError(f"cannot load {flag} {name}: {detail}. Is its config.json the one save_pretrained "
                            "wrote? Re-save the model with model.save_pretrained(DIR) and "
                            "tokenizer.save_pretrained(DIR), or pass a zoo name.") from None


def _check_same_vocabulary(name: str, flag: str, model, tokenizer, other, other_tokenizer) -> None:
    # kl_to_ref and rm_score feed the policy's token ids to the other model: with another vocabulary
    # they would be garbage (or an index error), and only after all the sampling. Check first.
    same = (other_tokenizer.get_vocab() == tokenizer.get_vocab()
            and other.get_input_embeddings().num_embeddings == model.get_input_embeddings().num_embeddings)
    if not same:
        raise AlignkitError(f"{flag} {name} uses another vocabulary than the evaluated model "
                            f"({len(other_tokenizer)} vs {len(tokenizer)} tokens); pass a model trained with "
                            "the same tokenizer (e.g. its parent in the zoo).")


def _is_reward_model(model) -> bool:
    return type(model).__name__.endswith("ForSequenceClassification") or not hasattr(model, "generate")


def _check_role(name: str, flag: str, model) -> None:
    """The evaluated model and --ref must be language models; --rm must be a reward model (checked before any
    sampling: a reward model as the KL reference would print a meaningless kl_to_ref)."""
    if flag == "--rm" and not _is_reward_model(model):
        raise AlignkitError(f"--rm {name} is a language model, not a reward model; pass a reward model such as rm.")
    if flag != "--rm" and _is_reward_model(model):
        what = "the KL reference" if flag == "--ref" else "the evaluated model" if flag == "model" else "the compared model"
        raise AlignkitError(f"{flag} {name} is a reward model, but {what} must be a language model that generates "
                            f"(e.g. sft); pass a reward model as --rm {name}.")


def _check_chat_template(name: str, flag: str, tokenizer) -> None:
    """Render the checkpoint's chat template once: a hostile chat_template.jinja (the sandbox blocks it) or a
    broken one is one error line here, not a traceback after loading."""
    try:
        tokenizer.apply_chat_template([{"role": "user", "content": "Hello"}], tokenize=False, add_generation_prompt=True)
    except Exception as err:  # noqa: BLE001 - jinja2 raises SecurityError, TemplateError, TypeError, ...
        detail = " ".join(str(err).split())[:160]
        raise AlignkitError(f"the chat template of {flag} {name} cannot be used ({type(err).__name__}: {detail}). "
                            "Delete its chat_template.jinja (and chat_template from tokenizer_config.json) to use "
                            "the course's template, or re-save the tokenizer with alignkit.") from None


def _load_checked(name: str, flag: str):
    model, tokenizer = _load(name, flag)
    _check_role(name, flag, model)
    if flag != "--rm":
        _check_chat_template(name, flag, tokenizer)
    return model, tokenizer


def _json_safe(value):
    """NaN and infinity are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _differences(df, other_df, keys) -> dict:
    """Paired differences per metric; a metric the two runs cannot pair (empty on one side) says so alone."""
    out = {}
    for key in keys:
        try:
            out[key] = paired_difference(df, other_df, key)
        except AlignkitError as err:
            out[key] = {"key": key, "error": str(err)}
    return out


def _check_arguments(args: argparse.Namespace) -> None:
    if args.temperature is not None and not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise AlignkitError(f"--temperature must be a finite number ≥ 0 (0: greedy), not {args.temperature}.")
    if args.samples < 1:
        raise AlignkitError(f"--samples must be at least 1, not {args.samples}.")
    if args.best_of is not None and (args.best_of < 1 or not args.rm):
        raise AlignkitError("--best-of N needs N >= 1 and a reward model to choose with: --rm RM.")
    if args.max_prompts is not None and args.max_prompts < 1:
        raise AlignkitError(f"--max-prompts must be at least 1, not {args.max_prompts}; leave it out to use every "
                            "held-out prompt.")


def run(args: argparse.Namespace) -> int:
    from alignkit.core.profiles import setup

    _check_arguments(args)
    setup(seed=args.seed)
    model, tokenizer = _load_checked(args.model, "model")
    ref = rm = None
    for flag, name in (("--ref", args.ref), ("--rm", args.rm)):
        if name:
            other, other_tokenizer = _load(name, flag)
            _check_same_vocabulary(name, flag, model, tokenizer, other, other_tokenizer)
            _check_role(name, flag, other)
            ref, rm = (other, rm) if flag == "--ref" else (ref, other)
    sampling = replace(EvalSettings().sampling, seed=args.seed)
    if args.temperature is not None:
        sampling = replace(sampling, temperature=args.temperature)
    config = EvalSettings(sampling=sampling, prompt_format=prompt_format(args.model, args.format),
                        max_prompts=args.max_prompts, samples_per_prompt=args.best_of or args.samples,
                        split=args.split)
    summary, df = evaluate(model, tokenizer, ref_model=ref, reward_model=rm, config=config,
                           cloze=args.best_of is None)
    if args.best_of:
        df = best_of(df, args.best_of)  # one response per prompt: the RM's pick
        summary = summarise(df) | {"best_of": args.best_of, "kl_best_of_n": round(kl_best_of_n(args.best_of), 4)}
    summary = {"model": args.model, "prompt_format": config.prompt_format, "split": args.split} | summary
    if args.compare:
        other, other_tokenizer = _load_checked(args.compare, "--compare")
        other_config = replace(config, prompt_format=prompt_format(args.compare, args.format))
        _, other_df = evaluate(other, other_tokenizer, ref_model=ref, reward_model=rm, config=other_config, cloze=False)
        summary["compare"] = {"model": args.compare,
                              "differences": _differences(df, other_df, [key for key in METRICS if key in summary])}
    print(json.dumps(_json_safe(summary), allow_nan=False) if args.json else _table(summary))
    return 0


def _table(summary: dict) -> str:
    """One line per metric: value ± standard error; with --compare, the paired difference and its verdict."""
    values = {k: v for k, v in summary.items() if not k.endswith("_se") and k != "compare"}
    width = max(len(k) for k in values)
    lines = []
    for key, value in values.items():
        error = summary.get(f"{key}_se")
        lines.append(f"{key:<{width}}  {value}" + (f" ± {error}" if error is not None else ""))
    if "compare" in summary:
        lines.append(f"\nminus {summary['compare']['model']} (paired, same prompts):")
        for key, d in summary["compare"]["differences"].items():
            if "error" in d:
                lines.append(f"{key:<{width}}  not compared: {d['error']}")
                continue
            lines.append(f"{key:<{width}}  {d['difference']:+.4f} ± {d['se']:.4f}  {d['verdict']}")
    return "\n".join(lines)
