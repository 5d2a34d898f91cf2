"""``affectkit`` command line: thin commands, each calling one library function."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup

from affectkit.exceptions import AffectkitError, InvalidInputError, UnknownModelError


class _HelpFlag:
    """``--help`` without the ``<bool>`` type column that Typer shows for flags (ours set ``metavar=""``)."""

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        if option is not None:
            option.metavar = ""
        return option


class _Command(_HelpFlag, TyperCommand):
    pass


class _Group(_HelpFlag, TyperGroup):
    pass


app = typer.Typer(
    cls=_Group,
    name="affectkit",
    help="Sentiment analysis and emotion recognition: analyze texts, train, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

EXIT_INPUT = 2  # bad input or usage, as Click uses for usage errors
EXIT_ERROR = 1


#: What a command reports as a one-line error instead of a traceback. Not a bare ``KeyError``: the
#: library raises :class:`InvalidInputError` (or :class:`UnknownModelError`) for a name the user got
#: wrong, so a ``KeyError`` that gets here is a bug and shows its traceback.
REPORTED_ERRORS: tuple[type[BaseException], ...] = (AffectkitError, OSError, ValueError)


#: Library parameters that the CLI spells as flags: an error names the flag the user typed.
_FLAGS = re.compile(r"'?\b(text_col|label_col|labels_col|label_cols|val_fraction|batch_size|aspect_model)\b'?")


def _as_flags(message: str) -> str:
    return _FLAGS.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)


def _fail(exc: BaseException) -> typer.Exit:
    bad_input = isinstance(exc, InvalidInputError | UnknownModelError | FileNotFoundError)
    # escaped: rich would take "affectkit[serve]" in a message for a style tag and drop it
    err.print(f"[bold red]Error:[/bold red] {escape(_as_flags(str(exc)))}", markup=True, highlight=False)
    return typer.Exit(EXIT_INPUT if bad_input else EXIT_ERROR)


def _reports_errors(
    command: Callable[..., Any] | None = None, *, errors: tuple[type[BaseException], ...] = REPORTED_ERRORS
) -> Any:
    """Decorate a command (under ``@app.command()``): ``errors`` become ``Error: ...`` on stderr and exit
    code 2 (bad input: invalid input, unknown model, missing file) or 1; anything else is a bug and
    keeps its traceback. ``functools.wraps`` keeps the signature Typer reads the options from."""
    if command is None:
        return functools.partial(_reports_errors, errors=errors)

    @functools.wraps(command)
    def reporting(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except errors as exc:
            raise _fail(exc) from None

    return reporting


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", metavar="", help="Log progress details to stderr.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


@contextlib.contextmanager
def _no_empty_leftover(folder: Path | None):
    """Run a command that writes ``folder``: when it fails, a folder it created and left empty goes."""
    existed = folder is None or folder.exists()
    try:
        yield
    except BaseException:
        if not existed and folder is not None and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
        raise


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=err, transient=True, disable=not enabled,
    )


def _read_inputs(text: str | None, input_file: Path | None, text_col: str,
                 id_col: str | None = None) -> tuple[list[Any], bool, list[Any] | None]:
    """Texts from the argument, stdin ('-') or a file; whether one text was given; and the rows' ids
    (the ``id_col`` column of a table that has one, else ``None``)."""
    from affectkit.io import read_lines, read_table

    if input_file is not None and text is not None:
        raise InvalidInputError("Give either TEXT or --input FILE, not both.")
    if input_file is not None:
        if input_file.suffix.lower() in (".txt", "") or input_file.name.endswith(".txt.gz"):
            return list(read_lines(input_file)), False, None
        table = read_table(input_file)
        if text_col not in table.columns:
            raise InvalidInputError(
                f"The --text-col column {text_col!r} is not in {input_file.name}. Columns found: {table.columns}."
            )
        ids = [row.get(id_col) for row in table.rows] if id_col and id_col in table.columns else None
        return [row.get(text_col) for row in table.rows], False, ids
    if text is None:
        raise InvalidInputError("Give a TEXT to analyze, '-' to read lines from stdin, or --input FILE.")
    if text == "-":
        return list(_stdin_texts()), False, None
    return [text], True, None


def _stdin_texts() -> Iterator[str]:
    """The texts of stdin, one per line, as the lines arrive (never the whole input at once): the
    same texts as ``stdin.read().decode("utf-8", errors="replace").splitlines()`` would give.

    Each line keeps its newline while it is decoded and split, so ``\\r\\n``, a lone ``\\r`` and
    the other line ends ``str.splitlines`` knows split the same way as in the whole input."""
    for raw in sys.stdin.buffer:  # a line is handed over as soon as it is complete
        yield from raw.decode("utf-8", errors="replace").splitlines()


def _batched(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@app.command(cls=_Command)
@_reports_errors
def analyze(
    text: Annotated[str | None, typer.Argument(help="Text to analyze, or '-' for one text per line on stdin.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model name or directory (see `affectkit models`).")] = "sentiment",
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="A .txt (one text per line), .csv, .tsv or .jsonl file.")] = None,
    text_col: Annotated[str, typer.Option(help="Text column of a CSV/TSV/JSONL input.")] = "text",
    id_col: Annotated[str, typer.Option(help="Column of a CSV/TSV/JSONL input whose value each result carries as 'id' (when the file has it).")] = "id",
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="JSON output: one object, or one per line for several texts.")] = False,
    threshold: Annotated[float | None, typer.Option(help="Threshold of multi-label models (default: the model's tuned ones).")] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per batch; from stdin, each batch's results are written as soon as its lines are in.", min=1)] = 256,
    explain: Annotated[bool, typer.Option("--explain", metavar="", help="Per-token contributions to each label, in colour (green for, red against).")] = False,
    abstain: Annotated[float | None, typer.Option(help="Single-label models: answer 'mixed' when the top two probabilities are closer than this margin.", min=0.0, max=1.0)] = None,
) -> None:
    """Analyze a text, stdin or a file with any model.

    Examples: affectkit analyze "I love it" | affectkit analyze "so proud of you" --model emotion |
    affectkit analyze --input examples/reviews.csv --json
    """
    from affectkit.registry import load

    if text == "-" and input_file is None:  # stdin: each batch is answered as soon as its lines are in
        _analyze_stream(load(model), _stdin_texts(), batch_size, as_json,
                        dict(threshold=threshold, explain=explain, abstain=abstain))
        return
    texts, single, ids = _read_inputs(text, input_file, text_col, id_col)
    analyzer = load(model)
    results = []
    with _progress(enabled=len(texts) > batch_size) as progress:
        task = progress.add_task(f"analyze ({model})", total=len(texts))
        for start in range(0, len(texts), batch_size):
            results.extend(analyzer.analyze(texts[start : start + batch_size], threshold=threshold,
                                            explain=explain, abstain=abstain))
            progress.update(task, advance=min(batch_size, len(texts) - start))
    if as_json:
        _emit_json(results, single, ids)
        return
    _print_results(results, multi=analyzer.tags.multi_label)
    if explain:
        for i, r in enumerate(results, 1):
            out.print(_coloured_explanation(i, r))


def _analyze_stream(analyzer: Any, texts: Iterable[str], batch_size: int, as_json: bool, options: dict[str, Any]) -> None:
    """Analyze ``texts`` a batch at a time, writing each batch's results before reading the next
    (JSON lines, or a table per batch numbered on from the last), so memory stays one batch."""
    done = 0
    for batch in _batched(texts, batch_size):
        results = analyzer.analyze(batch, **options)
        if as_json:
            _emit_json(results, single=False)
            sys.stdout.flush()
        else:
            _print_results(results, multi=analyzer.tags.multi_label, start=done + 1)
            if options["explain"]:
                for i, r in enumerate(results, done + 1):
                    out.print(_coloured_explanation(i, r))
        done += len(results)
    if done == 0 and not as_json:  # no lines: the empty table, as for an empty file
        _print_results([], multi=analyzer.tags.multi_label)


def _coloured_explanation(index: int, result: Any) -> Any:
    """The text with each token coloured by its weight: green supports the label, red speaks against it."""
    from rich.text import Text

    e = result.explanation
    line = Text(f"{index}. {e.label} ({e.method}): ", style="bold")
    if not e.tokens:
        line.append(e.note or "nothing to explain", style="dim")
        return line
    scale = max(abs(t.weight) for t in e.tokens) or 1.0
    cursor = 0
    for t in e.tokens:
        if t.start < cursor:
            continue
        line.append(result.text[cursor : t.start])
        strength = min(abs(t.weight) / scale, 1.0)
        level = int(round(80 + 175 * strength))
        colour = f"rgb(0,{level},0)" if t.weight > 0 else f"rgb({level},0,0)"
        line.append(result.text[t.start : t.end], style=f"bold {colour}" if strength >= 0.05 else "dim")
        cursor = t.end
    line.append(result.text[cursor:])
    top = ", ".join(f"{t.token} {t.weight:+.3f}" for t in e.top(3) if t.weight > 0)
    if top:
        line.append(f"   top: {top}", style="dim")
    if e.note:
        line.append(f" ({e.note})", style="dim")
    return line


def _emit_json(results: list[Any], single: bool, ids: list[Any] | None = None) -> None:
    """One pretty JSON object for a single text; JSON lines for several, each with its row's ``id``
    first when the input file has an id column."""
    if single:
        out.print_json(json.dumps(results[0].to_dict(), ensure_ascii=False))
        return
    for i, r in enumerate(results):
        row = r.to_dict() if ids is None else {"id": ids[i], **r.to_dict()}
        sys.stdout.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _print_results(results: list[Any], multi: bool, start: int = 1) -> None:
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("text", overflow="fold", max_width=60)
    table.add_column("labels" if multi else "label")
    table.add_column("scores")
    for i, r in enumerate(results, start):
        top = sorted(r.scores.items(), key=lambda kv: -kv[1])[:3]
        scores = "  ".join(f"{k} {v:.2f}" for k, v in top)
        shown = (", ".join(r.labels) or "- (none reached its threshold)") if multi else r.label
        if r.levels:
            shown += "\n" + "  ".join(f"{name}: {', '.join(lv.labels) or '-'}" for name, lv in r.levels.items())
        note = f" [dim]({'; '.join(r.warnings)})[/dim]" if r.warnings else ""
        snippet = r.text if len(r.text) <= 200 else r.text[:197] + "..."
        table.add_row(str(i), snippet.replace("[", r"\[") + note, shown or "-", scores)
    out.print(table)


@app.command(cls=_Command)
@_reports_errors
def aspects(
    text: Annotated[str | None, typer.Argument(help="Text to analyze, or '-' for one text per line on stdin.")] = None,
    aspect_names: Annotated[str | None, typer.Option("--aspects", "-a", help="Comma-separated aspects or categories to judge (skips extraction), e.g. 'price,quality,shipping'.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Sentiment model name or directory.")] = "sentiment",
    input_file: Annotated[Path | None, typer.Option("--input", "-i", help="A .txt, .csv, .tsv or .jsonl file.")] = None,
    text_col: Annotated[str, typer.Option(help="Text column of a CSV/TSV/JSONL input.")] = "text",
    id_col: Annotated[str, typer.Option(help="Column of a CSV/TSV/JSONL input whose value each result carries as 'id' (when the file has it).")] = "id",
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="JSON output: one object, or one per line for several texts.")] = False,
    method: Annotated[str, typer.Option(help="auto (the trained aspect model with the default sentiment model, else clauses), model, or clauses.")] = "auto",
    aspect_model: Annotated[str | None, typer.Option(help="An aspect model directory from 'affectkit train --arch aspect' (default: the shipped one).")] = None,
) -> None:
    """Sentiment per aspect: the trained aspect model finds aspect terms and judges each one (with the default
    model); other models judge each aspect by the clauses that govern it.

    Example: affectkit aspects "The pasta was excellent but the waiter was rude"
    """
    from affectkit.aspects import AspectAnalyzer

    texts, single, ids = _read_inputs(text, input_file, text_col, id_col)
    names = aspect_names.split(",") if aspect_names is not None else None
    results = AspectAnalyzer(model, method=method, aspect_model=aspect_model).analyze(texts, aspects=names)
    if as_json:
        _emit_json(results, single, ids)
        return
    for r in results:
        table = Table(title=(r.text if len(r.text) <= 100 else r.text[:97] + "...").replace("[", r"\["),
                      header_style="bold", title_justify="left")
        for col in ("aspect", "span", "polarity", "p", "clause"):
            table.add_column(col, overflow="fold")
        for v in r.aspects:
            clause = r.text[v.clause[0] : v.clause[1]] if v.clause else v.note or ("(aspect model)" if v.method == "model" else "")
            table.add_row(v.aspect, f"{v.start}-{v.end}" if v.found else "-", v.polarity or "-",
                          f"{v.probability:.2f}" if v.probability is not None else "-", clause.replace("[", r"\["))
        out.print(table)
        if r.categories:
            out.print("categories: " + ", ".join(f"{c.category} {c.polarity} ({c.probability:.2f})" for c in r.categories))
        doc = r.summary.get("document")
        extra = f"  notes: {'; '.join(r.notes)}" if r.notes else ""
        out.print(f"document: {doc['label'] if doc else '-'}; aspects {r.summary['polarity_counts']}{extra}")


_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNIT = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def _limits(**given: str | None) -> dict[str, int | float | None]:
    """The reading limits given as flags: a number (sizes may end in K, M, G or T: powers of 1024) or 'none'."""
    limits: dict[str, int | float | None] = {}
    for name, value in given.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if value.strip().lower() == "none":
            limits[name] = None
            continue
        match = (_SIZE if name == "max_input_bytes" else _NUMBER).match(value)
        unit = _UNIT[match.group(2).lower()] if match and match.groups()[1:] else 1
        number = float(match.group(1)) * unit if match else 0.0
        if number <= 0 or (name == "max_rows" and not number.is_integer()):
            example = "8G, 500M or 4294967296" if name == "max_input_bytes" else "1000000" if name == "max_rows" else "100"
            raise InvalidInputError(f"{flag} must be a positive number such as {example}, or 'none' for no limit. "
                                    f"Got {value!r}.")
        limits[name] = number if name == "max_input_ratio" else int(number)
    return limits


@app.command(cls=_Command)
@_reports_errors
def reviews(
    input_file: Annotated[Path, typer.Argument(help="Reviews: .csv, .tsv, .jsonl or .parquet, optionally inside .gz or .zip.")],
    text_col: Annotated[str, typer.Option("--text-col", help="Column holding the review text.")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created; a run killed midway resumes here).")],
    id_col: Annotated[str | None, typer.Option("--id-col", help="Id column, kept under its own name.")] = None,
    time_col: Annotated[str | None, typer.Option("--time-col", help="Date/time column: enables the trend plot.")] = None,
    rating_col: Annotated[str | None, typer.Option("--rating-col", help="1-5 star column: enables rating agreement.")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, tsv, jsonl or parquet (default: from the name).")] = None,
    sentiment: Annotated[str, typer.Option("--sentiment", help="Sentiment model name or directory ('none' to skip).")] = "sentiment",
    emotion: Annotated[str, typer.Option("--emotion", help="Emotion model name or directory ('none' to skip).")] = "emotion",
    with_aspects: Annotated[bool, typer.Option("--aspects/--no-aspects", metavar="", help="Sentiment per aspect.")] = True,
    topics: Annotated[bool | None, typer.Option("--topics/--no-topics", metavar="", help="Find topics (default: when the topics extra is installed).")] = None,
    topic_sample: Annotated[int, typer.Option(help="Fit topics on at most this many reviews; assign the rest.")] = 10_000,
    topic_assign: Annotated[str, typer.Option(help="Place reviews outside the topic sample by 'embeddings' (all embedded) or 'tfidf' (faster).")] = "embeddings",
    fast: Annotated[bool, typer.Option("--fast", metavar="", help="Big files on few cores: classic sentiment and emotion models, --topic-assign tfidf.")] = False,
    engine: Annotated[str, typer.Option(help="local (processes) or ray (Ray Data actors).")] = "local",
    workers: Annotated[int, typer.Option("--workers", "-w", help="Worker processes (local) or actors (ray).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Reviews per scored (and checkpointed) batch.")] = 256,
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address (default: a local Ray instance).")] = None,
    csv: Annotated[bool, typer.Option("--csv", metavar="", help="Also write reviews.csv.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", metavar="", help="Discard an unfinished run in --out and start again.")] = False,
    topic_names: Annotated[Path | None, typer.Option("--topic-names", help="Names for topics: a CSV with columns topic,name or a JSON object {id: name}.")] = None,
    max_input_bytes: Annotated[str | None, typer.Option("--max-input-bytes", help="Stop past this much data once decompressed, e.g. 8G or 500M; 'none': no limit (default 4G).")] = None,
    max_rows: Annotated[str | None, typer.Option("--max-rows", help="Stop past this many rows; 'none': no limit (default 5000000).")] = None,
    max_input_ratio: Annotated[str | None, typer.Option("--max-input-ratio", help="Stop when a .gz/.zip expands more than this many times its size (past 64M); 'none': no limit (default 100).")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the run summary as JSON.")] = False,
) -> None:
    """The review job: clean, score sentiment, emotions and aspects, find topics, write Parquet, SQLite and a report.

    Topics are labelled by the aspects their reviews talk about; rename them afterwards with
    'affectkit rename-topics'.

    Example: affectkit reviews examples/reviews.csv --text-col text --id-col id --time-col date --rating-col rating --out review-report
    """
    from affectkit.reviews import run_reviews

    limits = _limits(max_input_bytes=max_input_bytes, max_rows=max_rows, max_input_ratio=max_input_ratio)
    if fast:
        sentiment = "sentiment-classic-v1" if sentiment == "sentiment" else sentiment
        emotion = "emotion-classic-v1" if emotion == "emotion" else emotion
        topic_assign = "tfidf"
    with _no_empty_leftover(out_dir), _progress(enabled=not as_json) as progress:
        task = progress.add_task("reviews", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        job = run_reviews(
            input_file, text_col, out_dir, id_col=id_col, time_col=time_col, rating_col=rating_col, format=fmt,
            sentiment=None if sentiment == "none" else sentiment, emotion=None if emotion == "none" else emotion,
            aspects=with_aspects, topics=topics, topic_sample=topic_sample, topic_assign=topic_assign, engine=engine, workers=workers,
            batch_size=batch_size, ray_address=ray_address, csv=csv, overwrite=overwrite, progress=tick,
            topic_names=topic_names, **limits,
        )
    s = job.summary
    if as_json:
        out.print_json(json.dumps(s, default=str))
        return
    out.print(f"{s['rows']} rows ({s['scored']} scored, {s['flagged']} flagged: {s['flags']}) in {s['seconds']['total']} s")
    if s["sentiment_counts"]:
        out.print(f"sentiment: {s['sentiment_counts']}")
    if s["rating_agreement"] and s["rating_agreement"].get("agreement") is not None:
        a = s["rating_agreement"]
        out.print(f"rating agreement (1-2 stars negative, 4-5 positive): {a['agreement']:.3f} on {a['n']} rows")
    if s["top_topics"]:
        out.print(f"{s['topics']} topics; largest: " + " | ".join(s["top_topics"][:10]))
    for note in s["notes"]:
        out.print(f"note: {note}")
    for name, path in job.files.items():
        out.print(f"{name}: {path}")


@app.command("rename-topics", cls=_Command)
@_reports_errors
def rename_topics_cmd(
    out_dir: Annotated[Path, typer.Argument(help="The folder of a finished 'affectkit reviews' run.")],
    names: Annotated[list[str] | None, typer.Argument(help="ID=NAME pairs, e.g. 3=\"Delivery delays\".", show_default=False)] = None,
    names_file: Annotated[Path | None, typer.Option("--file", help="More names: a CSV with columns topic,name or a JSON object {id: name}.")] = None,
) -> None:
    """Name the topics of a finished review run: rewrites its tables and report, scores nothing again.

    Example: affectkit rename-topics review-report 3="Delivery delays" 5="Design and colour"
    """
    from affectkit.reviews.naming import read_names, rename_topics

    given: dict[str, str] = {}
    if names_file is not None:
        given.update({str(k): v for k, v in read_names(names_file).items()})
    for pair in names or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise InvalidInputError(f"Each name must be ID=NAME (e.g. 3=\"Delivery delays\"). Got {pair!r}.")
        given[key.strip()] = value
    if not given:
        raise InvalidInputError("Give at least one ID=NAME pair or --file with names.")
    in_force = rename_topics(out_dir, given)
    for tid, name in sorted(in_force.items()):
        out.print(f"topic {tid}: {name}")
    out.print(f"rewritten: {out_dir}")


@app.command(cls=_Command)
def models(
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the list as JSON.")] = False,
) -> None:
    """List the registered models and aliases.

    Example: affectkit models
    """
    from affectkit.registry import list_models, registry

    aliases: dict[str, list[str]] = {}
    for alias, target in registry.aliases().items():
        aliases.setdefault(target, []).append(alias)
    if as_json:
        rows = [
            {"name": s.name, "task": s.task, "generation": s.generation,
             "aliases": sorted(aliases.get(s.name, [])), "description": s.description}
            for s in list_models()
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(show_header=True, header_style="bold")
    table.add_column("name", no_wrap=True)
    table.add_column("task")
    table.add_column("generation")
    table.add_column("aliases", overflow="fold")
    table.add_column("description", overflow="fold", ratio=1)
    for spec in list_models():
        table.add_row(spec.name, spec.task, spec.generation, ", ".join(sorted(aliases.get(spec.name, []))), spec.description)
    out.print(table)


#: ``affectkit train --arch``: classic estimators, neural, transformer, ensemble and aspect models.
TRAIN_ARCHS = ("logreg", "svm", "nb", "tree", "bilstm", "textcnn", "transformer", "ensemble", "aspect", "aspect-gnn",
               "aspect-marked")


@app.command(cls=_Command)
@_reports_errors
def train(
    data: Annotated[Path, typer.Argument(help="Labelled .csv, .tsv or .jsonl file; for --arch aspect / aspect-gnn / aspect-marked a SemEval aspect .xml file, or the shared data folder (the shipped recipe).")],
    out_dir: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the model to.")],
    text_col: Annotated[str, typer.Option(help="Text column.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Column with one label per row (single-label).")] = None,
    labels_col: Annotated[str | None, typer.Option(help="Column with comma-separated labels (multi-label).")] = None,
    label_cols: Annotated[str | None, typer.Option(help="Comma-separated names of 0/1 label columns (multi-label).")] = None,
    arch: Annotated[str, typer.Option(help="Estimator: logreg, svm, nb or tree (classic), bilstm or textcnn (neural), transformer (fine-tuning), ensemble, or aspect / aspect-gnn / aspect-marked (aspect model on the default encoder: pooled term states, a graph network, or the term marked in the input); neural, transformer and aspect need the train extra.")] = "logreg",
    task: Annotated[str, typer.Option(help="Task name stored with the model (sentiment, emotion, ...).")] = "sentiment",
    val: Annotated[Path | None, typer.Option(help="Validation file (same columns), used to tune multi-label thresholds and report scores.")] = None,
    val_fraction: Annotated[float, typer.Option(help="Without --val: fraction held out for validation (multi-label threshold tuning and the report).", min=0.0, max=0.5)] = 0.1,
    c: Annotated[float, typer.Option("--C", help="Inverse regularisation of logreg and svm.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed of the hold-out split (and of bilstm/textcnn training).")] = 0,
    epochs: Annotated[int | None, typer.Option(help="bilstm, textcnn, transformer: maximum epochs (early stopping on the validation loss; default 10); aspect: epochs (default 12).", min=1)] = None,
    base: Annotated[str, typer.Option(help="transformer: 'default' (fine-tune affectkit's default transformer) or a Hugging Face model id or directory.")] = "default",
    lr: Annotated[float | None, typer.Option(help="transformer, aspect: learning rate of the encoder (default 5e-5 for transformer, 8e-5 for aspect).", min=0.0)] = None,
    runs: Annotated[int, typer.Option(help="aspect: runs of the recipe (another batch order and dropout each) whose weights are averaged into the model.", min=1)] = 1,
    members: Annotated[str | None, typer.Option(help="--arch ensemble: comma-separated member models (names or directories; 'default' is the task default), e.g. default,classic,lexicon. The file's rows (or --val) tune the weights or the stacker.")] = None,
    mode: Annotated[str, typer.Option(help="--arch ensemble: soft (weighted mean), hard (weighted votes) or stacking (logistic regression on the members' scores).")] = "soft",
) -> None:
    """Train a classic, BiLSTM, TextCNN, fine-tuned transformer, ensemble or aspect model on your labelled file and write a model directory.

    Example: affectkit train examples/sentiment.csv --out my-model --label-col label --arch svm
    """
    columns = {"text_col": text_col, "label_col": label_col, "labels_col": labels_col,
               "label_cols": label_cols.split(",") if label_cols else None}
    say = lambda m: err.print(m, markup=False)  # noqa: E731
    if arch not in TRAIN_ARCHS:
        import difflib

        close = difflib.get_close_matches(arch, TRAIN_ARCHS, n=1)
        raise InvalidInputError(f"The --arch option must be one of {', '.join(TRAIN_ARCHS)}. Got {arch!r}."
                                + (f" Did you mean {close[0]!r}?" if close else ""))
    with _no_empty_leftover(out_dir):
        report = _train(arch, data, out_dir, columns, say, task=task, val=val, val_fraction=val_fraction, c=c,
                        seed=seed, epochs=epochs, base=base, lr=lr, runs=runs, members=members, mode=mode)
    out.print(f"Model written to {report['path']}")
    if report.get("validation"):
        out.print("Validation: " + ", ".join(f"{k} {v:.4f}" for k, v in report["validation"].items()))


def _given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None), so that the library's defaults decide the rest."""
    return {k: v for k, v in options.items() if v is not None}


