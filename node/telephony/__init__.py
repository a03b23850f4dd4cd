"""Telephony (电话系统): the call engine process, IVR, ACD queue, recordings, ratings and live line state.

A node answers calls with a pool of PJSUA2 engine processes behind Kamailio (registrar for agents'
softphones and dispatcher to the engines). Engines write normalized call events to the node
database; the web reads them for screen-pop, the wallboard and Prometheus metrics.
"""
