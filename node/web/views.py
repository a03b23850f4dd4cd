"""Staff screens: login, role-based navigation, agent workstation (坐席工作台), queues and order
detail with action dialogs, and the handling-unit desk (承办单位工作台).

Every page needs a signed-in user (else a redirect to the login page, with a timeout notice when
the session expired); every POST carries the form's CSRF token.
"""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from node import clock
from node.auth import service as auth
from node.auth import web as auth_web
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.config import service as config
from node.config.views import first_admin_screen
from node.errors import AuthenticationRequired, Conflict, DomainError, RateLimited, ValidationError
from node.followup import service as followup
from node.followup import supervision
from node.intake import service as intake
from node.intake.models import OUTCOMES as CONTACT_OUTCOMES
from node.pii import is_full_number, valid_phone
from node.routing import service as routing
from node.text import service as text_service
from node.web import actions as action_forms
from node.web import attachments, duplicates, pickers
from node.web import format as fmt
from node.web.common import date_arg as _date_arg
from node.web.common import is_htmx, require_form_csrf, safe_next
from node.web.common import page_arg as _page_arg
from node.web.common import pages as _pages
from node.web.intake import OUTCOMES, take_contact
from node.workflow import present, service, states
from node.workflow.deadlines import deadline_state
from node.workflow.models import SATISFACTION, Assignment, WorkOrder

bp = Blueprint("web", __name__)

OPEN_ENDPOINTS = {"web.login"}
# The knowledge editor's home: the knowledge screens (node/knowledge, issue #11) once routed.
KNOWLEDGE_URL = "/knowledge"
PAGE_SIZE = 20

# Queues each role works from (tab order). Roles not listed see every queue but the personal ones.
ROLE_QUEUES: dict[str, list[str]] = {
    "agent": ["mine", "to_submit", "to_callback", "due_soon", "overdue"],
    "reviewer": ["to_review", "replied", "to_close", "to_callback", "due_soon", "overdue"],
    "dispatcher": ["to_dispatch", "returned", "due_soon", "overdue"],
    "shift_leader": [
        "to_submit",
        "to_review",
        "to_approve",
        "to_dispatch",
        "returned",
        "replied",
        "to_close",
        "to_callback",
        "to_archive",
        "due_soon",
        "overdue",
        "mine",
    ],
}
CALLBACK_METHODS = {"phone": "电话", "sms": "短信", "wechat": "微信", "web": "网站", "visit": "走访"}


def init_app(app: Flask) -> None:
    from node.web import attachments

    attachments.register()
    fmt.init_app(app)
    app.register_blueprint(bp)
    app.config.setdefault("HTML_ERROR_RENDERER", render_error)


# ---- plumbing -----------------------------------------------------------------------------------


def _login_url(expired: bool) -> str:
    target = request.full_path if request.method == "GET" and not is_htmx() else request.referrer or "/"
    if target.endswith("?"):
        target = target[:-1]
    args: dict[str, Any] = {"next": target}
    if expired:
        args["expired"] = 1
    return url_for("web.login", **args)


def _to_login() -> Response:
    url = _login_url(bool(getattr(g, "session_expired", False)))
    if is_htmx():
        resp = Response("", 200)
        resp.headers["HX-Redirect"] = url
        return resp
    return redirect(url)  # type: ignore[return-value]


@bp.before_request
def _guard() -> Response | None:
    if request.endpoint not in OPEN_ENDPOINTS and auth_web.optional_actor() is None:
        return _to_login()
    require_form_csrf()
    return None


def render_error(status: int, body: dict[str, Any]) -> Any:
    """HTML error page in Chinese for browser requests (the app's HTML_ERROR_RENDERER)."""
    if status == 401:
        g.session_expired = "超时" in str(body.get("message", "")) or getattr(g, "session_expired", False)
        return _to_login()
    template = "portal/error.html" if request.path.startswith(("/public", "/open311")) else "error.html"
    return render_template(
        template, status=status, message=body.get("message", ""), code=body.get("code", "")
    ), status


