"""Citations and packaging: every registered benchmark, space, proxy and strategy has BibTeX that
parses, agrees with its registry ``paper`` field, and is printed by ``nasearch cite``; the package
declares its licence, authors, classifiers and URLs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from nasearch import cite

ROOT = Path(__file__).resolve().parents[2]


def _proxies() -> list[str]:
    from nasearch.proxies import proxy_names

    return list(proxy_names())


def _strategies() -> list[str]:
    from nasearch.strategies import strategy_names

    return list(strategy_names())


def _benchmarks_and_spaces() -> list[str]:
    from nasearch.benchmarks import BENCHMARKS
    from nasearch.space import space_names

    return sorted({*BENCHMARKS, *space_names()})


# ------------------------------------------------------------------------------ every registry entry
def test_no_registered_name_lacks_a_citation() -> None:
    # a new proxy / strategy / benchmark / space must add its entry to nasearch/cite.py
    assert cite.missing() == []


@pytest.mark.parametrize("name", _proxies())
def test_every_proxy_has_an_entry(name: str) -> None:
    keys = cite.keys_for("proxy", name)
    assert keys and all(k in cite.BIBTEX for k in keys)


@pytest.mark.parametrize("name", _strategies())
def test_every_strategy_has_an_entry(name: str) -> None:
    keys = cite.keys_for("strategy", name)
    assert keys and all(k in cite.BIBTEX for k in keys)


@pytest.mark.parametrize("name", [*_benchmarks_and_spaces(), "auto"])
def test_every_benchmark_and_space_has_an_entry(name: str) -> None:
    keys = cite.keys_for("benchmark", name)
    assert keys and all(k in cite.BIBTEX for k in keys)


def test_tables_name_only_registered_things_and_every_entry_is_used() -> None:
    assert set(cite.PROXIES) == set(_proxies()) | {"ensemble"}
    assert set(cite.STRATEGIES) == set(_strategies())
    assert set(cite.BENCHMARKS) == set(_benchmarks_and_spaces())
    used = {k for table in (cite.BENCHMARKS, cite.PROXIES, cite.STRATEGIES, cite.TOOLS) for ks in table.values()
            for k in ks} | {cite.NASEARCH}
    assert used == set(cite.BIBTEX)


def test_nb201_cites_both_benchmarks_and_known_papers_are_where_they_belong() -> None:
    assert cite.keys_for("benchmark", "auto") == cite.keys_for("benchmark", "nb201")
    nb201 = " ".join(cite.BIBTEX[k] for k in cite.keys_for("benchmark", "nb201"))
    assert "NAS-Bench-201" in nb201 and "NATS-Bench" in nb201 and "TPAMI" in nb201
    assert "NAS-Bench-Macro" not in cite.BIBTEX["su2021prioritized"]  # the paper's title names MCTS
    assert "Monto-Carlo" in cite.BIBTEX["su2021prioritized"]  # the published title's spelling
    for space in ("transnas101_micro", "transnas101_macro"):
        assert "TransNAS-Bench-101" in cite.BIBTEX[cite.keys_for("benchmark", space)[0]]
    assert "fortin2012deap" in cite.TOOLS["deap"] and "yadan2019hydra" in cite.TOOLS["hydra"]
    # optuna: cited for strategy=optuna only, not as a tool every run uses
    assert cite.keys_for("strategy", "optuna") == ("akiba2019optuna",)
    assert not any("akiba2019optuna" in ks for ks in cite.TOOLS.values())


def test_unknown_name_names_what_is_accepted() -> None:
    from nasearch.config import ConfigError

    with pytest.raises(ConfigError, match=r"no citation for proxy 'gradsing'.*gradsign.*did you mean 'gradsign'"):
        cite.keys_for("proxy", "gradsing")


# ---------------------------------------------------------------------------------- BibTeX shape
@pytest.mark.parametrize("key", sorted(cite.BIBTEX))
def test_entry_is_bibtex(key: str) -> None:
    entry = cite.BIBTEX[key]
    m = re.match(r"@(article|inproceedings|misc)\{([^,\s{}]+),\n", entry)
    assert m, entry[:60]
    assert m.group(2) == key
    depth = 0
    for i, ch in enumerate(entry):
        if ch == "{" and entry[i - 1] != "\\":
            depth += 1
        elif ch == "}" and entry[i - 1] != "\\":
            depth -= 1
            assert depth >= 0, f"unbalanced '}}' at {i} in {key}"
    assert depth == 0 and entry.endswith("\n}"), key
    f = cite.fields(entry)
    assert {"title", "author", "year"} <= set(f), (key, sorted(f))
    assert re.fullmatch(r"(19|20)\d\d", f["year"]), f["year"]
    # one field per line, each line of the body a field: nothing the field reader skipped
    body = entry.splitlines()[1:-1]
    assert len(body) == len(f), key
    assert m.group(1) != "inproceedings" or "booktitle" in f
    assert m.group(1) != "article" or "journal" in f
    assert entry.isascii(), f"{key}: use LaTeX escapes for accents"


def _names_and_years(paper: str) -> tuple[list[str], list[str]]:
    names = re.findall(r"\b([A-Z][A-Za-z'-]+) et al", paper) + re.findall(r"^([A-Z][a-z]+)(?:,| &)", paper)
    return names, re.findall(r"\b(?:19|20)\d\d\b", paper)


def _check_paper(kind: str, name: str, paper: str) -> None:
    entries = [cite.fields(cite.BIBTEX[k]) for k in cite.keys_for(kind, name)]
    names, years = _names_and_years(paper)
    assert names and years, f"{kind} {name}: paper field {paper!r} names no author or year"
    for n in names:
        assert any(n in e["author"] for e in entries), f"{kind} {name}: {n} ({paper!r}) not among its entries"
    for y in years:
        assert any(e["year"] == y for e in entries), f"{kind} {name}: year {y} ({paper!r}) not among its entries"


@pytest.mark.parametrize("name", _proxies())
def test_proxy_paper_field_agrees_with_its_entries(name: str) -> None:
    from nasearch.proxies import get_proxy

    _check_paper("proxy", name, get_proxy(name).paper)


@pytest.mark.parametrize("name", _strategies())
def test_strategy_paper_field_agrees_with_its_entries(name: str) -> None:
    from nasearch.strategies import get_strategy

    _check_paper("strategy", name, get_strategy(name).paper)


# ------------------------------------------------------------------------------------ Python API
def test_entries_and_bibtex_of_a_config() -> None:
    import nasearch.api as nas

    cfg = nas.config("strategy=rea", "proxy=gradsign", "proxy.n=10")
    got = cite.entries(cfg)
    assert list(got) == ["dong2020nasbench201", "dong2021natsbench", "real2019regularized", "zhang2022gradsign",
                         "yadan2019hydra", "nasearch"]
    assert all(got[k] == cite.BIBTEX[k] for k in got)
    text = cite.bibtex(cfg)
    assert "% strategy rea\n@inproceedings{real2019regularized," in text
    assert text.count("\n@") + text.startswith("@") == len(got)


def test_mpi_cites_every_proxy_it_correlates_and_no_strategy() -> None:
    import nasearch.api as nas

    cfg = nas.config("task=mpi", "mpi.proxies=[params,fisher,eznas]")
    got = cite.entries(cfg)
    for key in ("abdelfattah2021zerocost", "turner2020blockswap", "theis2018fisher", "akhauri2022eznas"):
        assert key in got
    assert not any(k in got for ks in cite.STRATEGIES.values() for k in ks)


def test_vanilla_arm_cites_no_proxy_and_evolve_cites_deap() -> None:
    import nasearch.api as nas

    assert "zhang2022gradsign" not in cite.entries(nas.config("strategy=rea", "proxy=gradsign", "proxy.n=1"))
    got = cite.entries(nas.config("task=evolve"))
    assert "akhauri2022eznas" in got and "fortin2012deap" in got


def test_a_sweep_cites_every_job() -> None:
    got = cite.bibtex_for(["experiment=nb201_baselines"])  # the preset sweeps strategy: rs,rea,reinforce,bohb
    for key in ("bergstra2012random", "real2019regularized", "williams1992reinforce", "falkner2018bohb"):
        assert f"{{{key}," in got
    got = cite.bibtex_for(["strategy=rs,bohb"])
    assert "{falkner2018bohb," in got and "{li2019randomnas," in got and "{real2019regularized," not in got


# ------------------------------------------------------------------------------------------- CLI
def _cite(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from nasearch.cli import main

    try:
        main(["cite", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_cite_prints_rea_gradsign_and_nb201(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cite(capsys, "strategy=rea", "proxy=gradsign")
    assert code == 0, err
    for key in ("real2019regularized", "zhang2022gradsign", "dong2020nasbench201", "dong2021natsbench", "nasearch"):
        assert f"{{{key}," in out, key
    assert "Regularized Evolution for Image Classifier Architecture Search" in out
    assert "{GradSign}: Model Performance Inference with Theoretical Insights" in out


def test_cli_cite_all_prints_every_entry(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cite(capsys, "--all")
    assert code == 0, err
    assert sorted(re.findall(r"^@\w+\{([^,]+),", out, re.M)) == sorted(cite.BIBTEX)


def _run_folder(path: Path, overrides: list[str]) -> Path:
    (path / ".hydra").mkdir(parents=True)
    (path / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides))
    return path


def test_cli_cite_a_run_folder_and_a_multirun_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # paths the run named need not exist here; where it ran (device, workers) does not matter
    run = _run_folder(tmp_path / "run", ["strategy=bohb", "proxy=zico", "proxy.n=10", "device=cuda:7",
                                         "proxy.store=/nowhere/scores.sqlite", "workers=3"])
    code, out, err = _cite(capsys, str(run))
    assert code == 0, err
    assert "{falkner2018bohb," in out and "{li2023zico," in out and "{dong2020nasbench201," in out

    sweep = tmp_path / "multirun"
    _run_folder(sweep / "0_strategy=rs", ["strategy=rs", "benchmark=nasbench_macro"])
    _run_folder(sweep / "1_strategy=reinforce", ["strategy=reinforce", "benchmark=nasbench_macro"])
    code, out, err = _cite(capsys, str(sweep))
    assert code == 0, err
    for key in ("bergstra2012random", "williams1992reinforce", "zoph2017nas", "su2021prioritized"):
        assert f"{{{key}," in out, key
    assert "{dong2020nasbench201," not in out


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("nasearch: error: "), err
    return lines[0]


def test_cli_cite_unknown_folder_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no_such_run"
    code, out, err = _cite(capsys, str(missing))
    assert code == 2 and out == ""
    msg = _one_error_line(err)
    assert str(missing) in msg and "accepted:" in msg and ".hydra/overrides.yaml" in msg

    empty = tmp_path / "empty"
    empty.mkdir()
    code, out, err = _cite(capsys, str(empty))
    assert code == 2 and str(empty) in _one_error_line(err)

    bad = _run_folder(tmp_path / "bad", [])
    (bad / ".hydra" / "overrides.yaml").write_text("strategy: rea\n")
    code, out, err = _cite(capsys, str(bad))
    assert code == 2 and "overrides.yaml" in _one_error_line(err)


def test_cli_cite_unknown_name_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _cite(capsys, "strategy=evolution")
    assert code == 2 and out == ""
    msg = _one_error_line(err)
    assert "'evolution'" in msg and "rea" in msg and "bohb" in msg

    run = _run_folder(tmp_path / "run", ["proxy=gradsingn", "proxy.n=10"])
    code, out, err = _cite(capsys, str(run))
    assert code == 2
    msg = _one_error_line(err)
    assert "'gradsingn'" in msg and "gradsign" in msg and str(run) in msg


# ------------------------------------------------------------------------------------- packaging
def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_file_and_project_metadata() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the nasearch authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\"" in text
    project = _pyproject()["project"]
    assert project["license"] == "MIT"
    assert {"LICENSE", "nasearch/embedded/DATA.md"} <= set(project["license-files"])
    assert all((ROOT / f).is_file() for f in project["license-files"])
    assert project["authors"] == [{"name": "the nasearch authors"}]
    for space in ("NAS-Bench-201", "NAS-Bench-Macro", "TransNAS-Bench-101"):
        assert space in project["description"], space
    classifiers = set(project["classifiers"])
    assert {
        "Development Status :: 4 - Beta",
        "Intended Audience :: Science/Research",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    } <= classifiers
    # PEP 639: with an SPDX `license` expression setuptools (>= 77) refuses "License ::" classifiers
    assert not any(c.startswith("License ::") for c in classifiers)
    urls = project["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls)
    assert all(u.startswith("https://github.com/nasearch/nasearch") for u in urls.values())
    assert {"NAS-Bench-Macro", "TransNAS-Bench-101", "zero-cost proxies"} <= set(project["keywords"])


def test_readme_licences_agree_with_data_md() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## License and citation"):]
    section = section[: section.index("\n## ", 1)]
    data = (ROOT / "nasearch" / "embedded" / "DATA.md").read_text()
    # NAS-Bench-Macro: Apache-2.0; NB201 / NATS-Bench and TransNAS-Bench-101: MIT (DATA.md's Licence lines)
    assert re.search(r"NAS-Bench-Macro.*?\nLicence: Apache-2\.0", data, re.S)
    assert re.search(r"TransNAS-Bench-101.*?\nLicence: MIT", data, re.S)
    assert "NAS-Bench-Macro is\nApache-2.0" in section or "NAS-Bench-Macro is Apache-2.0" in section.replace("\n", " ")
    assert "TransNAS-Bench-101 is MIT" in section.replace("\n", " ")
    assert "nasearch cite" in section and "../shared" not in section
