"""`hotline text train/evaluate` on a CSV the test writes (no node needed)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import click
from click.testing import CliRunner

from node.text.cli import register_cli


def make_cli() -> click.Group:
    @click.group()
    def root() -> None:
        pass

    register_cli(root)
    return root


def toy_csv(path: Path) -> Path:
    texts = {
        "taxi": ["出租车拒载", "的士绕路", "网约车乱收费", "打车被拒"],
        "bus": ["公交晚点", "公交不停站", "站台没站牌", "公交急刹车"],
    }
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        for label, items in texts.items():
            for a, b in itertools.permutations(items, 2):
                writer.writerow([f"{a}，{b}", label])
    return path


def test_train_writes_model_and_evaluate_reads_it(tmp_path: Path) -> None:
    data = toy_csv(tmp_path / "toy.csv")
    model = tmp_path / "m.joblib"
    runner = CliRunner()
    args = ["--csv", str(data), "--text-col", "text", "--label-col", "label"]
    result = runner.invoke(make_cli(), ["text", "train", *args, "--holdout", "0.3", "--output", str(model)])
    assert result.exit_code == 0, result.output
    assert "宏平均F1" in result.output and model.exists()
    result = runner.invoke(make_cli(), ["text", "evaluate", *args, "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "准确率（accuracy）：1.0000" in result.output
    assert "taxi" in result.output and "bus" in result.output


def test_evaluate_reports_missing_column(tmp_path: Path) -> None:
    data = toy_csv(tmp_path / "toy.csv")
    result = CliRunner().invoke(make_cli(), ["text", "evaluate", "--csv", str(data), "--text-col", "body"])
    assert result.exit_code != 0
    assert "没有列" in str(result.exception)


def test_evaluate_cross_validates(tmp_path: Path) -> None:
    data = toy_csv(tmp_path / "toy.csv")
    args = ["text", "evaluate", "--csv", str(data), "--text-col", "text", "--label-col", "label"]
    result = CliRunner().invoke(make_cli(), [*args, "--folds", "3"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "折交叉验证" in x)
    assert line.startswith("3 折交叉验证（24 条）") and line.count(" ") >= 3


def test_evaluate_refuses_bad_folds(tmp_path: Path) -> None:
    data = toy_csv(tmp_path / "toy.csv")
    args = ["text", "evaluate", "--csv", str(data), "--text-col", "text", "--label-col", "label"]
    result = CliRunner().invoke(make_cli(), [*args, "--folds", "1"])
    assert result.exit_code != 0 and "折数" in str(result.exception)
    result = CliRunner().invoke(make_cli(), [*args, "--folds", "3", "--model", str(tmp_path / "m.joblib")])
    assert result.exit_code != 0 and "不能与" in str(result.exception)