def nav_items(actor: auth.Actor | None) -> list[tuple[str, str, str | tuple[str, ...]]]:
    """(label, url, endpoint prefix) of the screens this actor may use."""
    if actor is None:
        return []
    items = []
    if actor.can("contact.create"):
        items.append(("坐席工作台", url_for("web.workstation"), "web.workstation"))
    if actor.can("order.view_all"):
        items.append(("工单队列", url_for("web.queues"), "web.queue"))
    if actor.unit_id is not None and actor.can("order.view_unit"):
        items.append(("承办单位工作台", url_for("web.unit_desk"), "web.unit"))
    if actor.can("catalog.manage"):
        items.append(("自动归类", url_for("text_web.lexicon_screen"), "text_web"))
    if actor.can("order.view_own") and not actor.can("order.view_all"):
        items.append(("我的工单", url_for("web.queues", queue="mine"), "web.queue"))
    if actor.can("monitor.view"):
        items.append(("监控概览", url_for("monitor.overview"), "monitor."))
    if actor.can("audit.view"):
        items.append(("审计日志", url_for("audit_screens.log"), "audit_screens."))
    admin_home = first_admin_screen(actor)
    if admin_home:
        items.append(
            ("运行管理", admin_home, ("users.", "catalog_admin.", "admin_home.", "ivr_admin.", "routing."))
        )
    # screens other domains register at init_app: (label, url, endpoint prefix, permission)
    for label, href, prefix, permission in current_app.config.get("NAV_EXTRA", []):
        if actor.can(permission):
            items.append((label, href, prefix))
    return items


@bp.app_context_processor
def _globals() -> dict[str, Any]:
    actor = auth_web.optional_actor()
    settings = current_app.config.get("NODE")
    return {
        "csrf_token": auth_web.csrf_token,
        "actor": actor,
        "nav": nav_items(actor) if actor else [],
        "node_name": settings.name if settings else "",
        "session_minutes": _session_minutes(),
        "now": clock.now(),
    }


def _session_minutes() -> int:
    """The idle timeout in force (run-time setting) for the page's countdown."""
    try:
        return int(config.value("session_minutes"))
    except Exception:  # an error page rendered without a database: the configured value
        return int(current_app.config.get("SESSION_MINUTES", 30))


def _home_for(actor: auth.Actor) -> str:
    if actor.unit_id is not None and not actor.can("order.view_all"):
        return url_for("web.unit_desk")
    if actor.can("contact.create"):
        return url_for("web.workstation")
    for role in actor.roles:
        if role in ROLE_QUEUES:
            return url_for("web.queues", queue=ROLE_QUEUES[role][0])
    # the roles without an order queue of their own land on their own screen
    admin_home = first_admin_screen(actor)
    if admin_home:
        return admin_home
    if "auditor" in actor.roles:
        return url_for("audit_screens.log")
    if "supervisor" in actor.roles:
        return url_for("monitor.overview")
    if "knowledge_editor" in actor.roles and any(
        r.rule == KNOWLEDGE_URL for r in current_app.url_map.iter_rules()
    ):
        return KNOWLEDGE_URL
    if actor.can("order.view_all"):
        return url_for("web.queues")
    if actor.can("order.view_own"):
        return url_for("web.queues", queue="mine")
    return url_for("web.no_screen")


# ---- login --------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = safe_next(request.values.get("next"), "")
    error, status = "", 200
    notice = "登录已超时，请重新登录" if request.args.get("expired") else ""
    username = ""
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()[:40]
        password = request.form.get("password") or ""
        if not username or not password:
            error, status = "请输入用户名和密码", 422
        else:
            try:
                user = auth_web.authenticate(username, password[:200])
            except RateLimited as exc:
                error, status = exc.message, 429
            except AuthenticationRequired as exc:
                error, status = exc.message, 401
            else:
                auth_web.login(user)
                return redirect(next_url or _home_for(auth.actor_for(user)))
    elif auth_web.optional_actor() is not None:
        return redirect(next_url or _home_for(auth_web.current_actor()))
    return render_template("login.html", error=error, notice=notice, next=next_url, username=username), status


@bp.post("/logout")
def logout() -> Any:
    auth_web.logout()
    return redirect(url_for("web.login"))


@bp.get("/")
def home() -> Any:
    return redirect(_home_for(auth_web.current_actor()))


@bp.get("/no-screen")
def no_screen() -> Any:
    return render_template(
        "error.html", status=200, message="当前角色没有可用的业务界面，请使用接口或联系管理员。", code=""
    )


# ---- agent workstation ------------------------------------------------------------------------


def _workstation_context(
    form: Any = None, errors: dict[str, str] | None = None, result: Any = None, message: str = ""
) -> dict[str, Any]:
    settings = current_app.config["NODE"]
    return {
        "form": form or {},
        "errors": errors or {},
        "result": result,
        "message": message,
        "types": catalog.business_types(),
        "channels": catalog.channels(),
        "categories": pickers.categories(),
        "regions": pickers.node_regions(),
        "default_region": settings.region,
        "outcomes": OUTCOMES,
    }