def _train(arch: str, data: Path, out_dir: Path, columns: dict[str, Any], say: Callable[[str], None], *, task: str,
           val: Path | None, val_fraction: float, c: float, seed: int, epochs: int | None, base: str,
           lr: float | None, runs: int, members: str | None, mode: str) -> dict[str, Any]:
    from affectkit.train.classic import train_classic
    from affectkit.train.neural import train_neural

    if arch in ("aspect", "aspect-gnn", "aspect-marked"):
        from affectkit.train.aspects import train_aspect_model

        report = train_aspect_model(data, out_dir, arch=arch, val=val, val_fraction=val_fraction, seed=seed,
                                    runs=runs, log=say, **_given(epochs=epochs, lr=lr))  # else the recipe's
    elif arch == "transformer":
        from affectkit.train.finetune import train_transformer

        report = train_transformer(data, out_dir, **columns, base=base, task=task, val=val, val_fraction=val_fraction,
                                   epochs=epochs or 10, lr=5e-5 if lr is None else lr, seed=seed, log=say)
    elif arch == "ensemble":
        from affectkit.train.ensemble import train_ensemble

        if not members:
            raise InvalidInputError("--arch ensemble needs --members, e.g. --members default,classic,lexicon.")
        report = train_ensemble(data, out_dir, **columns, members=members.split(","), mode=mode, val=val,
                                seed=seed, log=say)
    elif arch in ("bilstm", "textcnn"):
        report = train_neural(data, out_dir, **columns, task=task, val=val, val_fraction=val_fraction,
                              epochs=epochs or 10, seed=seed, arch=arch, log=say)
    else:
        report = train_classic(data, out_dir, **columns, estimator=arch, task=task, val=val,
                               val_fraction=val_fraction, C=c, seed=seed, log=say)
    return report


