"""Staff screens (坐席工作台, 工单队列与详情, 承办单位工作台, 登录与导航): server-rendered Flask/Jinja
pages with htmx partials. Views are thin: they parse forms, call the domain services, render."""