@bp.get("/workstation")
def workstation() -> Any:
    auth_web.current_actor().require("contact.create")
    form = {
        k: v
        for k, v in request.args.items()
        if k in ("caller_phone", "call_id", "contact_id", "channel", "recording_ref")
    }
    return render_template("workstation.html", **_workstation_context(form))


@bp.post("/workstation")
def workstation_submit() -> Any:
    actor = auth_web.current_actor()
    actor.require("contact.create")
    template = "partials/intake_form.html" if is_htmx() else "workstation.html"
    try:
        result = take_contact(actor, request.form)
    except DomainError as exc:
        # Redisplay the form with what the agent typed and the field errors.
        errors = exc.details if isinstance(exc.details, dict) else {}
        return render_template(
            template, **_workstation_context(request.form, errors, message=exc.message)
        ), exc.status
    return render_template(template, **_workstation_context(result=result))


@bp.get("/workstation/caller")
def caller_history() -> Any:
    actor = auth_web.current_actor()
    actor.require("contact.create")  # a panel of the intake form (workstation)
    phone = (request.args.get("caller_phone") or "").strip()[:24]
    if not phone or not valid_phone(phone) or not is_full_number(phone) or not actor.can("pii.view"):
        return render_template("partials/caller.html", phone="", orders=[], contacts=[], total=0)
    orders, total = service.list_orders(actor, service.OrderFilter(phone=phone), 1, 8)
    contacts, _ = intake.list_contacts(actor, phone=phone, page=1, page_size=8)
    return render_template(
        "partials/caller.html",
        phone=phone,
        orders=[present.order_summary(o, actor) for o in orders],
        total=total,
        contacts=contacts,
        outcomes=CONTACT_OUTCOMES,
    )


@bp.post("/workstation/duplicates")
def workstation_duplicates() -> Any:
    """The duplicate panel for the draft: POSTed (a long complaint in a GET query string could
    exceed the request-line limit), with only the fields the finder compares."""
    actor = auth_web.current_actor()
    actor.require("contact.create")  # a panel of the intake form (workstation)
    hits = duplicates.likely_duplicates(actor, duplicates.Draft.from_form(request.form))
    return render_template("partials/duplicates.html", hits=hits)


@bp.post("/workstation/suggest")
def workstation_suggest() -> Any:
    """The suggestion panel (自动归类建议) for the draft's title and content, refreshed as the agent types."""
    auth_web.current_actor().require("contact.create")
    title = (request.form.get("title") or "")[:100]
    content = (request.form.get("content") or "")[:5000]
    fields = {name: request.form.get(name, "") for name in text_service.EVIDENCE_FIELDS}
    found = None
    if title.strip() or content.strip():
        found = text_service.suggest_categories(title, content, fields=fields)
    return render_template("partials/suggest.html", s=found)


# ---- queues ---------------------------------------------------------------------------------------


def queue_tabs(actor: auth.Actor) -> list[str]:
    for role in actor.roles:
        if role in ROLE_QUEUES:
            return ROLE_QUEUES[role]
    return [q for q in service.QUEUES if q not in ("mine", "unit_inbox")]


def build_filter(args: Any, queue: str | None, actor: auth.Actor) -> service.OrderFilter:
    q = (args.get("q") or "").strip()[:100]
    phone = None
    if q and actor.can("pii.view") and q.replace("-", "").isdigit() and is_full_number(q):
        phone, q = q, ""  # a whole caller number, for roles that may search by it
    deadline = args.get("deadline") or ""
    return service.OrderFilter(
        queue=queue,
        q=q or None,
        phone=phone,
        state=[s for s in args.getlist("state") if s] or None,
        business_type=args.get("business_type") or None,
        domain=args.get("domain") or None,
        region_code=args.get("region_code") or None,
        accepted_from=_date_arg("from"),
        accepted_to=_date_arg("to", end=True),
        overdue=True if deadline == "overdue" else (False if deadline == "ontime" else None),
    )