@app.command(cls=_Command)
@_reports_errors
def evaluate(
    data: Annotated[str, typer.Option("--data", "-d", help="Labelled file (.csv/.tsv/.jsonl), a shared data set as name:split (e.g. tweeteval-sentiment:val), or aspect data: semeval2014-absa:restaurants, semeval2016-absa:restaurants or a SemEval .xml file.")],
    models_: Annotated[str, typer.Option("--models", "-m", help="Comma-separated model names or directories.")] = "lexicon,classic",
    text_col: Annotated[str, typer.Option(help="Text column of a file.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Label column (single-label).")] = None,
    labels_col: Annotated[str | None, typer.Option(help="Comma-separated labels column (multi-label).")] = None,
    plot: Annotated[Path | None, typer.Option(help="Also write the confusion matrices to this PNG (e.g. evaluation.png); none by default.")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the results as JSON.")] = False,
    limit: Annotated[int | None, typer.Option(help="Evaluate on the first N examples only.", min=1)] = None,
    batch_size: Annotated[int, typer.Option(help="Texts per batch.", min=1)] = 256,
) -> None:
    """Compare models side by side on one labelled set: one table (and, with --plot, the confusion matrices).

    Example: affectkit evaluate --data examples/labelled.csv --models lexicon,classic,sentiment --plot eval.png
    """
    from affectkit.datasets import is_absa
    from affectkit.evaluation import evaluate as run_evaluation
    from affectkit.evaluation import plot_confusion
    from affectkit.exceptions import MissingDependencyError

    if is_absa(data):
        _evaluate_aspects(data, models_, as_json)
        return
    texts, y = _labelled(data, text_col, label_col, labels_col)
    if limit is not None:
        texts, y = texts[:limit], y[:limit]
    names = [m.strip() for m in models_.split(",") if m.strip()]
    if not names:
        raise InvalidInputError("--models needs at least one model name.")
    with _progress(enabled=True) as progress:
        tasks: dict[str, Any] = {}

        def tick(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=total)
            progress.update(tasks[name], completed=done)

        report = run_evaluation(names, texts, y, data_name=data, batch_size=batch_size, progress=tick)
    png = None
    if plot is not None:
        try:
            png = plot_confusion(report, plot)
        except MissingDependencyError as exc:
            err.print(f"[yellow]Note:[/yellow] no PNG written. {escape(str(exc))}")
    if as_json:
        payload = report.to_dict()
        payload["plot"] = str(png) if png else None
        sys.stdout.write(json.dumps(payload, ensure_ascii=False) + "\n")
        return
    table = Table(title=f"affectkit evaluate: {data} ({len(texts)} texts)", header_style="bold")
    table.add_column("model", overflow="fold", min_width=8)
    metric_names = report.metric_names
    for m in metric_names:
        header = m.replace("_", "-")
        table.add_column(header, justify="right", min_width=len(header))
    table.add_column("texts/s", justify="right")
    table.add_column("peak MB", justify="right")
    for r in report.results:
        table.add_row(
            r.name, *[f"{r.metrics[m]:.4f}" if m in r.metrics else "" for m in metric_names],
            f"{r.texts_per_s:,.0f}", "" if r.peak_rss_mb is None else f"{r.peak_rss_mb:,.0f}",
        )
    out.print(table)
    if png:
        out.print(f"Confusion matrix: {png}")


@app.command(cls=_Command)
@_reports_errors
def calibrate(
    model: Annotated[str, typer.Argument(help="Model name or directory to calibrate.")],
    data: Annotated[str, typer.Option("--data", "-d", help="Validation data: a labelled file, or a shared set as name:split (e.g. tweeteval-sentiment:val).")],
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Write the calibrated model here.")] = None,
    text_col: Annotated[str, typer.Option(help="Text column of a file.")] = "text",
    label_col: Annotated[str | None, typer.Option(help="Label column (single-label).")] = None,
    labels_col: Annotated[str | None, typer.Option(help="Comma-separated labels column (multi-label).")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="Print the numbers as JSON.")] = False,
) -> None:
    """Calibrate a model on validation data: temperature scaling (single-label) or per-label thresholds (multi-label).

    Example: affectkit calibrate sentiment --data examples/sentiment.csv --out my-calibrated
    """
    from affectkit.calibration import calibration_summary

    texts, y = _labelled(data, text_col, label_col, labels_col)
    with err.status(f"calibrating {model} on {len(texts)} texts"):
        summary = calibration_summary(model, texts, y)
    path = summary["analyzer"].save(out_dir) if out_dir is not None else None
    fitted = {k: summary[k] for k in ("temperature", "thresholds") if k in summary}
    if as_json:
        payload = {"model": model, "data": data, "n_texts": len(texts), **fitted,
                   **{k: summary[k] for k in ("before", "after", "crossfit")}, "path": str(path) if path else None}
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    table = Table(title=f"affectkit calibrate: {model} on {data} ({len(texts)} texts)", header_style="bold")
    table.add_column("")
    names = list(summary["before"])
    for m in names:
        table.add_column(m.replace("_", "-"), justify="right")
    for row, label in (("before", "before"), ("after", "after (in-sample)"), ("crossfit", "after (2-fold cross-fitted)")):
        table.add_row(label, *[f"{summary[row][m]:.4f}" for m in names])
    out.print(table)
    if "temperature" in summary:
        out.print(f"temperature {summary['temperature']:.4f}")
    if path:
        out.print(f"Calibrated model written to {path}")


