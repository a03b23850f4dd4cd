"""Server push (实时推送): one event stream per open page for screen-pops, the phone bar, the
wallboard and notification badges, served by the web process's asyncio loop (no thread per page)."""