@bp.get("/queues")
def queues() -> Any:
    actor = auth_web.current_actor()
    if not actor.can("order.view_own"):  # an own-orders scope sees the queues filtered to its orders
        actor.require("order.view_all")
    tabs = queue_tabs(actor)
    queue = request.args.get("queue", "")
    page = _page_arg()
    flt = build_filter(request.args, queue or None, actor)
    orders, total = service.list_orders(actor, flt, page, PAGE_SIZE)
    counts = dict(cached_queue_counts(actor, tabs))
    if queue in counts and not (set(request.args) - {"queue", "page"}):
        counts[queue] = total  # the open tab's badge always agrees with its list
    now = clock.now()
    rows = [(o, deadline_state(o, now)) for o in orders]
    ctx = {
        "tabs": tabs,
        "queue": queue,
        "queue_names": service.QUEUES,
        "counts": counts,
        "rows": rows,
        "pages": _pages(page, total, PAGE_SIZE),
        "args": request.args,
        "types": catalog.business_types(),
        "domains": catalog.domains(),
        "state_names": {s: lbl for s, (lbl, _) in states.STATES.items()},
        "regions": pickers.node_regions(),
        "can_archive": queue == "to_archive" and actor.can("order.archive"),
        "here": request.full_path.rstrip("?"),
    }
    template = (
        "partials/queue_table.html"
        if is_htmx() and request.headers.get("HX-Target") == "queue-table"
        else "queues.html"
    )
    return render_template(template, **ctx)


TAB_COUNT_SECONDS = 15.0
_tab_counts: dict[tuple[Any, ...], tuple[float, dict[str, int]]] = {}


def cached_queue_counts(actor: auth.Actor, tabs: list[str]) -> dict[str, int]:
    """Tab sizes refreshed at most every TAB_COUNT_SECONDS per user: COUNTs over 100 k rows cost
    tens of ms on PostgreSQL, and a tab badge a few seconds old is fine (the lists are always live)."""
    key = (actor.user_id, actor.username, actor.unit_id, tuple(tabs))
    hit = _tab_counts.get(key)
    if hit and time.monotonic() - hit[0] < TAB_COUNT_SECONDS:
        return hit[1]
    counts = service.count_queues(actor, tabs)
    if len(_tab_counts) > 5000:
        _tab_counts.clear()
    _tab_counts[key] = (time.monotonic(), counts)
    return counts


# ---- order detail and actions -------------------------------------------------------------------


def _detail_context(actor: auth.Actor, number: str) -> dict[str, Any]:
    order = service.get_order(actor, number)
    detail = present.order_detail(order, actor)
    events = [present.event(e, actor) for e in service.events(order)]
    actions = {a["action"]: a for a in detail["actions"]}
    pending_ext = service.pending_extension(order)
    pending_return = service.pending_return(order)
    if pending_ext is None:
        actions.pop("decide_extension", None)
    if "archive" in actions and (hold := followup.archive_hold(order)) is not None:
        actions["archive"] = {**actions["archive"], "held": hold}  # shown disabled with the reason
    my_assignment = None
    if actor.unit_id is not None:
        unit = _unit(actor.unit_id)
        my_assignment = next(
            (a for a in detail["assignments"] if a["active"] and unit and a["unit"] == unit.code), None
        )
    units = pickers.units()
    similar: list[duplicates.Hit] = []
    if "merge" in actions:
        draft = duplicates.Draft(
            caller_phone="",
            respondent_plate=order.respondent_plate,
            respondent_name=order.respondent_name,
            region_code=order.region_code,
            domain=order.domain,
            sub_business=order.sub_business,
            content=order.content,
        )
        similar = [h for h in duplicates.likely_duplicates(actor, draft) if h.number != order.number]
    return {
        "order": order,
        "d": detail,
        "rel": present.related(order, actor),
        "routing": routing.suggest(order) if "dispatch" in actions else None,
        "attachments": attachments.of_order(actor, order.number),
        "may_call": service.may_call(actor, order),
        "events": events,
        "actions": actions,
        "deadline": deadline_state(order, clock.now()),
        "pending_ext": pending_ext,
        "pending_return": pending_return,
        "my_assignment": my_assignment,
        "similar": similar,
        "units": units,
        "return_reasons": catalog.reasons("return"),
        "reject_reasons": catalog.reasons("reject"),
        "types": catalog.business_types(),
        "categories": pickers.categories(),
        "regions": pickers.node_regions(),
        "satisfaction": SATISFACTION,
        "callback_methods": CALLBACK_METHODS,
        "public_rating": {
            "result": SATISFACTION.get(order.public_result_satisfaction, ""),
            "service": SATISFACTION.get(order.public_service_satisfaction, ""),
        },
        "region_name": catalog.region_name(order.region_code),
        "unit_names": {u["code"]: u["label"] for u in units},
        "open_action": "",
        "form": {},
        "action_error": "",
    }


