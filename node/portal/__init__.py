"""Public side of the node (公众服务): the web portal for citizens and the Open311 GeoReport v2 API."""