def _evaluate_aspects(data: str, models_: str, as_json: bool) -> None:
    from affectkit.aspects.evaluation import evaluate_aspects
    from affectkit.datasets import load_absa

    sentences = load_absa(data)
    names = [m.strip() for m in models_.split(",") if m.strip()]
    with err.status(f"evaluating aspects on {data}"):
        result = evaluate_aspects(names, sentences)
    if as_json:
        sys.stdout.write(json.dumps({"data": data, **result}) + "\n")
        return
    out.print(f"[bold]{data}[/bold]: {result['n_sentences']} sentences, {result['n_aspects']} gold aspects")
    for key, shown in (("extraction", "rules"), ("extraction_model", "aspect model")):
        if key in result:
            ext = result[key]
            out.print(f"aspect term extraction ({shown}): precision {ext['precision']:.4f}, recall {ext['recall']:.4f}, "
                      f"F1 {ext['f1']:.4f}")
    methods = [m for m in ("sentence", "clause", "model") if any(m in r for r in result["polarity"].values())]
    table = Table(title="aspect polarity given the gold aspects (conflict excluded)", header_style="bold")
    for col in ("model", "aspects", *(f"{m} {k}" for m in methods for k in ("acc", "macro-F1"))):
        table.add_column(col, justify="left" if col in ("model", "aspects") else "right", no_wrap=col == "aspects")
    for name, res in result["polarity"].items():
        for shown, subset, row in ((name, "all", res), ("", "mixed", res["mixed"])):
            cells = [row[m][k] if m in row else None for m in methods for k in ("accuracy", "macro_f1")]
            table.add_row(shown, f"{subset} {row['sentence']['n']}", *("-" if v is None else f"{v:.4f}" for v in cells))
    out.print(table)
    if result["polarity"]:
        out.print("mixed: the aspects of sentences whose gold aspects disagree, "
                  "where one verdict per sentence cannot be right for all.")


