"""绩效考核 screens: rankings with trend and charts, score cards, adjustments and publication,
objections, QA inspection (play the recording beside the order, score, mark, appeal), schemes and
the scoresheet, and the Excel exports. Thin: parse, call one service, render."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for

from node import clock
from node.appraisal import exports, measures, periods, qa, runs, schemes
from node.appraisal.models import POPULATIONS
from node.audit import service as audit
from node.auth import web as auth_web
from node.auth.service import Actor
from node.errors import NotFound, PermissionDenied, ValidationError
from node.web.common import require_form_csrf

bp = Blueprint("appraisal", __name__, url_prefix="/appraisal")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    nav = app.config.setdefault("NAV_EXTRA", [])
    for entry in (
        ("绩效考核", "/appraisal/rankings", "appraisal.r", "appraisal.view"),
        ("我的考核", "/appraisal/rankings", "appraisal.r", "appraisal.own"),
        ("通话质检", "/appraisal/qa", "appraisal.qa", "qa.inspect"),
    ):
        if entry not in nav:
            nav.append(entry)


@bp.before_request
def _csrf() -> None:
    require_form_csrf()


def _default_period() -> str:
    return periods.just_ended("month", clock.now()).code


def _period_arg() -> periods.Period:
    return periods.parse(request.values.get("period") or _default_period())


def _population_arg(actor: Actor) -> str:
    default = "unit" if actor.unit_id is not None and not actor.can("appraisal.view") else "agent"
    population = request.values.get("population") or default
    if population not in POPULATIONS:
        raise ValidationError("考核对象有误", details={"population": "未知"})
    return population


def _int(raw: Any, label: str = "编号") -> int:
    text = str(raw or "")
    if not text.isdigit() or len(text) > 12:
        raise ValidationError(f"{label}有误")
    return int(text)


def _back(default: str) -> Response:
    target = request.form.get("next") or default
    if not target.startswith("/appraisal"):
        target = default
    return redirect(target)  # type: ignore[return-value]


# ---- rankings and score cards -------------------------------------------------------------------


@bp.get("/")
def home() -> Any:
    return redirect(url_for("appraisal.rankings"))


@bp.get("/rankings")
def rankings() -> Any:
    actor = auth_web.current_actor()
    population = _population_arg(actor)
    period = _period_arg()
    run, rows = runs.ranking(actor, population, period.code)
    chart = {
        "names": [r.result.subject_name for r in rows[:30]],
        "totals": [r.result.total for r in rows[:30]],
        "previous": [r.previous_total for r in rows[:30]],
    }
    return render_template(
        "appraisal/rankings.html",
        run=run,
        rows=rows,
        population=population,
        populations=POPULATIONS,
        period=period,
        chart=chart,
        can_manage=actor.can("appraisal.manage"),
        trend=exports.trend_text,
    )


@bp.post("/runs")
def score_run() -> Any:
    actor = auth_web.current_actor()
    population = _population_arg(actor)
    period = _period_arg()
    try:
        run = runs.score_period(actor, population, period.code)
        flash(
            f"{period.label}{POPULATIONS[population]}已评分：{run.results.count()} 个对象，用时 {run.seconds:g} 秒",
            "ok",
        )
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.rankings", population=population, period=period.code))


@bp.post("/runs/<int:run_id>/publish")
def publish(run_id: int) -> Any:
    actor = auth_web.current_actor()
    try:
        run = runs.publish(actor, run_id)
        flash("考核结果已发布，各单位可查看并申诉", "ok")
        return redirect(url_for("appraisal.rankings", population=run.population, period=run.period))
    except ValidationError as exc:
        flash(exc.message, "error")
        return redirect(url_for("appraisal.rankings"))


@bp.get("/rankings.xlsx")
def rankings_xlsx() -> Any:
    actor = auth_web.current_actor()
    population = _population_arg(actor)
    period = _period_arg()
    run, rows = runs.ranking(actor, population, period.code)
    if run is None:
        raise NotFound(f"{period.label}尚未评分")
    data = exports.ranking_xlsx(run, rows)
    audit.record(
        actor, "data.export", target=f"appraisal:{population}:{period.code}", details={"rows": len(rows)}
    )
    name = f"考核排名-{POPULATIONS[population]}-{period.code}.xlsx"
    return _xlsx(data, name)


def _xlsx(data: bytes, name: str) -> Response:
    from urllib.parse import quote

    resp = Response(data, mimetype=XLSX)
    resp.headers["Content-Disposition"] = (
        f"attachment; filename=appraisal.xlsx; filename*=UTF-8''{quote(name)}"
    )
    return resp


@bp.get("/results/<int:result_id>")
def card(result_id: int) -> Any:
    actor = auth_web.current_actor()
    result = runs.result_for(actor, result_id)
    history = runs.history(actor, result.run.population, result.subject_id)
    chart = {
        "periods": [periods.parse(h.run.period).label for h in history],
        "totals": [h.total for h in history],
        "items": [i["label"] for i in result.items],
        "points": [i["points"] for i in result.items],
        "weights": [i["weight"] for i in result.items],
    }
    return render_template(
        "appraisal/card.html",
        result=result,
        run=result.run,
        period=periods.parse(result.run.period),
        adjustments=list(result.adjustments),
        objections=list(result.objections),
        chart=chart,
        can_manage=actor.can("appraisal.manage"),
        can_object=(
            result.run.population == "unit"
            and actor.unit_id is not None
            and actor.unit_id == result.unit_id
            and actor.can("appraisal.own")
            and result.run.status == "published"
        ),
        populations=POPULATIONS,
    )


@bp.get("/results/<int:result_id>/evidence/<key>")
def evidence(result_id: int, key: str) -> Any:
    actor = auth_web.current_actor()
    result = runs.result_for(actor, result_id)
    item = next((i for i in result.items if i["key"] == key), None)
    if item is None:
        raise NotFound("考核项不存在")
    rows = measures.evidence(
        result.run.population, item["indicator"], result.subject_id, periods.parse(result.run.period)
    )
    return render_template("appraisal/evidence.html", rows=rows, item=item)


@bp.get("/results/<int:result_id>.xlsx")
def card_xlsx(result_id: int) -> Any:
    actor = auth_web.current_actor()
    result = runs.result_for(actor, result_id)
    data = exports.card_xlsx(result, runs.history(actor, result.run.population, result.subject_id))
    audit.record(
        actor, "data.export", target=f"appraisal:result:{result.id}", details={"subject": result.subject_name}
    )
    return _xlsx(data, f"考核成绩单-{result.subject_name}-{result.run.period}.xlsx")


@bp.post("/results/<int:result_id>/adjust")
def adjust(result_id: int) -> Any:
    actor = auth_web.current_actor()
    sign = -1 if request.form.get("kind") == "penalty" else 1
    try:
        raw = request.form.get("points", "")
        points = (
            sign * abs(float(raw))
            if raw.strip() and raw.strip().lstrip("-").replace(".", "", 1).isdigit()
            else raw
        )
        runs.adjust(actor, result_id, points, request.form.get("reason"))
        flash("已调整并记入审计日志", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.card", result_id=result_id))


@bp.post("/results/<int:result_id>/objection")
def object_(result_id: int) -> Any:
    actor = auth_web.current_actor()
    try:
        runs.file_objection(actor, result_id, request.form.get("text"), request.form.get("item_key"))
        flash("申诉已提交，等待领导处理", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.card", result_id=result_id))


@bp.get("/objections")
def objections() -> Any:
    actor = auth_web.current_actor()
    status = request.args.get("status") or None
    return render_template(
        "appraisal/objections.html",
        rows=runs.objections(actor, status),
        status=status,
        can_manage=actor.can("appraisal.manage"),
        states={"pending": "待处理", "upheld": "成立", "rejected": "驳回"},
    )


@bp.post("/objections/<int:objection_id>/decide")
def decide(objection_id: int) -> Any:
    actor = auth_web.current_actor()
    try:
        obj = runs.decide_objection(
            actor,
            objection_id,
            request.form.get("decision_kind") == "upheld",
            request.form.get("decision"),
            request.form.get("points") or None,
        )
        flash("申诉已处理" + (f"，更正 {obj.points:+g} 分" if obj.points else ""), "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.objections"))


# ---- QA -------------------------------------------------------------------------------------------


@bp.get("/qa")
def qa_list() -> Any:
    actor = auth_web.current_actor()
    period = request.args.get("period") or (_default_period() if actor.can("qa.inspect") else "")
    status = request.args.get("status") or None
    rows = qa.listing(actor, period or None, status)
    return render_template(
        "appraisal/qa_list.html",
        rows=rows,
        period=period,
        status=status,
        reasons=qa.REASONS,
        appeal=qa.APPEAL,
        can_inspect=actor.can("qa.inspect"),
    )


@bp.post("/qa/sample")
def qa_sample() -> Any:
    actor = auth_web.current_actor()
    period = request.form.get("period") or _default_period()
    try:
        per = _int(request.form.get("per_agent") or "5", "每人抽检数")
        rep = qa.sample(actor, period, per, request.form.get("seed") or "")
        flash(
            f"{rep.period} 抽样完成：随机 {rep.random} 通，不满意 {rep.unsatisfied} 通，涉及话务员 {rep.agents} 人",
            "ok",
        )
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.qa_list", period=period))


@bp.get("/qa/<int:inspection_id>")
def inspect(inspection_id: int) -> Any:
    actor = auth_web.current_actor()
    row = qa.get(actor, inspection_id)
    sheet = qa.current_sheet()
    return render_template(
        "appraisal/inspect.html",
        row=row,
        call=row.call,
        order=qa.order_for(row),
        sheet=sheet,
        reasons=qa.REASONS,
        appeal=qa.APPEAL,
        can_inspect=actor.can("qa.inspect"),
        can_decide=actor.can("appraisal.manage"),
        is_own=row.agent_user_id == actor.user_id,
        marks_json=json.dumps(row.marks or [], ensure_ascii=False),
    )


@bp.post("/qa/<int:inspection_id>/score")
def qa_score(inspection_id: int) -> Any:
    actor = auth_web.current_actor()
    sheet = qa.current_sheet()
    scores = {c["key"]: request.form.get(f"score_{c['key']}") for c in sheet.criteria}
    try:
        marks = json.loads(request.form.get("marks") or "[]")
    except ValueError:
        marks = "bad"
    try:
        qa.score(actor, inspection_id, scores, request.form.get("comment"), marks)
        flash("评分已保存", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.inspect", inspection_id=inspection_id))


@bp.post("/qa/<int:inspection_id>/appeal")
def qa_appeal(inspection_id: int) -> Any:
    actor = auth_web.current_actor()
    try:
        qa.appeal(actor, inspection_id, request.form.get("text"))
        flash("申诉已提交", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.inspect", inspection_id=inspection_id))


@bp.post("/qa/<int:inspection_id>/decide")
def qa_decide(inspection_id: int) -> Any:
    actor = auth_web.current_actor()
    try:
        qa.decide_appeal(
            actor,
            inspection_id,
            request.form.get("decision_kind") == "upheld",
            request.form.get("decision"),
            request.form.get("total") or None,
        )
        flash("申诉已处理", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.inspect", inspection_id=inspection_id))


# ---- schemes and scoresheet ----------------------------------------------------------------------


@bp.get("/schemes")
def scheme_list() -> Any:
    actor = auth_web.current_actor()
    if not (actor.can("appraisal.scheme") or actor.can("appraisal.manage")):
        raise PermissionDenied("无权查看考核方案")
    population = request.args.get("population") or "agent"
    if population not in POPULATIONS:
        raise ValidationError("考核对象有误")
    versions = schemes.versions(population)
    current = versions[0]
    return render_template(
        "appraisal/schemes.html",
        population=population,
        populations=POPULATIONS,
        versions=versions,
        current=current,
        items_of=schemes.items_of,
        indicators=measures.for_population(population),
        items_json=json.dumps(current.items, ensure_ascii=False, indent=1),
        sheet=qa.current_sheet(),
        can_edit=actor.can("appraisal.scheme"),
        kinds=periods.KINDS,
    )


@bp.post("/schemes")
def scheme_save() -> Any:
    actor = auth_web.current_actor()
    population = request.form.get("population") or ""
    try:
        try:
            items = json.loads(request.form.get("items") or "")
        except ValueError:
            raise ValidationError("考核项须为 JSON 列表（见页面示例）") from None
        s = schemes.save(
            actor,
            population,
            name=request.form.get("name"),
            period_kind=request.form.get("period_kind") or "month",
            effective_from=request.form.get("effective_from") or "",
            items=items,
            bonus_cap=request.form.get("bonus_cap") or 10,
            penalty_cap=request.form.get("penalty_cap") or 20,
            note=request.form.get("note"),
        )
        flash(f"已保存为第 {s.version} 版，自 {s.effective_from.isoformat()} 起的考核周期使用", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(
        url_for("appraisal.scheme_list", population=population if population in POPULATIONS else "agent")
    )


@bp.post("/scoresheet")
def scoresheet_save() -> Any:
    actor = auth_web.current_actor()
    sheet = qa.current_sheet()
    criteria = [
        {
            "key": c["key"],
            "label": request.form.get(f"label_{c['key']}", c["label"]),
            "weight": request.form.get(f"weight_{c['key']}"),
        }
        for c in sheet.criteria
    ]
    try:
        s = qa.save_sheet(actor, criteria)
        flash(f"质检评分表已保存为第 {s.version} 版", "ok")
    except ValidationError as exc:
        flash(exc.message, "error")
    return redirect(url_for("appraisal.scheme_list"))
