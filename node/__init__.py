"""12328 交通运输服务监督热线 node: one Python application deployed per administrative level."""

__version__ = "0.1.0"