def _labelled(data: str, text_col: str, label_col: str | None, labels_col: str | None) -> tuple[list[Any], list[Any]]:
    from affectkit.datasets import DATASETS, load_dataset
    from affectkit.io import read_labelled

    if not Path(data).exists() and data.partition(":")[0] in DATASETS:
        ds = load_dataset(data)
        return ds.texts, ds.y
    labelled = read_labelled(data, text_col=text_col, label_col=label_col, labels_col=labels_col)
    for note in labelled.notes:
        err.print(f"[yellow]Note:[/yellow] {escape(note)}")
    return labelled.texts, labelled.y


@app.command(cls=_Command)
@_reports_errors
def export(
    model: Annotated[str, typer.Argument(help="A Hugging Face model: 'hf:<Hub id or directory>', or a directory saved from one.")],
    out_dir: Annotated[Path, typer.Argument(help="Directory to write (config.json, model.onnx, tokenizer.json).")],
    opset: Annotated[int, typer.Option(help="ONNX opset.", min=14)] = 17,
    storage: Annotated[str, typer.Option(help="fp32 (scores as torch's) or fp16 (half the file, scores to ~1e-3).")] = "fp32",
) -> None:
    """Export a Hugging Face sequence-classification model to ONNX (needs the train extra); `affectkit.load(OUT_DIR)` serves it without torch."""
    from affectkit.train.hf_export import export_hf

    path = export_hf(model, out_dir, opset=opset, storage=storage)
    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    check = config.get("export_check", {})
    out.print(f"ONNX model written to {path} (task {config['task']}, labels {', '.join(config['labels'])}; "
              f"largest difference from torch on the check texts: {check.get('max_abs_diff', float('nan')):.1e})")
    out.print(f"Load it with affectkit.load({str(path)!r}) or `affectkit analyze --model {path} TEXT`.")