def _unit(unit_id: int) -> Unit | None:
    return Unit.get_or_none(Unit.id == unit_id)


@bp.get("/orders/<number>")
def order_detail(number: str) -> Any:
    actor = auth_web.current_actor()
    return render_template("order.html", **_detail_context(actor, number))


@bp.post("/orders/<number>/phone")
def order_phone(number: str) -> Any:
    """显示完整号码: one click (htmx) for those who must call the citizen; audited."""
    actor = auth_web.current_actor()
    phones = service.reveal_phones(actor, number)
    return render_template("partials/phone_reveal.html", phones=phones, number=number)


@bp.post("/orders/<number>/act/<action>")
def order_action(number: str, action: str) -> Any:
    actor = auth_web.current_actor()
    transition = states.TRANSITIONS.get(action)
    request.max_content_length = attachments.max_request_bytes()
    body = action_forms.body_from_form(action, request.form)
    kind = attachments.ACTION_KINDS.get(action)
    items = attachments.uploads(request.files) if kind else []
    try:
        if items:
            assert kind is not None
            attachments.precheck(kind, items)
        order = service.perform(actor, number, action, body)
        if items:
            assert kind is not None
            attachments.attach(actor, kind, number, items)
    except (ValidationError, Conflict) as exc:
        # Reopen the dialog with the agent's input and the message.
        ctx = _detail_context(actor, number)
        ctx.update(open_action=action, form=request.form, action_error=exc.message)
        return render_template("order.html", **ctx), exc.status
    label = transition.label if transition else action
    flash(f"已{label}：工单 {order.number}，当前状态“{states.label(order.state)}”", "ok")
    target = safe_next(request.form.get("next"), url_for("web.order_detail", number=number))
    return redirect(target)


# ---- handling-unit desk ---------------------------------------------------------------------------

UNIT_TABS = {
    "inbox": "待办（待签收 / 办理中）",
    "returned": "已退回待确认",
    "replied": "已回复",
    "all": "全部",
}


URGED_FILTERS = {"": "全部", "any": "有催办/督办", "unread": "有未读催办/督办"}


@bp.get("/unit")
def unit_desk() -> Any:
    actor = auth_web.current_actor()
    actor.require("order.view_unit")
    if actor.unit_id is None:
        raise ValidationError("当前用户不属于任何承办单位")
    tab = request.args.get("tab", "inbox")
    if tab not in UNIT_TABS:
        tab = "inbox"
    page = _page_arg()
    base = build_filter(request.args, "unit_inbox" if tab == "inbox" else None, actor)
    if tab == "returned":
        base.state = ["return_requested"]
    elif tab == "replied":
        base.state = ["replied", "reviewed", "closed", "visited", "archived"]
    urged = request.args.get("urged", "")
    if urged in URGED_FILTERS and urged:
        sub = supervision.urged_orders(actor.unit_id, actor.user_id if urged == "unread" else None)
        base.extra = (WorkOrder.id.in_(sub),)
    if request.args.get("sort") == "urged":
        base.order_first = supervision.latest_urge_order(actor.unit_id)
    orders, total = service.list_orders(actor, base, page, PAGE_SIZE)
    now = clock.now()
    unit = _unit(actor.unit_id)
    mine: dict[int, Assignment] = {}
    for a in (
        Assignment.select()
        .where(
            Assignment.order.in_([o.id for o in orders]),
            Assignment.unit == actor.unit_id,
            Assignment.active == True,  # noqa: E712
        )
        .order_by(Assignment.role.desc(), Assignment.id)
    ):
        mine.setdefault(a.order_id, a)
    rows = [(o, deadline_state(o, now), mine.get(o.id)) for o in orders]
    urges = supervision.desk_urges(actor.unit_id, orders, actor.user_id)
    counts = {"inbox": service.count_queues(actor, ["unit_inbox"])["unit_inbox"]}
    unsigned = sum(1 for _, _, a in rows if a is not None and a.signed_at is None)
    return render_template(
        "unit.html",
        rows=rows,
        tab=tab,
        tabs=UNIT_TABS,
        pages=_pages(page, total, PAGE_SIZE),
        args=request.args,
        counts=counts,
        unsigned=unsigned,
        urges=urges,
        urged_filters=URGED_FILTERS,
        unit_name=unit.name if unit else "",
    )
