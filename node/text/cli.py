"""`hotline text …`: train and evaluate classifiers, list model versions, hot topics, re-index."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from node.errors import ValidationError


def _bind(ctx: click.Context) -> Any:
    from node.text import service

    settings = ctx.find_root().obj.bind()
    service.install(settings)
    return settings


def _parse_time(value: str, name: str) -> dt.datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ValidationError(f"{name} 的时间格式应为 YYYY-MM-DD 或 YYYY-MM-DD HH:MM")


def register_cli(group: click.Group) -> None:
    """Add the `text` command group to the `hotline` CLI."""

    @group.group("text")
    def text() -> None:
        """文本智能：分类模型训练与评估、热点分析、检索索引。"""

    @text.command("train")
    @click.option(
        "--csv",
        "csv_path",
        type=click.Path(dir_okay=False),
        help="带标签的CSV文件（不给则用本节点已确认分类的工单，优于现用归类才启用）",
    )
    @click.option("--text-col", default="content", show_default=True, help="正文列名")
    @click.option("--label-col", default="label", show_default=True, help="标签列名")
    @click.option("--title-col", default=None, help="标题列名（可选）")
    @click.option(
        "--holdout", default=0.2, show_default=True, type=float, help="留出评估的比例（按文本哈希划分）"
    )
    @click.option("--output", type=click.Path(dir_okay=False), help="把模型写入文件")
    @click.option(
        "--kind",
        type=click.Choice(["business_type", "sub_business", "generic"]),
        help="模型类型：business_type 业务类型、sub_business 业务分类（子业务或领域）、generic 其他（需节点配置）",
    )
    @click.pass_context
    def train(
        ctx: click.Context,
        csv_path: str | None,
        text_col: str,
        label_col: str,
        title_col: str | None,
        holdout: float,
        output: str | None,
        kind: str | None,
    ) -> None:
        """训练分类模型并在留出数据上评估。"""
        from node.text import classifier

        if csv_path is None:
            from node import db
            from node.text import service

            _bind(ctx)
            with db.connection():
                kinds = [kind] if kind and kind != "generic" else list(service.LEARNED_KINDS)
                for k in kinds:
                    outcome = service.train_from_orders(k, holdout=holdout)
                    version = f"第{outcome.row.version}版：" if outcome.row else ""
                    click.echo(f"{k}：{version}{outcome.reason}")
            return
        clf, report, data = classifier.train_from_csv(
            csv_path, text_col, label_col, title_col=title_col, holdout=holdout
        )
        click.echo(
            f"读取 {len(data.docs)} 条不重复文本（去除重复 {data.dropped_duplicates} 条，"
            f"标签冲突 {data.conflicting} 条取多数），训练用时 {clf.train_seconds:.1f} 秒"
        )
        if report is not None:
            click.echo("留出数据评估：")
            click.echo(report.format())
        if output:
            Path(output).write_bytes(clf.dumps())
            click.echo(f"模型已写入 {output}")
        if kind:
            from node import db
            from node.text import service

            _bind(ctx)
            with db.connection():
                row = service.save_model(
                    kind,
                    clf,
                    metrics=report.to_dict() if report else None,
                    source=Path(csv_path).name,
                    samples=len(data.docs),
                )
            click.echo(f"已存入模型库：{kind} 第{row.version}版")

    @text.command("evaluate")
    @click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False), help="带标签的CSV文件")
    @click.option("--text-col", default="content", show_default=True)
    @click.option("--label-col", default="label", show_default=True)
    @click.option("--title-col", default=None)
    @click.option(
        "--model", "model_path", type=click.Path(dir_okay=False), help="模型文件（由 train --output 写出）"
    )
    @click.option("--kind", help="评估本节点模型库中该类型的当前模型")
    @click.option(
        "--holdout",
        default=0.2,
        show_default=True,
        type=float,
        help="未给模型时：在其余部分训练、在此比例的留出数据上评估",
    )
    @click.option(
        "--folds",
        default=0,
        show_default=True,
        type=int,
        help="未给模型时另做k折交叉验证（2–20，0 = 不做），报告各折宏平均F1的均值与标准差",
    )
    @click.pass_context
    def evaluate_cmd(
        ctx: click.Context,
        csv_path: str,
        text_col: str,
        label_col: str,
        title_col: str | None,
        model_path: str | None,
        kind: str | None,
        holdout: float,
        folds: int,
    ) -> None:
        """在带标签的CSV上评估分类模型：准确率、宏平均F1、各类别精确率/召回率/F1。"""
        from node.text import classifier

        if folds and (model_path or kind):
            raise ValidationError("交叉验证要重新训练，不能与 --model / --kind 同用")
        data = classifier.read_csv(csv_path, text_col, label_col, title_col)
        if model_path:
            clf = classifier.TextClassifier.loads(Path(model_path).read_bytes())
            report = classifier.evaluate(clf, data.docs, data.labels)
        elif kind:
            from node import db
            from node.text import service

            _bind(ctx)
            with db.connection():
                model = service.active_model(kind)
            if model is None:
                raise ValidationError(f"本节点还没有 {kind} 模型")
            report = classifier.evaluate(model[1], data.docs, data.labels)
        else:
            train, test = classifier.split(data, holdout)
            if not test.docs:
                raise ValidationError("留出数据为空，请调大 --holdout")
            clf = classifier.TextClassifier().fit(train.docs, train.labels)
            click.echo(
                f"训练 {len(train.docs)} 条，留出 {len(test.docs)} 条，训练用时 {clf.train_seconds:.1f} 秒"
            )
            report = classifier.evaluate(clf, test.docs, test.labels)
        click.echo(report.format())
        if folds:
            click.echo(classifier.format_cv(classifier.cross_validate(data, folds)))

    @text.command("models")
    @click.pass_context
    def models_cmd(ctx: click.Context) -> None:
        """现用归类（模型或关键词规则）与各版本模型的留出评估。"""
        from node import db
        from node.auth.service import SYSTEM
        from node.text import service

        _bind(ctx)
        with db.connection():
            status = service.model_status(SYSTEM)
        for s in status:
            hit = s["hit_rate"]
            rate = f"，坐席采纳率 {hit['hit_rate']:.2%}（{hit['choices']}次）" if hit["choices"] else ""
            click.echo(f"{s['kind']}：现用 {s['live']['name']}{rate}")
            for m in s["models"]:
                metrics = m["metrics"] or {}
                acc = metrics.get("accuracy")
                live = metrics.get("live_accuracy")
                versus = f"，对比{metrics.get('compared_with')} {live}" if live is not None else ""
                click.echo(
                    f"  {'▶' if m['active'] else ' '} 第{m['version']}版 {m['created_at']} 训练样本{m['samples']} "
                    f"留出准确率 {acc}{versus} 来源：{m['source']}"
                )

    @text.command("activate")
    @click.argument("kind", type=click.Choice(["business_type", "sub_business", "generic"]))
    @click.argument("version")
    @click.pass_context
    def activate_cmd(ctx: click.Context, kind: str, version: str) -> None:
        """启用指定版本的模型（可回退到旧版本）；VERSION 为 rules 则改用关键词规则。"""
        from node import db
        from node.auth.service import SYSTEM
        from node.text import service

        if version != "rules" and not version.isdigit():
            raise ValidationError("VERSION 应为模型版本号或 rules")
        _bind(ctx)
        with db.connection():
            row = service.activate_model(SYSTEM, kind, None if version == "rules" else int(version))
        click.echo(f"已启用 {kind} 第{row.version}版模型" if row else f"{kind} 已改用关键词规则")

    @text.command("hot-topics")
    @click.option("--start", required=True, help="开始时间 YYYY-MM-DD[ HH:MM]")
    @click.option("--end", required=True, help="结束时间（不含）")
    @click.option("--region", default=None, help="区划代码前缀，如 3201")
    @click.option("--domain", default=None, help="业务领域代码，如 04")
    @click.option("--periods", default=4, show_default=True, type=int, help="与之前多少个等长周期对比")
    @click.option("--top", default=10, show_default=True, type=int)
    @click.option("--json", "as_json", is_flag=True, help="输出JSON")
    @click.pass_context
    def hot_cmd(
        ctx: click.Context,
        start: str,
        end: str,
        region: str | None,
        domain: str | None,
        periods: int,
        top: int,
        as_json: bool,
    ) -> None:
        """热点分析：上升最快的词语与相似工单簇。"""
        from node import db
        from node.text.hot import hot_topics_for_orders

        _bind(ctx)
        with db.connection():
            result = hot_topics_for_orders(
                _parse_time(start, "--start"),
                _parse_time(end, "--end"),
                region=region,
                domain=domain,
                periods=periods,
                top=top,
            )
        if as_json:
            click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
            return
        click.echo(f"本期工单 {result.volume} 件，前{result.periods}期平均 {result.baseline_volume} 件")
        click.echo("上升词语：" if result.terms else "没有明显上升的词语")
        for t in result.terms:
            growth = "新出现" if t.growth is None else f"{t.growth:+.0%}"
            click.echo(
                f"  {t.term}\t{t.count}件\t前期均值{t.baseline}\t增幅{growth}\tz={t.z}\t例：{'、'.join(t.examples)}"
            )
        for c in result.clusters:
            growth = "新出现" if c.growth is None else f"{c.growth:+.0%}"
            click.echo(
                f"  热点簇【{c.label}】{c.volume}件，前期均值{c.baseline}，增幅{growth}，例：{'、'.join(c.examples)}"
            )

    @text.command("reindex")
    @click.pass_context
    def reindex_cmd(ctx: click.Context) -> None:
        """重新分词所有工单的检索文本并重建全文索引。"""
        from node import db
        from node.text.search import SearchBackend
        from node.workflow import service as workflow
        from node.workflow.models import WorkOrder

        _bind(ctx)  # registers the jieba tokens that workflow._search_text stores
        count = 0
        with db.connection():
            backend = SearchBackend(WorkOrder._meta.table_name)
            backend.ensure()
            ids = [o.id for o in WorkOrder.select(WorkOrder.id)]
            for start in range(0, len(ids), 500):
                with db.write_tx():
                    for order in WorkOrder.select().where(WorkOrder.id.in_(ids[start : start + 500])):
                        text = workflow._search_text(order)
                        WorkOrder.update(search_text=text).where(WorkOrder.id == order.id).execute()
                        count += 1
            backend.rebuild()
        click.echo(f"已重建 {count} 件工单的检索文本与全文索引")