def _seconds(value: str, flag: str) -> float | None:
    """A positive number of seconds, or None for 'none'."""
    if value.strip().lower() == "none":
        return None
    match = _NUMBER.match(value)
    if not match or float(match.group(1)) <= 0:
        raise InvalidInputError(f"{flag} must be a positive number of seconds such as 600, or 'none' for no limit. "
                                f"Got {value!r}.")
    return float(match.group(1))


@app.command("audio", cls=_Command)
@_reports_errors
def audio_cmd(
    file: Annotated[Path, typer.Argument(help="A wav, flac, ogg or mp3 file.")],
    transcript: Annotated[str | None, typer.Option("--transcript", "-t", help="What is said (default: transcribed with Whisper tiny.en when installed).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Speech + text model name or directory.")] = "audio",
    mode: Annotated[str, typer.Option(help="Fusion: 'evidence' (the text's weight grows with the emotion it carries), 'weighted' (fixed learned weights) or 'stacking'.")] = "evidence",
    asr: Annotated[bool | None, typer.Option("--asr/--no-asr", metavar="", help="Transcribe when no --transcript is given (default: when installed).")] = None,
    as_json: Annotated[bool, typer.Option("--json", metavar="", help="JSON: the label, and the probabilities of the fusion and of each branch.")] = False,
    max_duration: Annotated[str | None, typer.Option("--max-duration", help="Refuse recordings longer than this many seconds; 'none': no limit (default 600).")] = None,
    allow_truncated: Annotated[bool, typer.Option("--allow-truncated", metavar="", help="Analyse the part of a file that holds less audio than its header says (default: an error).")] = False,
) -> None:
    """Emotion from speech and text (7 classes): an acoustic branch, a text branch, late fusion.

    Example: affectkit audio examples/speech.flac
    """
    from affectkit.registry import load

    params: dict[str, Any] = {"mode": mode}
    if asr is not None:
        params["asr"] = asr
    if max_duration is not None:
        params["max_duration"] = _seconds(max_duration, "--max-duration")
    if allow_truncated:
        params["on_truncated"] = "warn"
    analyzer = load(model, **params)
    with err.status("listening...", spinner="dots"):
        result = analyzer.analyze(file, transcript)
    if as_json:
        out.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    table = Table(show_header=True, header_style="bold")
    for col in ("emotion", "fused", "audio", "text"):
        table.add_column(col, justify="left" if col == "emotion" else "right")
    for label, p in sorted(result.scores.items(), key=lambda kv: -kv[1]):
        row = [label, f"{p:.2f}"]
        for branch in ("audio", "text"):
            scores = result.branches.get(branch)
            row.append(f"{scores[label]:.2f}" if scores else "-")
        table.add_row(*row)
    out.print(f"[bold]{result.label}[/bold]  ({result.duration_s} s, {result.windows} windows)")
    if result.transcript is not None:
        out.print(f"transcript ({result.transcript_source}): {result.transcript!r}", markup=False)
    out.print(table)
    for w in result.warnings:
        err.print(f"note: {w}", markup=False)


@app.command(cls=_Command)
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.", min=0, max=65535)] = 8000,
    sentiment: Annotated[str, typer.Option("--sentiment", help="Sentiment model name or directory ('none' to leave out).")] = "sentiment",
    emotion: Annotated[str, typer.Option("--emotion", help="Emotion model name or directory ('none' to leave out).")] = "emotion",
    with_aspects: Annotated[bool, typer.Option("--aspects/--no-aspects", metavar="", help="Serve /v1/aspects.")] = True,
    audio: Annotated[str, typer.Option("--audio", help="Speech + text emotion model for /v1/audio: a name or directory, 'auto' (when the \\[audio] extra is installed) or 'none'.")] = "auto",
    jobs_dir: Annotated[Path, typer.Option("--jobs-dir", help="Folder for uploaded review files, job results and jobs.sqlite.")] = Path("affectkit-jobs"),
    max_texts: Annotated[int, typer.Option(help="Texts per request (413 above).", min=1)] = 128,
    max_chars: Annotated[int, typer.Option(help="Characters per text (413 above).", min=1)] = 50_000,
    max_upload_mb: Annotated[int, typer.Option(help="Upload size in MiB (413 above).", min=1)] = 200,
    timeout: Annotated[float, typer.Option(help="Seconds an analysis may take before a 504.", min=0.1)] = 60.0,
    cors_origin: Annotated[list[str] | None, typer.Option("--cors-origin", help="Allow browser calls from this origin (repeatable). Off by default.")] = None,
    job_workers: Annotated[int, typer.Option(help="Review jobs run at the same time.", min=1)] = 1,
) -> None:
    """Serve the HTTP API and web page (needs the serve extra: pip install 'affectkit\\[serve]'). Set AFFECTKIT_API_KEY to require a key.

    Options not given here come from environment variables AFFECTKIT_<SETTING> (e.g. AFFECTKIT_MAX_TEXTS),
    else from their defaults.

    Example: affectkit serve --port 8000, then open http://127.0.0.1:8000
    """
    none = ("none", "")
    given = {  # option -> (settings field, value); options left at their default defer to AFFECTKIT_<FIELD>
        "sentiment": ("sentiment", None if sentiment.lower() in none else sentiment),
        "emotion": ("emotion", None if emotion.lower() in none else emotion),
        "with_aspects": ("aspects", with_aspects), "jobs_dir": ("jobs_dir", jobs_dir),
        "max_texts": ("max_texts", max_texts), "max_chars": ("max_chars", max_chars),
        "max_upload_mb": ("max_upload_bytes", max_upload_mb * 1024 * 1024), "timeout": ("timeout_s", timeout),
        "cors_origin": ("cors_origins", tuple(cors_origin or ())), "job_workers": ("job_workers", job_workers),
    }
    settings = {field: value for option, (field, value) in given.items()
                if getattr(ctx.get_parameter_source(option), "name", "DEFAULT") != "DEFAULT"}
    sock = _listen(host, port)  # before loading models: a busy port fails at once, and nothing says "serving"
    try:
        application, uvicorn = _service_app(audio=audio, **settings)
    except BaseException:
        sock.close()
        raise
    port = sock.getsockname()[1]
    key = "on (AFFECTKIT_API_KEY)" if application.state.settings.api_key else "off"
    from affectkit.service.protocol import header_timeout_protocol

    http = header_timeout_protocol(application.state.settings.header_timeout_s)  # slow headers are cut off
    server = uvicorn.Server(uvicorn.Config(application, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=5, http=http))
    err.print(f"affectkit serving on http://{host}:{port}  (API key: {key}; docs at /docs)")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@_reports_errors
def _listen(host: str, port: int) -> Any:
    """A socket bound to ``host:port`` (port 0: a free one), or a clear error when it cannot be."""
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InvalidInputError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
                                f"Another program may be using the port: pick another with --port.") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@_reports_errors(errors=(AffectkitError, ValueError))  # a missing [serve] extra or bad settings; not the server's run
def _service_app(audio: str, **settings: Any) -> tuple[Any, Any]:
    """The service application for ``settings`` (and uvicorn, to run it)."""
    from affectkit.exceptions import require

    require("fastapi", "serve", "The HTTP service")
    uvicorn = require("uvicorn", "serve", "The HTTP service")
    from affectkit.service.app import ServiceSettings, create_app

    return create_app(ServiceSettings(audio=_audio_model(audio), **settings)), uvicorn


def _audio_model(name: str) -> str | None:
    if name.lower() in ("none", ""):
        return None
    if name.lower() == "auto":
        import importlib.util

        from affectkit.registry import shipped_model_path

        ready = all(importlib.util.find_spec(m) for m in ("soundfile", "librosa", "onnxruntime"))
        return "audio" if ready and (shipped_model_path("speech-emotion-v1") / "config.json").is_file() else None
    return name


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
